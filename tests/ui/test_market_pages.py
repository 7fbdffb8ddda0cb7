"""The "Market data" pages through a real api-server: who may see them, and that what they show
is what the store, the completeness ledger, the calendar and the metadata DB hold."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from ta_scheduler.maintenance.health import expected_bars_date
from ta_scheduler.storage import ledger
from ta_scheduler.ui import queries

PAGES = ["/market-data/reports", "/market-data/health", "/market-data/calendar", "/market-data/reports/daily/2026-11-27"]
DAILY_DATASETS = [d for d in ledger.DATASETS if d not in ("financials", "news")]
SESSIONS = "09:30–11:30, 13:00–15:00"


class Rows(HTMLParser):
    """Every element's ``data-*`` attributes and its text, by tag, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            for open_el in self._open:
                open_el["text"] += "\t"
        el = {"tag": tag, **{k: v for k, v in attrs}, "text": ""}
        self.elements.append(el)
        if tag not in ("input", "br", "meta"):
            self._open.append(el)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self._open:
            el["text"] += data

    def having(self, attr: str) -> list[dict]:
        return [e for e in self.elements if attr in e]


def cells(el: dict) -> list[str]:
    """The texts of a table row's cells, whitespace collapsed."""
    return [re.sub(r"\s+", " ", c).strip() for c in el["text"].split("\t")[1:]]


def weekday_sessions(first: date, last: date, closed: set[date]) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5 and d not in closed:
            out.append(d)
        d += timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def seeded(ui_store, ui_calendar):
    """A ledger with a deliberately missing and a partial day, and DAG runs (the reports come
    from the package's ``ui_reports``)."""
    db = ui_store["db"]
    today, closed = ui_calendar["today"], {ui_calendar["past_holiday"], ui_calendar["next_holiday"]}
    grid_days = [d.isoformat() for d in weekday_sessions(today - timedelta(days=120), today, closed)[-60:]]
    missing_day, partial_day = grid_days[-3], grid_days[-10]
    entries = [ledger.Entry("daily_bars", p, "complete", 5400, 5400, "tushare") for p in grid_days if p not in (missing_day, partial_day)]
    entries += [ledger.Entry("daily_bars", partial_day, "partial", 5400, 5391, "tushare"),
                ledger.Entry("indicators", grid_days[-1], "failed", reason="compute_indicators failed"),
                ledger.Entry("intraday_ticks", grid_days[-1], "not_due")]
    db[ledger.COLLECTION].delete_many({})  # the seeded market of the reports recorded its own days
    ledger.record_many(db, entries)
    # no entry: not_due where the day's data is not due yet, not_started before the dataset's first
    # entry, else missing
    due_through = expected_bars_date(datetime.now(timezone.utc))
    expected = {d: {p: "not_due" if p > due_through else "missing" for p in grid_days} for d in DAILY_DATASETS}
    expected["daily_bars"] = {p: "complete" for p in grid_days} | {missing_day: "missing", partial_day: "partial"}
    expected["indicators"] = {p: queries.NOT_STARTED for p in grid_days[:-1]} | {grid_days[-1]: "failed"}
    expected["intraday_ticks"] = {p: queries.NOT_STARTED for p in grid_days[:-1]} | {grid_days[-1]: "not_due"}
    runs = _seed_runs()
    yield {"db": db, "grid_days": grid_days, "expected_grid": expected, "runs": runs}
    _delete_runs()


RUN_DAG = "ui_test_market_pages"


def _seed_runs() -> dict:
    """A DAG with two successful runs and a later failed one in the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    _delete_runs()
    t0 = datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)
    with create_session() as session:
        for i, state in enumerate((DagRunState.SUCCESS, DagRunState.SUCCESS, DagRunState.FAILED)):
            logical = t0 + timedelta(days=i)
            run = DagRun(dag_id=RUN_DAG, run_id=f"scheduled__{logical.isoformat()}", logical_date=logical, run_after=logical,
                         run_type=DagRunType.SCHEDULED, state=state, start_date=logical + timedelta(minutes=1))
            run.end_date = logical + timedelta(minutes=5)
            session.add(run)
    # the second run finished 2026-11-27 08:35 UTC = 16:35 in Shanghai
    return {"run_id": f"scheduled__{(t0 + timedelta(days=1)).isoformat()}", "logical": "2026-11-27 16:30:00",
            "end": "2026-11-27 16:35:00"}


def _delete_runs() -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == RUN_DAG).delete()


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_refused(api_server, path):
    status, body = api_server.get(path)
    assert (status, body) == (401, '{"detail":"Not authenticated"}')


def test_a_forged_token_is_refused_like_the_rest_api_refuses_it(api_server):
    forged = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert api_server.get("/market-data/reports", forged) == api_server.get("/api/v2/dags", forged)
    assert api_server.get("/market-data/reports", forged)[0] == 403


def test_viewer_may_read_but_nothing_changes_state(api_server, viewer_token, seeded):
    for path in PAGES:
        assert api_server.get(path, viewer_token)[0] == 200, path
        assert api_server.get(path, viewer_token, method="POST")[0] == 405, path


def test_reports_list_newest_first_and_filters(api_server, viewer_token, seeded):
    def listed(query=""):
        status, html = api_server.get("/market-data/reports" + query, viewer_token)
        assert status == 200, html
        rows = [e for e in Rows(html).having("data-kind") if e["tag"] == "tr"]
        return [(r["data-kind"], r["data-date"], cells(r)) for r in rows]

    assert [r[:2] for r in listed()] == [("daily", "2026-11-27"), ("daily", "2026-11-26"), ("weekly", "2026-11-22")]
    newest = seeded["db"]["reports"].find_one({"kind": "daily", "report_date": "2026-11-27"})
    assert len(newest["digest"]) > 2
    assert listed()[0][2] == ["2026-11-27", "daily", newest["title"], " ".join(newest["digest"]),
                              queries.display_time(newest["updated_at"]), ""]
    assert listed()[1][2][:4] == ["2026-11-26", "daily", "每日市场报告 2026-11-26", "每日市场报告 2026-11-26 摘要"]
    assert [r[:2] for r in listed("?kind=weekly")] == [("weekly", "2026-11-22")]
    assert [r[:2] for r in listed("?from=2026-11-23&to=2026-11-26")] == [("daily", "2026-11-26")]
    assert [r[:2] for r in listed("?kind=daily&from=2026-11-27")] == [("daily", "2026-11-27")]
    status, body = api_server.get("/market-data/reports?from=27.11.2026", viewer_token)
    assert status == 400 and "from must be a date YYYY-MM-DD, got '27.11.2026'" in body


def test_report_page_is_the_stored_html(api_server, viewer_token, seeded):
    doc = seeded["db"]["reports"].find_one({"kind": "weekly", "report_date": "2026-11-22"})
    assert api_server.get("/market-data/reports/weekly/2026-11-22", viewer_token) == (200, doc["html"])
    status, body = api_server.get("/market-data/reports/daily/2026-11-25", viewer_token)
    assert status == 404 and "no daily report for 2026-11-25" in body


def test_health_grid_states_equal_the_ledger_with_a_missing_day(api_server, viewer_token, seeded):
    status, html = api_server.get("/market-data/health", viewer_token)
    assert status == 200, html
    page = Rows(html)
    shown: dict[str, dict[str, str]] = {}
    current = None
    for el in page.elements:
        if el["tag"] == "tr" and "data-dataset" in el:
            current = shown.setdefault(el["data-dataset"], {})
        elif el["tag"] == "td" and "data-state" in el:
            current[el["data-period"]] = el["data-state"]
    days = seeded["grid_days"]
    assert list(shown) == DAILY_DATASETS
    assert all(list(row) == days for row in shown.values())  # the last 60 trading days, oldest first
    assert shown == seeded["expected_grid"]
    colour = {e["data-period"]: e["class"] for e in page.elements if e.get("data-state") and e.get("data-period") in days[-3:]}
    assert "bad" in colour[days[-3]].split()  # the missing day is drawn red


def test_health_shows_last_successful_run_and_calendar_days_left(api_server, viewer_token, seeded, ui_calendar):
    status, html = api_server.get("/market-data/health", viewer_token)
    page = Rows(html)
    row = next(e for e in page.elements if e.get("data-dag") == RUN_DAG)
    runs = seeded["runs"]
    assert cells(row) == [RUN_DAG, runs["run_id"], "scheduled", runs["logical"], runs["end"]]
    coverage = next(e for e in page.elements if e.get("id") == "coverage")
    days_left = (ui_calendar["covered_until"] - ui_calendar["today"]).days + 1
    assert coverage["data-days-left"] == str(days_left)
    years = {e["data-year"]: cells(e) for e in page.having("data-year")}
    y = ui_calendar["today"].year
    for v in (y - 1, y, y + 1):  # the synced file decides these years (the baked file may know some too)
        assert years[str(v)][:2] == [str(v), "verified"] and years[str(v)][2].startswith("test trade_cal"), years


def test_calendar_page_lists_the_coming_days_and_holidays(api_server, viewer_token, seeded, ui_calendar):
    status, html = api_server.get("/market-data/calendar", viewer_token)
    assert status == 200, html
    page = Rows(html)
    today, holiday = ui_calendar["today"], ui_calendar["next_holiday"]
    shown = [(e["data-day"], e["data-kind"], e["data-status"], cells(e)) for e in page.having("data-day")]
    expected = []
    for i in range(61):
        d = today + timedelta(days=i)
        kind = "weekend" if d.weekday() >= 5 else ("holiday" if d == holiday else "trading")
        row = [d.isoformat(), "一二三四五六日"[d.weekday()].join(("周", "")), kind, SESSIONS if kind == "trading" else "", "verified"]
        expected.append((d.isoformat(), kind, "verified", row))
    assert shown == expected
    assert [cells(e) for e in page.having("data-first")] == [[str(holiday), str(holiday), "1", str(holiday), "verified"]]


def test_the_section_is_registered_in_the_ui_navigation(api_server):
    status, body = api_server.request("GET", "/api/v2/plugins")
    assert status == 200, body
    plugin = next(p for p in body["plugins"] if p["name"] == "ta_market_ui")
    assert [(v["name"], v["href"], v["category"], v["url_route"], v["destination"]) for v in plugin["external_views"]] == [
        ("Reports", "/market-data/reports", "Market data", "market-data-reports", "nav"),
        ("Data health", "/market-data/health", "Market data", "market-data-health", "nav"),
        ("Trading calendar", "/market-data/calendar", "Market data", "market-data-calendar", "nav"),
    ]
    assert [(a["name"], a["url_prefix"]) for a in plugin["fastapi_apps"]] == [("market_data", "/market-data")]
