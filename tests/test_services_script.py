"""scripts/services.sh keeps a PostgreSQL cluster usable when its state dir is made again.

When the project sits under a private directory, the cluster lives in the postgres account's
home, keyed by the state dir's path; a fresh checkout at the same path (a CI clone, a re-clone)
would bring a new secrets.env. The script keeps a copy of secrets.env beside the cluster, which
scripts/env.sh takes over for the new state dir (the metadata DB is encrypted with its Fernet
key); a cluster kept by an older version, without that copy, is taken over with the new password
instead of refusing every login.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

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


def _env(tmp_path) -> dict:
    env = {**os.environ, "TA_STATE_DIR": str(tmp_path / "state"), "TA_PG_PORT": str(free_port()),
           "TA_SKIP_DOTENV": "1", "TA_ENV": "local"}
    for key in ("PGPASSWORD", "TA_PG_PASSWORD", "AIRFLOW__CORE__FERNET_KEY"):
        env.pop(key, None)
    return env


def _made_again(env: dict, *, keep_secrets: bool) -> tuple[str, str]:
    """Start the cluster, stop it, make the state dir again at the same path (the cluster,
    outside it, stays) and start it again: the secrets.env before and after."""
    state = Path(env["TA_STATE_DIR"])
    started = _run(env, "start", "postgres")
    assert started.returncode == 0, started.stderr
    first = (state / "secrets.env").read_text()
    assert _login(env).stdout.strip() == "1"
    assert _run(env, "stop", "postgres").returncode == 0
    shutil.rmtree(state)
    if not keep_secrets:  # a cluster kept by a version that kept no secrets beside it
        os.unlink(_kept(state) + ".secrets.env")
    again = _run(env, "start", "postgres")
    assert again.returncode == 0, again.stderr
    login = _login(env)
    assert (login.returncode, login.stdout.strip()) == (0, "1"), login.stderr
    return first, (state / "secrets.env").read_text()


def test_a_state_dir_made_again_takes_over_the_secrets_kept_beside_its_cluster(tmp_path):
    """The metadata DB's connections are encrypted with the Fernet key of the secrets.env that
    made them: a re-clone at the same path must decrypt them, so it gets the same secrets."""
    env = _env(tmp_path)
    try:
        first, again = _made_again(env, keep_secrets=True)
        assert again == first
        assert "AIRFLOW__CORE__FERNET_KEY=" in again
    finally:
        _run(env, "stop", "postgres")
        _remove_cluster_kept_outside(Path(env["TA_STATE_DIR"]))


def test_a_cluster_that_outlived_its_secrets_file_is_taken_over(tmp_path):
    env = _env(tmp_path)
    try:
        first, again = _made_again(env, keep_secrets=False)
        assert again != first  # new secrets, and the cluster now takes the new password
    finally:
        _run(env, "stop", "postgres")
        _remove_cluster_kept_outside(Path(env["TA_STATE_DIR"]))


def _kept(state) -> str:
    """Where the script keeps this state dir's cluster in the postgres account's home."""
    home = pwd.getpwnam("postgres").pw_dir
    return os.path.join(home, "ta-scheduler", hashlib.sha256(str(state).encode()).hexdigest()[:12])


def _remove_cluster_kept_outside(state) -> None:
    """The cluster the script kept in the postgres account's home for this state dir, if any."""
    try:
        kept = _kept(state)
    except KeyError:
        return
    shutil.rmtree(kept, ignore_errors=True)
    for leftover in (".log", ".secrets.env"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(kept + leftover)
