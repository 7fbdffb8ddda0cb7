"""airflow_settings.yaml is applied idempotently and keeps what the file does not set."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from paths import PROJECT_DIR
from ta_scheduler.settings_loader import SettingsError, expand_env, load_settings


def run_loader(path, *args):
    return subprocess.run([sys.executable, "-m", "ta_scheduler.settings_loader", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def test_project_settings_parse():
    s = load_settings(PROJECT_DIR / "airflow_settings.yaml")
    assert {c["conn_id"] for c in s["connections"]} >= {"mongo_default", "redis_default", "airflow_metadata_db"}
    assert {p["pool_name"] for p in s["pools"]} >= {"tushare_api", "llm_dashscope", "llm_deepseek"}


def test_env_expansion(monkeypatch):
    monkeypatch.setenv("TA_X", "42")
    assert expand_env({"a": ["${TA_X}", "${TA_NOPE:-7}"]}) == {"a": ["42", "7"]}
    monkeypatch.delenv("TA_NOPE", raising=False)
    with pytest.raises(SettingsError, match="TA_NOPE"):
        expand_env("${TA_NOPE}")


def test_apply_twice_changes_nothing_the_second_time_and_keeps_what_the_file_does_not_set(tmp_path):
    suffix = uuid.uuid4().hex[:8]
    conn_id, pool, var = f"t_conn_{suffix}", f"t_pool_{suffix}", f"t_var_{suffix}"
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"""
airflow:
  connections:
    - conn_id: {conn_id}
      conn_type: http
      conn_host: example.invalid
      conn_extra: {{timeout: 5}}
  pools:
    - pool_name: {pool}
      pool_slot: 3
      pool_description: test pool
  variables:
    - variable_name: {var}
      variable_value: hello
"""
    )
    first = run_loader(path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 3
    # an operator sets a password in the UI; the file has none: it must survive re-applying
    from airflow.models.connection import Connection  # the ORM row, as the UI edits it
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == conn_id).one()
        conn.set_password("s3cret-value")
        conn.login = "ops"
    second = run_loader(path)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stdout + second.stderr
    airflow = str(PROJECT_DIR / "scripts" / "airflow")
    got = subprocess.run([airflow, "connections", "get", conn_id, "-o", "json"], capture_output=True, text=True, timeout=120)
    assert json.loads(got.stdout.strip().splitlines()[-1])[0]["password"] == "s3cret-value"
    path.write_text(path.read_text().replace("pool_slot: 3", "pool_slot: 5").replace("example.invalid", "other.invalid")
                    .replace("value: hello", "value: bye"))
    changes = [f"connection {conn_id}: updated host", f"pool {pool}: updated (5 slots)", f"variable {var}: updated"]
    dry = run_loader(path, "--dry-run")  # changes nothing: the real run below finds the same changes
    assert [line for line in dry.stdout.splitlines() if line.startswith("settings:")] == [
        f"settings: would apply: {c}" for c in changes], dry.stdout + dry.stderr
    third = run_loader(path)
    assert [line for line in third.stdout.splitlines() if line.startswith("settings:")] == [
        f"settings: applied: {c}" for c in changes], third.stdout + third.stderr
    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == conn_id).one()
        assert (conn.host, conn.login, conn.password, conn.extra_dejson) == ("other.invalid", "ops", "s3cret-value", {"timeout": 5})
    got = subprocess.run([airflow, "variables", "get", var], capture_output=True, text=True, timeout=120)
    assert got.stdout.strip().splitlines()[-1] == "bye"


def test_malformed_file_is_refused_with_the_entry_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("airflow:\n  pools:\n    - pool_slot: 2\n")
    res = run_loader(path)
    assert res.returncode == 2 and "airflow.pools[0] needs a 'pool_name'" in res.stderr


def test_connections_encrypted_with_another_fernet_key_are_named_with_the_way_out():
    """A secrets.env made again beside a kept metadata DB: its connections cannot be decrypted.
    The loader says so and how to recover, instead of a bare InvalidToken traceback."""
    import base64
    import os

    other_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    res = subprocess.run([sys.executable, "-m", "ta_scheduler.settings_loader", str(PROJECT_DIR / "airflow_settings.yaml")],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "AIRFLOW__CORE__FERNET_KEY": other_key})
    assert res.returncode == 2, res.stderr
    assert "encrypted with another Fernet key than AIRFLOW__CORE__FERNET_KEY" in res.stderr
    db = os.environ["TA_METADATA_DB"]
    assert f'DROP DATABASE "{db}"' in res.stderr
    assert "Traceback" not in res.stderr
