"""A real api-server (the project's deployment, api-server only) serving the "Market data"
plugin over a store and a trading calendar of this package's own."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from e2e.cluster import Cluster
from ta_scheduler.market import exchange_today


class ApiServer(Cluster):
    """Only the api-server of :class:`e2e.cluster.Cluster` (same environment, same REST helpers)."""

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn("api-server", ["api-server", "--port", str(self.port), "--workers", "1"])
        self.wait_http("/api/v2/monitor/health", 180)

    def login(self, username: str) -> str:
        """A JWT for ``username`` (password from the SimpleAuthManager passwords file)."""
        password = json.loads(Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())[username]
        status, body = self.request("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        assert status == 201, body
        return body["access_token"]

    def get(self, path: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
        """(status, body text) of a page."""
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.base + path, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", errors="replace")


def _wednesday_on_or_after(d: date) -> date:
    return d + timedelta(days=(2 - d.weekday()) % 7)


@pytest.fixture(scope="package")
def ui_calendar(tmp_path_factory):
    """A synced calendar covering last year to next year: Monday–Friday except two weekday
    holidays, one inside the 60-day grid and one inside the coming 60 days."""
    from ta_scheduler.atomic_files import write_json_atomic
    from ta_scheduler.calendar.files import SYNCED_FILE_NAME, YearCalendar, calendar_document

    today = exchange_today()
    past_holiday = _wednesday_on_or_after(today - timedelta(days=30))
    next_holiday = _wednesday_on_or_after(today + timedelta(days=10))
    closed = {past_holiday, next_holiday}
    years = {y: YearCalendar(y, date(y, 1, 1), date(y, 12, 31),
                             frozenset(d for d in closed if d.year == y))
             for y in (today.year - 1, today.year, today.year + 1)}
    directory = tmp_path_factory.mktemp("calendar")
    write_json_atomic(directory / SYNCED_FILE_NAME,
                      calendar_document(years, source="test trade_cal", generated_at="2026-11-01T00:00:00Z"))
    return {"dir": directory, "today": today, "past_holiday": past_holiday, "next_holiday": next_holiday,
            "covered_until": date(today.year + 1, 12, 31)}


@pytest.fixture(scope="package")
def ui_store(mongo_uri, tmp_path_factory):
    """A database of its own on the test store, dropped at the end."""
    from ta_scheduler.config import MongoTarget
    from ta_scheduler.storage.mongo import get_client, get_db

    name = f"ta_test_ui_{uuid.uuid4().hex[:8]}"
    target = MongoTarget(mongo_uri.rstrip("/") + "/" + name, name, "test")
    yield {"target": target, "db": get_db(target), "reports_dir": tmp_path_factory.mktemp("reports")}
    get_client(target).drop_database(name)


@pytest.fixture(scope="package")
def ui_reports(ui_store, ui_calendar):
    """The stored reports: a real daily report (charts, Chinese text) built from the seeded
    market for 2026-11-27, plus a small daily and a weekly document."""
    from reports.report_seed import T, seed_market
    from ta_scheduler.reports.daily import build_daily_report
    from ta_scheduler.reports.store import save_report

    db = ui_store["db"]
    mp = pytest.MonkeyPatch()
    mp.setenv("TA_REPORTS_DIR", str(ui_store["reports_dir"]))
    try:
        seed_market(db)
        build_daily_report(db, T)
        for kind, day, title in (("daily", "2026-11-26", "每日市场报告 2026-11-26"),
                                 ("weekly", "2026-11-22", "每周投资组合报告 2026-11-22")):
            save_report(db, {"kind": kind, "report_date": day, "title": title, "digest": [f"{title} 摘要"],
                             "html": f"<html><body><h1>{title}</h1></body></html>", "markdown": f"# {title}"})
    finally:
        mp.undo()
    return {"daily": T}


@pytest.fixture(scope="package")
def api_server(tmp_path_factory, ui_store, ui_calendar, ui_reports):
    server = ApiServer(
        tmp_path_factory.mktemp("api"),
        extra_env={
            "MONGO_URI": ui_store["target"].uri,
            "TA_CALENDAR_DIR": str(ui_calendar["dir"]),
            "TA_REPORTS_DIR": str(ui_store["reports_dir"]),
        },
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def viewer_token(api_server):
    return api_server.login("viewer")


@pytest.fixture
def utc_now():
    return datetime.now(timezone.utc)
