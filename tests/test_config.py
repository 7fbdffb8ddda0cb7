"""The one configuration surface (``ta_scheduler.config``): the only reader of the environment and
of Airflow Variables, one order for every setting, every knob documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ta_scheduler import config
from ta_scheduler.config import KNOBS, ConfigError, knob_table, setting, setting_int, setting_with_origin

PROJECT_DIR = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT_DIR / "include" / "ta_scheduler"


def _environment_reads(path: Path, root: Path = PROJECT_DIR) -> list[str]:
    """``os.environ``/``os.getenv``/``environ`` imports and ``Variable.get`` calls in one module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            found.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                a.name in ("environ", "getenv", "environb") for a in node.names):
            found.append((node.lineno, "from os import ..."))
        elif (isinstance(node, ast.Attribute) and node.attr == "get" and isinstance(node.value, ast.Name)
              and node.value.id == "Variable"):
            found.append((node.lineno, "Variable.get"))
    return [f"{path.relative_to(root)}:{line}: {what}" for line, what in sorted(found)]


def test_only_config_reads_the_environment_or_airflow_variables():
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p != PACKAGE / "config.py"]
    assert len(modules) > 50
    assert [hit for p in modules for hit in _environment_reads(p)] == []
    dags = sorted((PROJECT_DIR / "dags").glob("*.py"))
    assert [hit for p in dags for hit in _environment_reads(p)] == []


def test_the_guard_sees_each_kind_of_read(tmp_path):
    (PACKAGE_LIKE := tmp_path / "m.py").write_text(
        "import os\nfrom os import getenv\nfrom airflow.sdk import Variable\n"
        "a = os.environ.get('X')\nb = os.getenv('Y')\nc = Variable.get('z')\n")
    assert _environment_reads(PACKAGE_LIKE, tmp_path) == [
        "m.py:2: from os import ...", "m.py:4: os.environ", "m.py:5: os.getenv", "m.py:6: Variable.get"]


def test_readme_lists_every_knob_as_the_settings_object_defines_it():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert knob_table() in readme, "README's knob table is stale: paste `python -m ta_scheduler.config`"


def test_every_setting_named_in_include_is_a_knob():
    named = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("setting")
                    or isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "state_path"):
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    named.add(node.args[0].value)
    assert named - set(KNOBS) == set()
    assert {"TA_STATE_DIR", "TA_BACKUP_KEEP", "TA_DEMO_STOCKS"} <= named


def test_variable_wins_over_the_environment_which_wins_over_the_default(monkeypatch):
    for var in ("TA_BACKUP_KEEP", "TA_RETENTION_DAYS", "AIRFLOW_VAR_TA_RETENTION_DAYS"):
        monkeypatch.delenv(var, raising=False)
    assert setting_with_origin("TA_BACKUP_KEEP") == ("7", "default")
    monkeypatch.setenv("TA_BACKUP_KEEP", "3")
    assert (setting_with_origin("TA_BACKUP_KEEP"), setting_int("TA_BACKUP_KEEP")) == (("3", "env TA_BACKUP_KEEP"), 3)

    assert setting_with_origin("TA_RETENTION_DAYS") == (None, "default")
    monkeypatch.setenv("TA_RETENTION_DAYS", '{"stock_news": 10}')
    assert setting_with_origin("TA_RETENTION_DAYS") == ('{"stock_news": 10}', "env TA_RETENTION_DAYS")
    monkeypatch.setenv("AIRFLOW_VAR_TA_RETENTION_DAYS", '{"stock_news": 20}')
    assert setting_with_origin("TA_RETENTION_DAYS") == ('{"stock_news": 20}', "Airflow Variable ta_retention_days")


def test_a_malformed_number_names_the_knob_its_origin_and_unit(monkeypatch):
    monkeypatch.setenv("TA_BACKUP_KEEP", "seven")
    with pytest.raises(ConfigError, match=r"TA_BACKUP_KEEP='seven' \(env TA_BACKUP_KEEP\): expected an integer \(backups\)"):
        setting_int("TA_BACKUP_KEEP")


def test_an_unknown_knob_is_a_programming_error():
    with pytest.raises(KeyError):
        setting("TA_NO_SUCH_KNOB")


def test_one_state_directory_holds_every_location(monkeypatch, tmp_path):
    from ta_scheduler.calendar.files import calendar_dir
    from ta_scheduler.maintenance.backup import backup_root
    from ta_scheduler.reports.store import reports_dir

    for var in ("TA_CALENDAR_DIR", "TA_REPORTS_DIR", "TA_BACKUP_DIR", "TA_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    default = PROJECT_DIR / ".local"
    assert (config.state_dir(), calendar_dir(), reports_dir(), backup_root()) == (
        default, default / "calendar", default / "reports", default / "backups")
    monkeypatch.setenv("TA_STATE_DIR", str(tmp_path))
    assert (calendar_dir(), reports_dir(), backup_root()) == (tmp_path / "calendar", tmp_path / "reports", tmp_path / "backups")
    monkeypatch.setenv("TA_REPORTS_DIR", str(tmp_path / "elsewhere"))
    assert (calendar_dir(), reports_dir(), backup_root()) == (
        tmp_path / "calendar", tmp_path / "elsewhere", tmp_path / "backups")


def test_only_storage_talks_to_redis():
    """Every Redis write goes through ``storage/`` (the cache scheme and the rate limiter's counts)."""
    outside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE / "storage":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                       for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue  # type hints name redis.Redis without touching it
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "redis" for a in node.names) or (
                    isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "redis"):
                outside.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    assert outside == []


def test_the_cache_client_comes_from_the_redis_default_connection(monkeypatch):
    """``storage.cache.connect()`` builds the client with RedisHook from connection redis_default
    (airflow_settings.yaml's, in the test metadata DB); AIRFLOW_CONN_REDIS_DEFAULT overrides it."""
    import os

    import redis
    from ta_scheduler.storage.cache import connect

    monkeypatch.delenv("AIRFLOW_CONN_REDIS_DEFAULT", raising=False)
    client = connect()
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], int(kwargs["db"]), kwargs["socket_timeout"]) == (
        "127.0.0.1", int(os.environ["TA_REDIS_PORT"]), 1, 30)
    assert client.ping() is True
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", "redis://127.0.0.1:1?db=3")
    elsewhere = connect()
    assert (elsewhere.connection_pool.connection_kwargs["port"], int(elsewhere.connection_pool.connection_kwargs["db"])) == (1, 3)
    with pytest.raises(redis.ConnectionError):
        elsewhere.ping()
