"""The page helpers that need no server: colours of statuses, holiday stretches, exchange time."""

from __future__ import annotations

from datetime import datetime, timezone

from ta_scheduler.ui.queries import (
    CALENDAR_STATUS_CLASSES,
    LEDGER_STATE_CLASSES,
    CalendarDay,
    css_class,
    display_time,
    holiday_periods,
)


def test_known_statuses_have_colours_and_any_other_is_neutral():
    assert [css_class(CALENDAR_STATUS_CLASSES, s) for s in ("verified", "provisional", "assumed", "estimated")] == [
        "ok", "warn", "bad", "neutral"]
    assert [css_class(LEDGER_STATE_CLASSES, s) for s in ("complete", "partial", "missing", "failed", "not_due", "stale")] == [
        "ok", "warn", "bad", "bad", "idle", "neutral"]


def test_a_holiday_stretch_takes_in_its_weekends_and_plain_weekends_are_not_holidays():
    def day(d, kind, status="verified"):
        return CalendarDay(d, "", kind, status, "")

    days = [day("2027-02-05", "trading"), day("2027-02-06", "weekend"), day("2027-02-07", "weekend"),
            day("2027-02-08", "holiday", "provisional"), day("2027-02-09", "holiday", "provisional"),
            day("2027-02-10", "trading"), day("2027-02-13", "weekend"), day("2027-02-14", "weekend")]
    assert holiday_periods(days) == [{"first": "2027-02-06", "last": "2027-02-09", "days": 4,
                                      "holidays": ["2027-02-08", "2027-02-09"], "statuses": ["provisional", "verified"]}]


def test_times_are_shown_in_exchange_time():
    assert display_time(datetime(2026, 11, 27, 12, 5, 13)) == "2026-11-27 20:05:13"  # naive = UTC (pymongo)
    assert display_time(datetime(2026, 11, 27, 23, 0, tzinfo=timezone.utc)) == "2026-11-28 07:00:00"
    assert display_time(None) == ""


def test_loading_the_plugin_imports_nothing_heavy():
    """Every DAG parse and every component loads plugins: the app is built on its first request."""
    import subprocess
    import sys

    from paths import PLUGINS_DIR

    heavy = ["fastapi", "starlette", "pandas", "numpy", "matplotlib", "pymongo", "ta_scheduler.ui.app"]
    code = (f"import sys; sys.path.insert(0, {str(PLUGINS_DIR)!r}); import ta_market_ui; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
