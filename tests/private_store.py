"""A FerretDB instance of its own for tests that stop, kill or restart the store.

The binary is the one ``scripts/services.sh`` builds (the same FerretDB as the shared test
store), on the same backend: a PostgreSQL database of its own on the local server, with the
store's indexes (``scripts/ferretdb/postgresql-indexes.sql``), dropped when the test session's
process ends; or, with ``backend="sqlite"``, a temporary directory (a store made by an older
version). The port is free, and only this process is ever signalled — the shared store is never
touched.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from fakes import free_port
from paths import PROJECT_DIR


def ferretdb_binary() -> str:
    """Path of the FerretDB binary (built on first use, like ``make services`` does)."""
    res = subprocess.run([str(PROJECT_DIR / "scripts" / "services.sh"), "build-ferretdb"], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.strip().splitlines()[-1]


def _pg(sql: str, database: str = "postgres", file: Path | None = None) -> None:
    cmd = ["psql", "-h", "127.0.0.1", "-p", os.environ["TA_PG_PORT"], "-U", "airflow", "-d", database, "-qtAX",
           "-v", "ON_ERROR_STOP=1", *(["-f", str(file)] if file else ["-c", sql])]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PGPASSWORD": os.environ["TA_PG_PASSWORD"],
                              "PGOPTIONS": "-c client_min_messages=warning"})
    assert res.returncode == 0, res.stderr


class PrivateFerretDB:
    def __init__(self, workdir: Path, backend: str = "postgresql"):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.backend = backend
        self.pg_database = f"ta_private_store_{os.getpid()}_{free_port()}"
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None
        self._binary = ferretdb_binary()
        if backend == "postgresql":
            _pg(f'CREATE DATABASE "{self.pg_database}"')
            _pg("", self.pg_database, PROJECT_DIR / "scripts" / "ferretdb" / "postgresql-indexes.sql")
            atexit.register(_pg, f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')

    def _args(self) -> list[str]:
        if self.backend == "sqlite":
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return ["-handler", "sqlite", "-sqlite-url", f"file:{self.data_dir}/"]
        url = f"postgres://airflow:{os.environ['TA_PG_PASSWORD']}@127.0.0.1:{os.environ['TA_PG_PORT']}/{self.pg_database}"
        return ["-handler", "postgresql", "-postgresql-url", url]

    def start(self, timeout: float = 30) -> PrivateFerretDB:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "ferretdb.log", "ab")
        self.proc = subprocess.Popen(
            [self._binary, "-listen", f"127.0.0.1:{self.port}", *self._args()],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "ferretdb.log").read_text(errors="replace")[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"private FerretDB did not listen on {self.port} within {timeout} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop the store abruptly (a crash), or gracefully with SIGTERM."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def __enter__(self) -> PrivateFerretDB:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill(signal.SIGTERM)
