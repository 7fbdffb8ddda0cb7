"""The one configuration surface: the only module that reads environment variables and Airflow
Variables. Every other module asks a function here.

One order for every setting:

1. an **Airflow connection or Variable** — from the metadata DB, or given in the environment
   as ``AIRFLOW_CONN_<CONN_ID>`` / ``AIRFLOW_VAR_<KEY>`` (Airflow's own environment route);
2. the knob's ``TA_*`` **environment variable** (:data:`KNOBS`);
3. the knob's **default**, which runs locally.

Knobs without a Variable key are read where no Variable can be (the timetable plugin, the
triggerer, scripts): they have steps 2 and 3 only. The seed deployment's ``.env`` names
(``MONGO_URI``, ``MONGODB_URL``, ``REDIS_URL``, ``TUSHARE_TOKEN``, the LLM keys, SPEC §7) are
honoured as environment fallbacks of their connections. Nothing here runs at DAG parse time
except the cheap ``TA_*`` lookups; connections and Variables are read inside tasks.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ta_scheduler.constants import DEFAULT_DB_NAME, Conns

if TYPE_CHECKING:
    from airflow.sdk import Connection

log = logging.getLogger(__name__)
H = TypeVar("H")

#: The project checkout (or the image's ``/usr/local/airflow``): holds ``plugins/`` and ``.local/``.
PROJECT_DIR = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A setting holds a value of the wrong kind, or a connection a task needs is not defined; the
    message names the setting or connection and where it came from.

    Raised through :func:`config_error`, as an ``AirflowFailException`` too: retrying cannot fix
    a configuration, so the task fails at once instead of using its retries."""


@functools.cache
def _fail_fast_config_error() -> type[ConfigError]:
    # Built on first use: this module is imported by scripts that never load Airflow (importing
    # airflow.sdk.exceptions costs about a second).
    from airflow.sdk.exceptions import AirflowFailException

    return type("ConfigError", (ConfigError, AirflowFailException), {"__module__": __name__})


def config_error(message: str) -> ConfigError:
    """A :class:`ConfigError` that is also an ``AirflowFailException`` (no task retry)."""
    return _fail_fast_config_error()(message)


@dataclass(frozen=True)
class Knob:
    """One setting: its environment name, default (as text; ``None`` = unset), unit, meaning, and
    the Airflow Variable that overrides it (``None`` when it is read outside tasks too)."""

    name: str
    default: str | None
    unit: str
    doc: str
    variable: str | None = None


#: Longest backfill a single run may request unless ``TA_MAX_BACKFILL_SESSIONS`` says otherwise (sessions).
DEFAULT_MAX_BACKFILL_SESSIONS = 260
#: Upper bound of ``TA_MAX_BACKFILL_SESSIONS`` (about 20 years), so counting a range stays cheap.
MAX_BACKFILL_SESSIONS_CAP = 5000

#: Every ``TA_*`` setting read by ``include/``. README's "Configuration" table lists each one
#: (tests/test_config.py checks that).
KNOBS: dict[str, Knob] = {k.name: k for k in (
    # where state lives
    Knob("TA_STATE_DIR", str(PROJECT_DIR / ".local"), "path",
         "root of everything the project writes (calendar, reports, backups, log archives)"),
    Knob("TA_CALENDAR_DIR", None, "path", "the synced trading calendar; default `$TA_STATE_DIR/calendar`"),
    Knob("TA_CALENDAR_BAKED_FILE", None, "path", "the committed XSHG calendar file; default the plugins folder's copy"),
    Knob("TA_CALENDAR_PROVISIONAL_FILE", None, "path", "the committed provisional calendar file; default the plugins folder's copy"),
    Knob("TA_CALENDAR_RECHECK_SECONDS", "1.0", "seconds", "how often a process re-stats the calendar files"),
    Knob("TA_REPORTS_DIR", None, "path", "where report files are written; default `$TA_STATE_DIR/reports`"),
    Knob("TA_BACKUP_DIR", None, "path", "store backups; default `$TA_STATE_DIR/backups`"),
    Knob("TA_BACKUP_KEEP", "7", "backups", "how many store backups to keep"),
    Knob("TA_LOG_ARCHIVE_DIR", None, "path", "archived task logs; default `$TA_STATE_DIR/log-archive`"),
    Knob("TA_LOG_ARCHIVE_DAYS", "7", "days", "task logs older than this are archived"),
    Knob("TA_METADATA_RETENTION_DAYS", "30", "days", "`airflow db clean` removes metadata older than this"),
    Knob("TA_RETENTION_DAYS", None, "JSON {collection: days}", "store retention per collection, merged over the defaults "
         "(docs/maintenance.md)", "ta_retention_days"),
    Knob("TA_DISK_MIN_FREE_GB", "1", "GiB", "the health check fails when a watched disk has less free space",
         "ta_disk_min_free_gb"),
    # the store and the cache
    Knob("TA_MONGO_DB", DEFAULT_DB_NAME, "name", "the MongoDB database when the URI/connection names none"),
    # market data
    Knob("TA_DATA_PROVIDER", None, "demo or tushare", "forces a provider; unset: tushare when a token is configured, else demo"),
    Knob("TA_DEMO_STOCKS", "300", "stocks", "size of the demo provider's synthetic market"),
    Knob("TA_TUSHARE_TIER", None, "tier: 120, 2000, 5000 …", "the tushare account tier; default the connection's `tier` extra, else 2000"),
    Knob("TA_TUSHARE_RATE_LIMITS", None, "JSON {endpoint: calls/min}", "per-endpoint minute limits over the tier's",
         "tushare_rate_limits"),
    Knob("TA_TUSHARE_DAILY_LIMITS", None, "JSON {endpoint: calls/day}", "per-endpoint day caps over the tier's (`total` for all)",
         "tushare_daily_limits"),
    Knob("TA_TUSHARE_NEWS_SOURCES", "sina,cls", "comma list", "tushare news sources to fetch"),
    Knob("TA_MAX_QUARANTINE_FRACTION", "0.01", "fraction", "a sync fails when more of its rows than this fail validation"),
    Knob("TA_MAX_BACKFILL_SESSIONS", str(DEFAULT_MAX_BACKFILL_SESSIONS), "sessions",
         f"longest backfill range a trigger accepts (capped at {MAX_BACKFILL_SESSIONS_CAP})"),
    Knob("TA_VENDOR_READY_SHARE", "0.98", "fraction", "share of the listed market the vendor must have published"),
    Knob("TA_VENDOR_READY_POLL_SECONDS", "300", "seconds", "how often the vendor-ready trigger re-checks"),
    Knob("TA_REPORTS_ANALYSIS_POLL_SECONDS", "60", "seconds", "how often the reports trigger re-checks the store"),
    # LLM
    Knob("TA_LLM_TIMEOUT", "120", "seconds", "per-request timeout of the LLM clients"),
    Knob("TA_LLM_MAX_ATTEMPTS", "4", "attempts", "tries per LLM request (transient failures)"),
    Knob("TA_LLM_RETRY_BASE_DELAY", "2.0", "seconds", "first LLM retry wait (doubles each retry, half jitter)"),
    Knob("TA_LLM_RETRY_MAX_DELAY", "30.0", "seconds", "longest LLM backoff wait"),
    Knob("TA_LLM_RETRY_HINT_MAX", "120.0", "seconds", "longest provider `Retry-After` hint honoured"),
    Knob("TA_LLM_PRICES", None, "JSON {model: {input, output}}", "per-model prices over the built-in table (docs/llm-research.md)",
         "ta_llm_prices"),
    Knob("TA_LLM_BUDGET", None, "JSON", "daily/per-run LLM spending limits (docs/llm-research.md)", "ta_llm_budget"),
    Knob("TA_SENTIMENT_LLM_PROVIDER", None, "dashscope, deepseek or offline", "news sentiment scorer; unset: first provider with a key"),
    Knob("TA_SENTIMENT_LLM_MODEL", None, "model", "news sentiment model; default the provider's quick model"),
    # notifications and reports
    Knob("TA_ALERT_EMAILS", None, "comma list", "alert recipients when the email connection has no `to` extra"),
    Knob("TA_REPORT_EMAILS", None, "comma list", "report recipients; default the email connection's"),
    Knob("TA_REPORTS_BASE_URL", None, "URL", "where readers open HTML reports; default the local file path"),
    Knob("TA_CJK_FONT", None, "path", "a font with Chinese glyphs for report figures; default the first one installed"),
)}


def setting_with_origin(name: str) -> tuple[str | None, str]:
    """The raw text of knob ``name`` and where it came from (for messages): Variable, env, default."""
    knob = KNOBS[name]
    if knob.variable:
        value = airflow_variable(knob.variable)
        if value not in (None, ""):
            return str(value), f"Airflow Variable {knob.variable}"
    value = os.environ.get(name)
    if value not in (None, ""):
        return value, f"env {name}"
    return knob.default, "default"


def setting(name: str) -> str | None:
    """The raw text of knob ``name`` (see the module doc for the order)."""
    return setting_with_origin(name)[0]


def _typed(name: str, kind: type, what: str) -> Any:
    raw, origin = setting_with_origin(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise config_error(f"{name}={raw!r} ({origin}): expected {what} ({KNOBS[name].unit})") from None


def setting_int(name: str) -> int | None:
    """Knob ``name`` as an integer (None when unset); :class:`ConfigError` when it is not one."""
    return _typed(name, int, "an integer")


def setting_float(name: str) -> float | None:
    """Knob ``name`` as a number (None when unset); :class:`ConfigError` when it is not one."""
    return _typed(name, float, "a number")


def setting_list(name: str) -> list[str]:
    """Knob ``name`` as a comma-separated list, blanks dropped."""
    return [item.strip() for item in (setting(name) or "").split(",") if item.strip()]


def setting_json(name: str) -> tuple[dict[str, Any] | None, str]:
    """Knob ``name`` parsed as a JSON object, with its origin; (None, "default") when unset."""
    raw, origin = setting_with_origin(name)
    if raw is None:
        return None, origin
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise config_error(f"{origin}: not JSON ({exc}): {raw[:200]!r}") from None
    if not isinstance(data, Mapping):
        raise config_error(f"{origin}: expected a JSON object, got {raw[:200]!r}")
    return dict(data), origin


def state_dir() -> Path:
    """Root of everything the project writes (``TA_STATE_DIR``)."""
    return Path(setting("TA_STATE_DIR") or KNOBS["TA_STATE_DIR"].default).expanduser()


def state_path(name: str, sub: str) -> Path:
    """A location under the state directory: knob ``name`` when set, else ``state_dir()/sub``."""
    explicit = setting(name)
    return Path(explicit).expanduser() if explicit else state_dir() / sub


def calendar_key() -> tuple[str | None, ...]:
    """What the calendar location depends on (a process re-opens the calendar when it changes)."""
    return tuple(os.environ.get(n) for n in ("TA_CALENDAR_DIR", "TA_STATE_DIR", "TA_CALENDAR_BAKED_FILE",
                                              "TA_CALENDAR_PROVISIONAL_FILE"))


def airflow_home() -> Path:
    """``AIRFLOW_HOME`` (Airflow's own default ``~/airflow``)."""
    return Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()


def plugin_folders() -> list[Path]:
    """Where Airflow looks for plugins in this process, most specific first, then the project's."""
    folders = []
    if os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER"):
        folders.append(Path(os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"]))
    if os.environ.get("AIRFLOW_HOME"):
        folders.append(Path(os.environ["AIRFLOW_HOME"]) / "plugins")
    folders.append(PROJECT_DIR / "plugins")
    return folders


def simple_auth_users() -> str | None:
    """Airflow's ``[core] simple_auth_manager_users`` as set in the environment."""
    return os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS") or None


def sql_alchemy_conn() -> str | None:
    """This process's ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (a placeholder inside Airflow 3 tasks)."""
    return os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or None


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This process's environment with ``overrides``, for a child process (``airflow db clean``)."""
    return {**os.environ, **overrides}


def environment_value(name: str) -> str | None:
    """An environment variable named by the operator (``${VAR}`` in airflow_settings.yaml)."""
    return os.environ.get(name)


def tushare_credentials() -> tuple[str | None, str | None]:
    """(token, API URL or None) of connection ``tushare_default``: password = token; host = the URL
    when it holds ``://``, else ``http://host[:port]/dataapi``. The seed's ``TUSHARE_TOKEN`` /
    ``TUSHARE_API_URL`` are the fallbacks of each field."""
    conn = airflow_connection(Conns.TUSHARE)
    token, url = (conn.password or None, None) if conn is not None else (None, None)
    if conn is not None and conn.host:
        host = conn.host.strip()
        url = host.rstrip("/") if "://" in host else f"http://{host}{':' + str(conn.port) if conn.port else ''}/dataapi"
    return token or os.environ.get("TUSHARE_TOKEN") or None, url or os.environ.get("TUSHARE_API_URL") or None


#: LLM provider -> (key env, base-URL env, connection id); the seed's names.
LLM_ENV = {
    "dashscope": ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", Conns.DASHSCOPE),
    "deepseek": ("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", Conns.DEEPSEEK),
}


def llm_env(provider: str) -> dict[str, str | None]:
    """The seed-name environment settings of an LLM provider: ``key``, ``url``, ``quick``, ``deep``."""
    key_var, url_var, _ = LLM_ENV[provider]
    prefix = provider.upper()
    url = os.environ.get(url_var) or (os.environ.get("DASHSCOPE_HTTP_BASE_URL") if provider == "dashscope" else None)
    return {"key": os.environ.get(key_var) or None, "url": url or None,
            "quick": os.environ.get(f"{prefix}_QUICK_MODEL") or None,
            "deep": os.environ.get(f"{prefix}_DEEP_MODEL") or None}


def airflow_connection(conn_id: str) -> Connection | None:
    """The Airflow connection ``conn_id``, or None when it is not defined anywhere.

    Works inside tasks (through the Execution API, which also sees ``AIRFLOW_CONN_*``) and in
    CLI/test processes (the metadata DB). Where neither can be asked it logs why and returns None;
    callers that need the connection (the store, the cache) then fail naming it.
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
    from airflow.models.connection import Connection as DbConnection

    try:
        return DbConnection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # noqa: BLE001 - e.g. a plain script with no metadata DB to ask
        log.warning("connection %s: not found through the task API and the metadata DB is not readable "
                    "here (%s: %s); treating it as undefined", conn_id, type(exc).__name__, redact_url(exc))
        return None


def provider_hook(hook_class: type[H], conn_id: str, **kwargs: Any) -> H | None:
    """An Airflow provider hook (``MongoHook``, ``PostgresHook`` ...) on connection ``conn_id`` as
    :func:`airflow_connection` resolves it, so tasks, the CLI and tests read the same connection;
    None when the connection is not defined."""
    conn = airflow_connection(conn_id)
    if conn is None:
        return None
    resolved = type(f"Resolved{hook_class.__name__}", (hook_class,),
                    {"get_connection": classmethod(lambda cls, _conn_id: conn)})
    return resolved(**kwargs)


def metadata_db_hook():
    """A ``PostgresHook`` on Airflow's metadata DB through connection ``airflow_metadata_db``
    (airflow_settings.yaml defines it), or None when it is not defined. Airflow 3 hides its own
    ``sql_alchemy_conn`` from task code; the health check's ping and the cleanup job's
    ``airflow db clean`` reach the metadata DB through this connection."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return provider_hook(PostgresHook, Conns.METADATA_DB, postgres_conn_id=Conns.METADATA_DB,
                         sqlalchemy_scheme="postgresql")


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
    """A MongoDB URI, the client options that go with it, and the database our collections live in."""

    uri: str
    database: str
    source: str  # where it came from, for messages: "connection mongo_default", "MONGO_URI", ...
    options: Mapping[str, Any] = field(default_factory=dict)  # MongoClient keyword arguments

    @property
    def redacted_uri(self) -> str:
        """The URI without credentials, safe for logs and error messages."""
        return redact_url(self.uri)


def _db_from_uri(uri: str) -> str | None:
    path = urlsplit(uri).path.lstrip("/")
    return path or None


def mongo_target() -> MongoTarget:
    """The store: connection ``mongo_default`` (``AIRFLOW_CONN_MONGO_DEFAULT`` or the metadata DB),
    read through the MongoDB provider's ``MongoHook``; else the seed's ``MONGO_URI`` /
    ``MONGODB_URL``. Neither: :class:`ConfigError` (never a silent local default).

    The database is the connection schema / URI path, else ``TA_MONGO_DB``.
    """
    fallback_db = setting("TA_MONGO_DB") or DEFAULT_DB_NAME
    from airflow.providers.mongo.hooks.mongo import MongoHook

    hook = provider_hook(MongoHook, Conns.MONGO, mongo_conn_id=Conns.MONGO)
    if hook is not None:
        options = dict(hook.extras)
        if hook.allow_insecure:
            options["tlsAllowInvalidCertificates"] = True
        return MongoTarget(hook.uri, hook.connection.schema or fallback_db, f"connection {Conns.MONGO}", options)
    for var in ("MONGO_URI", "MONGODB_URL"):
        uri = os.environ.get(var)
        if uri:
            return MongoTarget(uri, _db_from_uri(uri) or fallback_db, var)
    raise config_error(f"no store configured: define connection {Conns.MONGO} (or AIRFLOW_CONN_MONGO_DEFAULT, "
                      "or the seed's MONGO_URI); scripts/env.sh and airflow_settings.yaml define it locally")


def mongo_connection_json(uri: str) -> str:
    """A MongoDB URI as the JSON form of an Airflow ``mongo`` connection (``AIRFLOW_CONN_MONGO_DEFAULT``).

    The JSON form keeps what a URI-form connection loses: replica-set host lists with a port each,
    ``mongodb+srv`` (extra ``srv``) and options (extras, passed to ``MongoClient`` by the hook).
    ``scripts/env.sh`` maps the seed's ``MONGO_URI`` / ``MONGODB_URL`` with it.
    """
    from urllib.parse import parse_qsl, unquote

    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        raise config_error(f"{redact_url(uri)}: not a mongodb:// or mongodb+srv:// URI")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    login, _, password = userinfo.partition(":")
    extra: dict[str, Any] = dict(parse_qsl(query))
    if scheme == "mongodb+srv":
        extra["srv"] = True
    conn: dict[str, Any] = {"conn_type": "mongo", "host": hosts, "schema": unquote(path) or None, "extra": extra}
    if at:
        conn.update(login=unquote(login), password=unquote(password))
    return json.dumps(conn)


def redis_location() -> str:
    """Where the cache is, for messages (no credentials): connection ``redis_default``'s
    ``redis://host:port/db``, else the seed's ``REDIS_URL``. Clients come from
    ``storage.cache.connect`` (``RedisHook``)."""
    conn = airflow_connection(Conns.REDIS)
    if conn is not None:
        return f"redis://{conn.host}:{conn.port or 6379}/{conn.extra_dejson.get('db', 0)}"
    return redact_url(seed_redis_url())


def seed_redis_url() -> str:
    """The seed's ``REDIS_URL`` (used when connection ``redis_default`` is not defined), else
    :class:`ConfigError`."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    raise config_error(f"no cache configured: define connection {Conns.REDIS} (or AIRFLOW_CONN_REDIS_DEFAULT, "
                      "or the seed's REDIS_URL)")


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


def knob_table() -> str:
    """The Markdown table of every ``TA_*`` knob, as README's "Configuration" section shows it
    (``python -m ta_scheduler.config`` prints it)."""
    rows = ["| setting | Airflow Variable | default | unit | meaning |", "|---|---|---|---|---|"]
    for k in KNOBS.values():
        default = (k.default or "—").replace(str(PROJECT_DIR), "<project>")
        variable = f"`{k.variable}`" if k.variable else "—"
        rows.append(f"| `{k.name}` | {variable} | `{default}` | {k.unit} | {k.doc} |".replace("`—`", "—"))
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(knob_table(), end="")
