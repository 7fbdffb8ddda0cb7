"""A FerretDB instance of its own for tests that stop, kill or restart the store.

The binary is the one ``scripts/services.sh`` builds (the same FerretDB as the shared test
store); the data lives in a temporary directory (SQLite backend), the port is free, and only
this process is ever signalled — the shared store is never touched.
"""

from __future__ import annotations

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


class PrivateFerretDB:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None
        self._binary = ferretdb_binary()

    def start(self, timeout: float = 30) -> PrivateFerretDB:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "ferretdb.log", "ab")
        self.proc = subprocess.Popen(
            [self._binary, "-listen", f"127.0.0.1:{self.port}", "-handler", "sqlite", "-sqlite-url", f"file:{self.data_dir}/"],
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
