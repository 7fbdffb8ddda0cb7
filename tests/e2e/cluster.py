"""A real CeleryExecutor deployment for end-to-end tests, started and stopped by PID.

api-server, scheduler, dag-processor, triggerer and one Celery worker per queue, on the test
metadata DB (PostgreSQL), Redis broker and the store. The DAG folder is a temporary directory
holding the project's DAG files (symlinked) plus test-only DAGs from ``tests/e2e/dags``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from fakes import free_port
from paths import DAGS_DIR, PROJECT_DIR
from ta_scheduler.constants import Queues

E2E_DAGS = Path(__file__).resolve().parent / "dags"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """The first truthy value ``predicate()`` returns, polled; AssertionError naming ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what}")


class Cluster:
    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.dags_dir = workdir / "dags"
        self.log_dir = workdir / "logs"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_dir),
                "TA_API_PORT": str(self.port),
                # this environment already holds the project .env's values (scripts/env.sh ran for
                # pytest); re-reading .env in each component would put back its TA_API_PORT and
                # point the workers' Execution API at a port this cluster does not serve
                "TA_SKIP_DOTENV": "1",
                "AIRFLOW__API__BASE_URL": self.base,
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                **(extra_env or {}),
            }
        )
        self._token: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.dags_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for src in [*DAGS_DIR.glob("*.py"), *E2E_DAGS.glob("*.py")]:
            (self.dags_dir / src.name).symlink_to(src)
        airflow = str(PROJECT_DIR / "scripts" / "airflow")
        res = subprocess.run([airflow, "dags", "reserialize"], env=self.env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        self._spawn("api-server", ["api-server", "--port", str(self.port), "--workers", "1"])
        self._spawn("scheduler", ["scheduler"])
        self._spawn("dag-processor", ["dag-processor"])
        self._spawn("triggerer", ["triggerer"])
        for q in Queues.ALL:
            self._spawn(f"worker-{q}", ["celery", "worker", "--queues", q, "--celery-hostname", f"{q}@e2e",
                                        "--concurrency", "2", "--skip-serve-logs"], {"TA_WORKER_QUEUE": q})
        self.wait_http("/api/v2/monitor/health", 180)

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [str(PROJECT_DIR / "scripts" / "airflow"), *args],
            env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        """Stop every process group this cluster started (and nothing else): SIGTERM, and SIGKILL
        after 10 s (a Celery worker's warm shutdown waits for the task it runs, which may be one
        of the deployment's own scheduled runs; nothing is checked after the stop)."""
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def logs(self, name: str, tail: int = 4000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    # -- REST API ----------------------------------------------------------------------------------
    def wait_http(self, path: str, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited early:\n{self.logs(name)}"
            try:
                urllib.request.urlopen(self.base + path, timeout=2).read()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        raise AssertionError(f"{path} did not answer in {timeout} s:\n{self.logs('api-server')}")

    def token(self) -> str:
        if self._token is None:
            pw_file = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
            password = json.loads(pw_file.read_text())["admin"]
            status, body = self.request("POST", "/auth/token", {"username": "admin", "password": password}, auth=False)
            assert status == 201, body
            self._token = body["access_token"]
        return self._token

    def request(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        """(status, parsed JSON body) of one call; HTTP errors are returned, not raised."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def wait_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.request("GET", f"/api/v2/dags/{dag_id}")
            if status == 200:
                return
            time.sleep(1)
        raise AssertionError(f"DAG {dag_id} not known to the API after {timeout} s")

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None):
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}})

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.time() + timeout
        state = None
        while time.time() < deadline:
            status, body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            state = body.get("state") if status == 200 else None
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise AssertionError(f"{dag_id} {run_id} still {state} after {timeout} s\n"
                             + "\n".join(f"--- {n}\n{self.logs(n, 1500)}" for n in self.procs))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        status, body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        assert status == 200, body
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def wait_task_state(self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 180) -> dict:
        """The task instance once its state is one of ``states``."""
        return wait_until(lambda: (ti := self.task_instances(dag_id, run_id)[task_id])["state"] in states and ti,
                          timeout, f"{dag_id}.{task_id} {run_id} in {sorted(states)}", interval=0.5)

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        status, body = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        )
        assert status == 200, body
        return body["value"]
