"""The Airflow CLI as tests run it: through ``scripts/airflow`` (the project's settings), or the
same command in a fork of a warm interpreter (``tests/warm_airflow.py``)."""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from paths import PROJECT_DIR

AIRFLOW = str(PROJECT_DIR / "scripts" / "airflow")

#: what Airflow reads when it is imported: a command whose values differ from the warm server's
#: runs in a process of its own
IMPORT_TIME = ("AIRFLOW__", "AIRFLOW_HOME", "AIRFLOW_CONFIG", "PYTHONPATH")


def wrapper_env(env: dict[str, str]) -> dict[str, str]:
    """The environment ``scripts/airflow`` gives the CLI when started with ``env`` (its
    ``scripts/env.sh``; a pytest-xdist worker's own databases among them); services and the
    metadata DB are ready in a test session."""
    out = subprocess.run(["bash", "-c", '. "$0/scripts/env.sh" >/dev/null && env -0', str(PROJECT_DIR)],
                         env=env, capture_output=True, check=True, timeout=60).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def _import_time(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME)}


class WarmAirflow:
    """One ``tests/warm_airflow.py`` server for this pytest process, started at its first
    command in this process's environment (as ``scripts/airflow`` gives it); it runs one
    command at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    def _start(self, env: dict[str, str]) -> None:
        log = open(Path(tempfile.gettempdir()) / f"warm-airflow-{os.getpid()}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("warm_airflow.py"))],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     text=True, bufsize=1)
        self.env = env
        ready = self.reply(300)
        assert "ready" in ready, ready
        atexit.register(self.stop)

    def reply(self, timeout: float | None) -> dict:
        """The server's next reply; TimeoutError when none comes within ``timeout`` seconds."""
        if timeout is not None and not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise TimeoutError
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm Airflow server exited ({self.proc.wait()}); see its log in {tempfile.gettempdir()}")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def start(self, argv: list[str], stdout: Path, stderr: Path, env: dict[str, str] | None = None):
        """``airflow <argv>`` started with ``env`` (default: this process's environment) as
        ``scripts/airflow`` would run it, its output appended to ``stdout`` and ``stderr`` (which
        may be one file): a :class:`WarmRun`, or a ``subprocess.Popen`` of ``scripts/airflow``
        when the command's Airflow configuration is not the server's."""
        env = dict(os.environ if env is None else env)
        full_env = wrapper_env(env)
        for path in {stdout, stderr}:
            Path(path).write_bytes(b"")
        self.lock.acquire()
        try:
            if self.proc is None or self.proc.poll() is not None:
                self._start(wrapper_env(dict(os.environ)))
            if _import_time(full_env) != _import_time(self.env):
                self.lock.release()
                return subprocess.Popen([AIRFLOW, *argv], env=env, stdout=open(stdout, "ab"), stderr=open(stderr, "ab"))
            self.proc.stdin.write(json.dumps({"argv": argv, "env": full_env, "cwd": os.getcwd(),
                                              "stdout": str(stdout), "stderr": str(stderr)}) + "\n")
            return WarmRun(self, ["airflow", *argv], self.reply(60)["pid"])
        except BaseException:
            if self.lock.locked():
                self.lock.release()
            raise


class WarmRun:
    """A command running in the warm server's child, used like ``subprocess.Popen``."""

    def __init__(self, server: WarmAirflow, args: list[str], pid: int) -> None:
        self.server, self.args, self.pid = server, args, pid
        self.returncode: int | None = None

    def _finish(self, timeout: float | None) -> int:
        if self.returncode is None:
            self.returncode = self.server.reply(timeout)["returncode"]
            self.server.lock.release()
        return self.returncode

    def poll(self) -> int | None:
        try:
            return self._finish(0) if self.returncode is None else self.returncode
        except TimeoutError:
            return None

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self._finish(timeout)
        except TimeoutError:
            raise subprocess.TimeoutExpired(self.args, timeout) from None

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._finish(60)


_WARM = WarmAirflow()


def warm_airflow(argv: list[str], stdout: Path, stderr: Path | None = None, env: dict[str, str] | None = None):
    """``airflow <argv>`` started by this process's warm CLI, used like ``subprocess.Popen``
    (output appended to ``stdout``, and to ``stderr`` or the same file)."""
    return _WARM.start(argv, stdout, stderr or stdout, env)


def dags_test_args(dag_id: str, logical_date: str | None, conf: dict | None = None) -> list[str]:
    """``dags test <dag_id> [<logical_date>] [-c conf]``; its DAG file named (``-B dags-folder
    -f dags/<dag_id>.py``), so only that file is parsed before the run (``dags test`` syncs the
    whole folder to the metadata DB anyway)."""
    argv = ["dags", "test", dag_id, *([logical_date] if logical_date else []), "-B", "dags-folder",
            "-f", str(Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", PROJECT_DIR / "dags")) / f"{dag_id}.py")]
    return argv + (["-c", json.dumps(conf)] if conf else [])


def dags_test(dag_id: str, logical_date: str | None, conf: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """``airflow dags test <dag_id> [<logical_date>] [-c conf]`` by the warm CLI, output captured
    (no logical date: a run without one, as ``airflow dags trigger`` without ``-e`` makes)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        proc = warm_airflow(dags_test_args(dag_id, logical_date, conf), out, err)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise subprocess.TimeoutExpired(proc.args, timeout, out.read_text(errors="replace"),
                                            err.read_text(errors="replace")) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))
