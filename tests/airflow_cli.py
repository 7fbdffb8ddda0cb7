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


def _wrapper_env(env: dict[str, str]) -> dict[str, str]:
    """The environment ``scripts/airflow`` gives the CLI when started with ``env`` (its
    ``scripts/env.sh``); services and the metadata DB are ready in a test session."""
    out = subprocess.run(["bash", "-c", '. "$0/scripts/env.sh" >/dev/null && env -0', str(PROJECT_DIR)],
                         env=env, capture_output=True, check=True, timeout=60).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def _import_time(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME)}


class WarmAirflow:
    """One ``tests/warm_airflow.py`` server for this pytest process, started at its first command."""

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
        ready = self._reply(300)
        assert "ready" in ready, ready
        atexit.register(self.stop)

    def _reply(self, timeout: float | None) -> dict:
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

    def run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        env = _wrapper_env(dict(os.environ))
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start(env)
            elif _import_time(env) != _import_time(self.env):
                return subprocess.run([AIRFLOW, *argv], capture_output=True, text=True, timeout=timeout)
            with tempfile.TemporaryDirectory() as tmp:
                out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
                self.proc.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": os.getcwd(), "stdout": out, "stderr": err}) + "\n")
                pid = self._reply(60)["pid"]
                try:
                    code = self._reply(timeout)["returncode"]
                except TimeoutError:
                    os.killpg(pid, signal.SIGKILL)
                    self._reply(60)
                    raise subprocess.TimeoutExpired(["airflow", *argv], timeout, Path(out).read_text(errors="replace"),
                                                    Path(err).read_text(errors="replace")) from None
                return subprocess.CompletedProcess(["airflow", *argv], code, Path(out).read_text(errors="replace"),
                                                   Path(err).read_text(errors="replace"))


_WARM = WarmAirflow()


def dags_test(dag_id: str, logical_date: str | None, conf: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """``airflow dags test <dag_id> [<logical_date>] [-c conf]``, output captured (no logical
    date: a run without one, as ``airflow dags trigger`` without ``-e`` makes), run by the warm
    CLI. Its DAG file is named (``-B dags-folder -f dags/<dag_id>.py``), so only that file is
    parsed before the run (``dags test`` syncs the whole folder to the metadata DB anyway)."""
    argv = ["dags", "test", dag_id, *([logical_date] if logical_date else []), "-B", "dags-folder",
            "-f", str(Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", PROJECT_DIR / "dags")) / f"{dag_id}.py")]
    if conf:
        argv += ["-c", json.dumps(conf)]
    return _WARM.run(argv, timeout)
