"""Cleanup of the store by retention, and Airflow metadata retention through `airflow db clean`."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.retention import (
    DEFAULT_RETENTION_DAYS,
    AirflowDbCleanError,
    RetentionConfigError,
    clean_airflow_metadata,
    cleanup_collections,
    load_retention_config,
    metadata_db_conn,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)


def _seed(db):
    """Documents around each cutoff, labelled by where they sit relative to it."""
    for name, field in ((C.INTRADAY_SNAPSHOTS, "snapshot_time"), (C.STOCK_NEWS, "publish_time"),
                        (C.QUARANTINE, "quarantined_at")):
        cutoff = NOW - dt.timedelta(days=DEFAULT_RETENTION_DAYS[name])
        db[name].insert_many([
            {"label": "long_ago", field: cutoff - dt.timedelta(days=400)},
            {"label": "second_before", field: cutoff - SECOND},
            {"label": "at_cutoff", field: cutoff},
            {"label": "second_after", field: cutoff + SECOND},
            {"label": "today", field: NOW},
            {"label": "no_field"},
            {"label": "string_field", field: "2000-01-01 00:00:00"},
        ])
    ancient = NOW - dt.timedelta(days=5000)
    for name in (C.STOCK_DAILY_QUOTES, C.STOCK_FINANCIAL_DATA, C.ANALYSIS_REPORTS, C.REPORTS):
        db[name].insert_many([{"label": "ancient", "snapshot_time": ancient, "publish_time": ancient,
                               "quarantined_at": ancient, "updated_at": ancient} for _ in range(3)])


def _labels(db, name):
    return sorted(d["label"] for d in db[name].find())


def test_cleanup_deletes_exactly_what_is_older_than_each_cutoff(mongo_db):
    _seed(mongo_db)
    counts = cleanup_collections(mongo_db, now=NOW, retention=DEFAULT_RETENTION_DAYS)
    assert counts == {C.INTRADAY_SNAPSHOTS: 2, C.STOCK_NEWS: 2, C.QUARANTINE: 2}
    for name in DEFAULT_RETENTION_DAYS:
        assert _labels(mongo_db, name) == ["at_cutoff", "no_field", "second_after", "string_field", "today"]


def test_cleanup_never_touches_protected_collections(mongo_db):
    _seed(mongo_db)
    cleanup_collections(mongo_db, now=NOW, retention=DEFAULT_RETENTION_DAYS, days_to_keep=1)
    for name in (C.STOCK_DAILY_QUOTES, C.STOCK_FINANCIAL_DATA, C.ANALYSIS_REPORTS, C.REPORTS):
        assert mongo_db[name].count_documents({}) == 3


def test_dry_run_counts_but_deletes_nothing(mongo_db):
    _seed(mongo_db)
    before = {n: mongo_db[n].count_documents({}) for n in DEFAULT_RETENTION_DAYS}
    dry = cleanup_collections(mongo_db, now=NOW, retention=DEFAULT_RETENTION_DAYS, dry_run=True)
    assert {n: mongo_db[n].count_documents({}) for n in DEFAULT_RETENTION_DAYS} == before
    assert dry == cleanup_collections(mongo_db, now=NOW, retention=DEFAULT_RETENTION_DAYS)


def test_days_to_keep_overrides_every_collection(mongo_db):
    mongo_db[C.STOCK_NEWS].insert_many([{"label": "3d", "publish_time": NOW - dt.timedelta(days=3)},
                                        {"label": "1d", "publish_time": NOW - dt.timedelta(days=1)}])
    counts = cleanup_collections(mongo_db, now=NOW, retention={C.STOCK_NEWS: 180}, days_to_keep=2)
    assert counts == {C.STOCK_NEWS: 1}
    assert _labels(mongo_db, C.STOCK_NEWS) == ["1d"]


@pytest.mark.parametrize("retention", [{C.STOCK_DAILY_QUOTES: 30}, {C.REPORTS: 30}, {C.ANALYSIS_REPORTS: 5},
                                       {C.STOCK_FINANCIAL_DATA: 5}, {"unknown_things": 5}])
def test_config_naming_protected_or_unknown_collection_is_refused(mongo_db, retention):
    with pytest.raises(RetentionConfigError, match=next(iter(retention))):
        cleanup_collections(mongo_db, now=NOW, retention=retention)


@pytest.mark.parametrize("days", [0, 3651, -5, True, 2.5, "30"])
def test_days_outside_1_to_3650_are_refused(mongo_db, days):
    with pytest.raises(RetentionConfigError, match="1..3650"):
        cleanup_collections(mongo_db, now=NOW, retention={C.STOCK_NEWS: days})
    with pytest.raises(RetentionConfigError, match="1..3650"):
        cleanup_collections(mongo_db, now=NOW, retention={C.STOCK_NEWS: 30}, days_to_keep=days)


def test_retention_config_defaults_then_env_override_merged(monkeypatch):
    monkeypatch.delenv("TA_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_TA_RETENTION_DAYS", raising=False)
    assert load_retention_config() == DEFAULT_RETENTION_DAYS
    monkeypatch.setenv("TA_RETENTION_DAYS", '{"stock_news": 365, "quarantine": null}')
    assert load_retention_config() == {C.INTRADAY_SNAPSHOTS: 30, C.STOCK_NEWS: 365}


def test_retention_config_from_airflow_variable(monkeypatch):
    monkeypatch.delenv("TA_RETENTION_DAYS", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_TA_RETENTION_DAYS", '{"market_quotes_intraday": 7}')
    assert load_retention_config()[C.INTRADAY_SNAPSHOTS] == 7


@pytest.mark.parametrize("raw", ['{"stock_daily_quotes": 30}', "[30]", "not json"])
def test_bad_retention_config_fails_with_its_source(monkeypatch, raw):
    monkeypatch.setenv("TA_RETENTION_DAYS", raw)
    with pytest.raises(RetentionConfigError, match="TA_RETENTION_DAYS"):
        load_retention_config()


def test_airflow_db_clean_dry_run_reports_rows_per_table():
    result = clean_airflow_metadata(older_than_days=90, dry_run=True, now=NOW)
    assert "--dry-run" in result["command"] and "--skip-archive" in result["command"]
    assert result["clean_before"] == "2026-08-31T01:00:00+00:00"
    assert {"dag_run", "task_instance", "xcom", "log", "job"} <= set(result["tables"])
    assert all(isinstance(n, int) and n >= 0 for n in result["tables"].values())


def test_airflow_db_clean_failure_names_the_command():
    failing = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(AirflowDbCleanError, match=r"db clean --clean-before-timestamp .* exited with 3:\nboom"):
        clean_airflow_metadata(older_than_days=30, dry_run=False, airflow_command=failing)


def test_airflow_db_clean_refuses_unknown_tables():
    with pytest.raises(AirflowDbCleanError, match="not_a_table"):
        clean_airflow_metadata(older_than_days=30, dry_run=True, tables=["dag_run", "not_a_table"])


def test_inside_a_task_the_metadata_db_comes_from_its_connection(monkeypatch):
    """Airflow 3 blocks sql_alchemy_conn in tasks: ``airflow db clean`` reaches the metadata DB
    through connection airflow_metadata_db (the health check's), and names it when undefined."""
    import ta_scheduler.config as config

    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "airflow-db-not-allowed:///")
    port, password = os.environ["TA_PG_PORT"], os.environ["TA_PG_PASSWORD"]
    assert metadata_db_conn() == f"postgresql://airflow:{password}@127.0.0.1:{port}/{os.environ['TA_METADATA_DB']}"
    assert clean_airflow_metadata(older_than_days=30, dry_run=True)["clean_before"]  # the CLI ran against it
    monkeypatch.setattr(config, "metadata_db_hook", lambda: None)
    with pytest.raises(AirflowDbCleanError, match="define connection airflow_metadata_db"):
        clean_airflow_metadata(older_than_days=30, dry_run=True)
