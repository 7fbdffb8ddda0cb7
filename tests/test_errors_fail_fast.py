"""Failures no retry can fix fail the task at once, naming the fix: they are AirflowFailException
(Airflow fails such a task without using its retries) — a missing font, a missing or malformed
setting or connection, a data source refusing the token's permission."""

from __future__ import annotations

import uuid

import pytest
from airflow.sdk.exceptions import AirflowFailException


def test_a_missing_cjk_font_fails_at_once_naming_the_package_and_the_setting(monkeypatch):
    from ta_scheduler.reports import fonts
    from ta_scheduler.reports.errors import CJKFontMissingError

    monkeypatch.delenv("TA_CJK_FONT", raising=False)
    monkeypatch.setattr(fonts, "CANDIDATE_FILES", ())  # a machine without the Debian font files
    monkeypatch.setenv("PATH", "/nonexistent")  # and without fontconfig
    with pytest.raises(CJKFontMissingError) as err:
        fonts.find_cjk_font()
    assert isinstance(err.value, AirflowFailException)
    assert "fonts-noto-cjk (scripts/install-deps.sh runtime; `make up` runs it) or set TA_CJK_FONT" in str(err.value)

    monkeypatch.setenv("TA_CJK_FONT", "/nonexistent/font.ttf")
    with pytest.raises(AirflowFailException, match="TA_CJK_FONT=/nonexistent/font.ttf is not a font file"):
        fonts.find_cjk_font()


def test_a_malformed_setting_fails_at_once_naming_it(monkeypatch):
    from ta_scheduler.config import ConfigError, setting_int

    monkeypatch.setenv("TA_BACKUP_KEEP", "seven")
    with pytest.raises(ConfigError) as err:
        setting_int("TA_BACKUP_KEEP")
    assert isinstance(err.value, AirflowFailException) and "TA_BACKUP_KEEP='seven'" in str(err.value)


def test_a_store_without_a_connection_fails_at_once_naming_the_connection(monkeypatch):
    from ta_scheduler import config

    monkeypatch.setattr(config, "airflow_connection", lambda conn_id: None)  # no connection defined anywhere
    for name in ("MONGO_URI", "MONGODB_URL", "AIRFLOW_CONN_MONGO_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AirflowFailException, match="no store configured: define connection mongo_default"):
        config.mongo_target()


def test_a_refused_permission_fails_at_once_and_a_rate_limit_is_retried():
    from fakes.tushare_server import FakeTushareServer
    from ta_scheduler.providers import PermissionDenied, RateLimitError
    from ta_scheduler.providers.errors import InvalidToken, QuotaExceeded
    from ta_scheduler.providers.tushare_pro import TushareProvider

    token = f"T{uuid.uuid4().hex}"  # counts and refusals of its own in Redis
    with FakeTushareServer(n_stocks=10, token=token) as server:
        server.set_tier(120)
        with pytest.raises(PermissionDenied) as err:
            TushareProvider(token, server.url).adj_factor("2026-11-27")
    assert isinstance(err.value, AirflowFailException) and "adj_factor" in str(err.value)
    assert issubclass(InvalidToken, AirflowFailException) and issubclass(QuotaExceeded, AirflowFailException)
    assert not issubclass(RateLimitError, AirflowFailException)
