"""Where each outside system is configured: one function per setting, one documented order.

Order for every setting: explicit environment variable (including the seed deployment's
``.env`` names, SPEC §7) → Airflow connection → a default that runs locally. Nothing here
runs at DAG parse time; functions are called inside tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ta_scheduler.constants import DEFAULT_DB_NAME, Conns

if TYPE_CHECKING:
    from airflow.sdk import Connection


def airflow_connection(conn_id: str) -> Connection | None:
    """The Airflow connection ``conn_id``, or None when it is not defined anywhere.

    Works inside tasks (through the Execution API) and in CLI/test processes. Outside any
    Airflow context (plain scripts) it returns None rather than failing.
    """
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowRuntimeError
    except ImportError:  # pragma: no cover - Airflow is always installed with the project
        return None
    from airflow.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):
        pass
    # Outside a task (CLI, scripts, tests) the SDK sees only env/secrets backends; the
    # metadata DB configured for this process holds the connections airflow_settings.yaml made.
    try:
        from airflow.models.connection import Connection as DbConnection

        return DbConnection.get_connection_from_secrets(conn_id)
    except Exception:  # not found, or no metadata DB reachable from this process
        return None


def airflow_variable(key: str) -> str | None:
    """The Airflow Variable ``key`` as stored (a string), or None when it is not set or there is
    no Airflow context to read it from (plain scripts)."""
    try:
        from airflow.sdk import Variable
    except ImportError:  # pragma: no cover - Airflow is always installed with the project
        return None
    try:
        return Variable.get(key, default=None)
    except Exception:  # noqa: BLE001 - outside a task with no metadata DB there are no Variables
        return None


@dataclass(frozen=True)
class MongoTarget:
    """A MongoDB URI plus the database our collections live in."""

    uri: str
    database: str
    source: str  # where it came from, for messages: "MONGO_URI", "connection mongo_default", ...

    @property
    def redacted_uri(self) -> str:
        """The URI without credentials, safe for logs and error messages."""
        return redact_url(self.uri)


def _db_from_uri(uri: str) -> str | None:
    path = urlsplit(uri).path.lstrip("/")
    return path or None


def mongo_target() -> MongoTarget:
    """The store: ``MONGO_URI`` / ``MONGODB_URL`` env, else connection ``mongo_default``.

    The database is the URI path / connection schema, else ``TA_MONGO_DB``, else
    ``tradingagents``.
    """
    fallback_db = os.environ.get("TA_MONGO_DB") or DEFAULT_DB_NAME
    for var in ("MONGO_URI", "MONGODB_URL"):
        uri = os.environ.get(var)
        if uri:
            return MongoTarget(uri, _db_from_uri(uri) or fallback_db, var)
    conn = airflow_connection(Conns.MONGO)
    if conn is not None:
        return MongoTarget(mongo_uri_from_connection(conn), conn.schema or fallback_db, f"connection {Conns.MONGO}")
    port = os.environ.get("TA_MONGO_PORT", "27037")
    return MongoTarget(f"mongodb://127.0.0.1:{port}/", fallback_db, "default (local FerretDB)")


def mongo_uri_from_connection(conn: Connection) -> str:
    """The URI the MongoDB provider's hook would build from a ``mongo`` connection.

    Built here because the hook can look connections up only inside tasks, while scripts,
    the CLI and tests resolve the same connection from the metadata DB. Extras other than
    ``srv``/``allow_insecure`` become URI options (e.g. ``{"authSource": "admin"}``).
    """
    from urllib.parse import quote_plus, urlencode

    extras = dict(conn.extra_dejson)
    scheme = "mongodb+srv" if extras.pop("srv", False) else "mongodb"
    extras.pop("allow_insecure", None)
    auth = ""
    if conn.login:
        auth = quote_plus(conn.login) + (f":{quote_plus(conn.password)}" if conn.password else "") + "@"
    host = conn.host or "127.0.0.1"
    if conn.port:
        host = f"{host}:{conn.port}"
    query = ("?" + urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in extras.items()})) if extras else ""
    return f"{scheme}://{auth}{host}/{conn.schema or ''}{query}"


def redis_url() -> str:
    """Redis for caches: ``REDIS_URL`` env, else connection ``redis_default``, else local."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    conn = airflow_connection(Conns.REDIS)
    if conn is not None:
        db = conn.extra_dejson.get("db", 0)
        auth = f":{conn.password}@" if conn.password else ""
        return f"redis://{auth}{conn.host or '127.0.0.1'}:{conn.port or 6379}/{db}"
    port = os.environ.get("TA_REDIS_PORT", "63799")
    return f"redis://127.0.0.1:{port}/{os.environ.get('TA_REDIS_DB', '0')}"


def redact_url(url: object) -> str:
    """``scheme://hosts/path`` of a URL, without user, password, query or fragment; never raises.

    Works on what ``urlsplit`` refuses or mis-reads: replica-set host lists
    (``mongodb://u:p@h1,h2:27018/db?replicaSet=rs0``), passwords holding ``@ / ? # :`` that were
    not percent-encoded, and non-URLs. Everything up to the last ``@`` of the part before the
    path is dropped, so a password never survives, even when the split guesses wrong.
    """
    try:
        text = str(url)
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "", text
        if "@" in rest:
            rest = rest.rpartition("@")[2]
        end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        rest = rest[:end]
        return f"{scheme}://{rest}" if scheme else rest
    except Exception:  # noqa: BLE001 - a message helper must not fail the caller
        return "<url>"


def tushare_tier():
    """The tushare account tier (``providers.tiers.Tier``) with any per-endpoint overlays.

    Tier: env ``TA_TUSHARE_TIER``, else the ``tier`` extra of connection ``tushare_default``
    (``{"tier": "120"}``), else ``2000``. Overlays: env ``TA_TUSHARE_RATE_LIMITS`` / Variable
    ``tushare_rate_limits`` (calls per minute) and env ``TA_TUSHARE_DAILY_LIMITS`` / Variable
    ``tushare_daily_limits`` (calls per day), JSON objects endpoint -> calls.
    """
    from ta_scheduler.providers import ratelimit, tiers

    name = os.environ.get("TA_TUSHARE_TIER")
    if not name:
        conn = airflow_connection(Conns.TUSHARE)
        name = str(conn.extra_dejson.get("tier") or "") if conn is not None else ""
    base = tiers.tier(name or tiers.DEFAULT_TIER)
    return base.overlay(ratelimit.configured_overlay(ratelimit.ENV_VAR, ratelimit.VARIABLE),
                        ratelimit.configured_overlay(ratelimit.DAILY_ENV_VAR, ratelimit.DAILY_VARIABLE))
