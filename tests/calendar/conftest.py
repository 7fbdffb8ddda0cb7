"""Fixtures for the calendar tests: an empty synced-calendar directory and a fake trade_cal."""

from __future__ import annotations

import pytest
from fake_trade_cal import HOLIDAYS_2027, FakeTradeCal
from fakes import TEST_TOKEN


@pytest.fixture
def calendar_dir(tmp_path, monkeypatch):
    """An empty ``TA_CALENDAR_DIR``: only the baked XSHG file and the weekday rule apply."""
    path = tmp_path / "calendar"
    monkeypatch.setenv("TA_CALENDAR_DIR", str(path))
    return path


@pytest.fixture
def fake_tushare():
    """A running fake tushare API with 2027 published; yields (fake, base_url)."""
    fake = FakeTradeCal(token=TEST_TOKEN)
    fake.publish(2027, HOLIDAYS_2027)
    url = fake.start()
    try:
        yield fake, url
    finally:
        fake.stop()
