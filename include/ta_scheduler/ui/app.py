"""The "Market data" pages: a FastAPI app the api-server mounts at ``/market-data`` (registered
by ``plugins/ta_market_ui.py``), behind Airflow's own auth manager.

Pages (server-rendered Jinja, times in Asia/Shanghai):

* ``/market-data/reports``               stored reports, newest first; ``?kind=&from=&to=``
* ``/market-data/reports/{kind}/{date}`` one report's HTML (charts included)
* ``/market-data/health``                ledger grid, last successful runs, calendar coverage
* ``/market-data/calendar``              the coming days: sessions, holidays, status

Access: the caller's Airflow token (the UI's cookie, or ``Authorization: Bearer``) must belong
to a user the auth manager lets read the custom view ``Market data`` (with the default
SimpleAuthManager: every role from viewer up). Anonymous → 401, unauthorised → 403. The app
only has GET routes: nothing here changes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from ta_scheduler.market import exchange_now, exchange_today
from ta_scheduler.ui import queries

RESOURCE_NAME = "Market data"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
NAV = (("reports", "Reports 报告"), ("health", "Data health 数据健康"), ("calendar", "Calendar 交易日历"))


def _db():
    from ta_scheduler.storage.mongo import get_db

    return get_db()


def _render(request: Request, template: str, page: str, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template,
        {"nav": NAV, "page": page, "base": _base(request), "now": queries.display_time(_utcnow()), "q": queries, **context},
    )


def _base(request: Request) -> str:
    """The path this app is mounted at (``/market-data``, under the api-server's own root)."""
    return request.scope.get("root_path", "").rstrip("/")


def _utcnow():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


#: The pages; :func:`create_app` puts them behind Airflow's auth manager.
pages = APIRouter()


@pages.get("/", include_in_schema=False)
def index(request: Request):
    return RedirectResponse(_base(request) + "/reports", status_code=307)


@pages.get("/reports", response_class=HTMLResponse, name="reports")
def reports(request: Request, kind: str | None = None,
            date_from: Annotated[str | None, Query(alias="from")] = None,
            date_to: Annotated[str | None, Query(alias="to")] = None):
    kind, date_from, date_to = kind or None, date_from or None, date_to or None
    try:
        rows = queries.list_reports(_db(), kind, date_from, date_to)
    except queries.BadFilter as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _render(request, "reports.html", "reports", rows=rows, kind=kind or "", date_from=date_from or "",
                   date_to=date_to or "", kinds=queries.KINDS)


@pages.get("/reports/{kind}/{report_date}", response_class=HTMLResponse, name="report")
def report(kind: str, report_date: str):
    from ta_scheduler.reports.errors import ReportNotFoundError
    from ta_scheduler.reports.store import load_report

    try:
        doc = load_report(_db(), kind, report_date)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except ReportNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return HTMLResponse(doc["html"])


@pages.get("/health", response_class=HTMLResponse, name="health")
def health(request: Request):
    now = exchange_now()
    return _render(request, "health.html", "health", grid=queries.health_grid(_db(), now),
                   runs=queries.last_successful_runs(), coverage=queries.calendar_coverage(now.date()),
                   state_classes=queries.LEDGER_STATE_CLASSES)


@pages.get("/calendar", response_class=HTMLResponse, name="calendar")
def calendar(request: Request):
    today = exchange_today()
    days = queries.calendar_days(today)
    return _render(request, "calendar.html", "calendar", days=days, holidays=queries.holiday_periods(days),
                   coverage=queries.calendar_coverage(today))


def create_app() -> FastAPI:
    """The app; Airflow's security helpers are imported here, on the first request, not when
    the plugin is loaded (every DAG parse loads plugins)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    def reader(user=Depends(get_user)) -> None:  # noqa: B008 - FastAPI's dependency idiom
        """Every route: an authenticated user allowed to read the ``Market data`` view."""
        if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
            raise HTTPException(status_code=403, detail="Forbidden")

    app = FastAPI(title="Market data", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(reader)])
    app.include_router(pages)
    return app
