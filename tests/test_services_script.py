"""scripts/services.sh keeps a PostgreSQL cluster usable when its state dir is made again.

When the project sits under a private directory, the cluster lives in the postgres account's
home, keyed by the state dir's path; a fresh checkout at the same path (a CI clone, a re-clone)
brings a new secrets.env with a new password. The script must take the old cluster over and set
the new password, not refuse every login.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import subprocess

from fakes import free_port
from paths import PROJECT_DIR

SCRIPT = str(PROJECT_DIR / "scripts" / "services.sh")


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=180)


def _login(env: dict) -> subprocess.CompletedProcess:
    """A password login over TCP with the password in the state dir's current secrets.env."""
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    cmd = f'. "{PROJECT_DIR}/scripts/env.sh" && {psql} -h 127.0.0.1 -p "$TA_PG_PORT" -U airflow -d postgres -qtAX -c "SELECT 1"'
    return subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=60)


def test_a_cluster_that_outlived_its_secrets_file_is_taken_over(tmp_path):
    state = tmp_path / "state"
    env = {**os.environ, "TA_STATE_DIR": str(state), "TA_PG_PORT": str(free_port()), "TA_SKIP_DOTENV": "1", "TA_ENV": "local"}
    for key in ("PGPASSWORD", "TA_PG_PASSWORD"):
        env.pop(key, None)
    try:
        started = _run(env, "start", "postgres")
        assert started.returncode == 0, started.stderr
        first = (state / "secrets.env").read_text()
        assert _login(env).stdout.strip() == "1"
        assert _run(env, "stop", "postgres").returncode == 0

        # The state dir is made again at the same path: the cluster (outside it) is not.
        shutil.rmtree(state)
        again = _run(env, "start", "postgres")
        assert again.returncode == 0, again.stderr
        assert (state / "secrets.env").read_text() != first
        login = _login(env)
        assert (login.returncode, login.stdout.strip()) == (0, "1"), login.stderr
    finally:
        _run(env, "stop", "postgres")
        _remove_cluster_kept_outside(state)


def _remove_cluster_kept_outside(state) -> None:
    """The cluster the script kept in the postgres account's home for this state dir, if any."""
    try:
        home = pwd.getpwnam("postgres").pw_dir
    except KeyError:
        return
    key = hashlib.sha256(str(state).encode()).hexdigest()[:12]
    shutil.rmtree(os.path.join(home, "ta-scheduler", key), ignore_errors=True)
    for leftover in (f"{key}.log",):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(home, "ta-scheduler", leftover))
