"""Fixtures for the report tests: a seeded store and a private reports directory."""

from __future__ import annotations

import pytest
from report_seed import seed_market


@pytest.fixture
def reports_dir(tmp_path, monkeypatch):
    path = tmp_path / "reports"
    monkeypatch.setenv("TA_REPORTS_DIR", str(path))
    monkeypatch.delenv("TA_REPORTS_BASE_URL", raising=False)
    monkeypatch.delenv("TA_REPORT_EMAILS", raising=False)
    for conn in ("SMTP_REPORTS", "SMTP_ALERTS", "SLACK_REPORTS", "SLACK_ALERTS"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn}", raising=False)
    return path


@pytest.fixture
def market(mongo_db, reports_dir):
    """The seeded market with the day's analysis computed by the analytics jobs."""
    seed_market(mongo_db)
    return mongo_db
