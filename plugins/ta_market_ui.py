"""The "Market data" section of the Airflow UI: reports, data health and the trading calendar.

Registers a FastAPI app mounted by the api-server at ``/market-data`` and three navigation
entries (category "Market data") that open its pages inside the UI. The pages sit behind
Airflow's auth manager (see ``ta_scheduler.ui.app``).

Every Airflow component and every DAG parse loads plugins, so this file imports nothing heavy:
the app (FastAPI, Jinja, the store client) is built on its first request.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/market-data"


class LazyMarketDataApp:
    """An ASGI app that builds ``ta_scheduler.ui.app.create_app()`` when the first request comes."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from ta_scheduler.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


def _view(name: str, page: str) -> dict[str, str]:
    return {"name": name, "href": f"{URL_PREFIX}/{page}", "url_route": f"market-data-{page}",
            "category": "Market data", "destination": "nav"}


class MarketDataUiPlugin(AirflowPlugin):
    name = "ta_market_ui"
    fastapi_apps = [{"name": "market_data", "app": LazyMarketDataApp(), "url_prefix": URL_PREFIX}]
    external_views = [_view("Reports", "reports"), _view("Data health", "health"), _view("Trading calendar", "calendar")]
