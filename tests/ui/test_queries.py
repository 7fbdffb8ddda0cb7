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
    assert [css_class(LEDGER_STATE_CLASSES, s) for s in ("complete", "partial", "missing", "failed", "not_due",
                                                         "not_started", "stale")] == [
        "ok", "warn", "bad", "bad", "idle", "neutral", "neutral"]


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


def test_health_grid_shows_not_due_and_not_started_where_the_health_check_expects_nothing(mongo_db, tmp_path, monkeypatch):
    """Friday 2026-11-27 at 16:00: its session has closed but its bars are not due (daily_sync may
    wait for the vendor until 22:00), so its cells without an entry are ``not_due``. index_bars'
    history starts on 11-20 (a deployment's first sync): the days before are ``not_started``
    (neutral), a hole after it is ``missing`` (red); a dataset never synced is ``missing``."""
    from zoneinfo import ZoneInfo

    from ta_scheduler.storage import ledger
    from ta_scheduler.ui.queries import DAILY_DATASETS, NOT_STARTED, health_grid

    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))
    now = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    days = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-23", "2026-11-24",
            "2026-11-25", "2026-11-26", "2026-11-27"]
    ledger.record_many(mongo_db, [ledger.Entry("daily_bars", d, "complete", 3, 3, "demo") for d in days[:-1]]
                       + [ledger.Entry("index_bars", d, "complete", 4, 4, "demo") for d in days[4:-1] if d != "2026-11-24"]
                       + [ledger.Entry("intraday_ticks", "2026-11-27", "partial", 50, 20, "demo")])
    grid = health_grid(mongo_db, now, count=len(days))
    assert grid["periods"] == days
    shown = {row["dataset"]: {c["period"]: c["state"] for c in row["cells"]} for row in grid["rows"]}
    expected = {d: {p: "missing" for p in days[:-1]} | {"2026-11-27": "not_due"} for d in DAILY_DATASETS}
    expected["daily_bars"] = {p: "complete" for p in days[:-1]} | {"2026-11-27": "not_due"}
    expected["index_bars"] = ({p: NOT_STARTED for p in days[:4]} | {p: "complete" for p in days[4:-1]}
                              | {"2026-11-24": "missing", "2026-11-27": "not_due"})
    expected["intraday_ticks"] = {p: NOT_STARTED for p in days[:-1]} | {"2026-11-27": "partial"}
    assert shown == expected
    assert css_class(LEDGER_STATE_CLASSES, NOT_STARTED) == "neutral"
    late = health_grid(mongo_db, now.replace(hour=23), count=len(days))  # past the vendor deadline: due
    assert {row["dataset"]: row["cells"][-1]["state"] for row in late["rows"]}["daily_bars"] == "missing"
