"""Where each LLM provider's key, endpoint and model names come from.

Order, as everywhere in the project (``ta_scheduler.config``): Airflow connection → the seed's
environment names → default. The key is never logged; :class:`ProviderSettings` hides it from ``repr``.

=============  ===========================  ===============================  ==========================
provider       key                          base URL                         connection
=============  ===========================  ===============================  ==========================
dashscope      ``DASHSCOPE_API_KEY``        ``DASHSCOPE_BASE_URL``           ``dashscope_default``
                                            (default the SDK's: …/api/v1)    password = key, host = URL
deepseek       ``DEEPSEEK_API_KEY``         ``DEEPSEEK_BASE_URL``            ``deepseek_default``
                                            (default https://api.deepseek.com)
=============  ===========================  ===============================  ==========================

Model names per provider: the connection extra ``{"quick_model": ..., "deep_model": ...}``, else
``<PROVIDER>_QUICK_MODEL`` / ``<PROVIDER>_DEEP_MODEL`` env, else the depth table in
``ta_scheduler.llm.params``. A run's ``quick_model``/``deep_model`` params override all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ta_scheduler.config import LLM_ENV, airflow_connection, llm_env, setting_float

if TYPE_CHECKING:
    from airflow.sdk import Connection

DASHSCOPE_DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
DEEPSEEK_DEFAULT_BASE_URL = "https://api.deepseek.com"

_ENV = LLM_ENV


@dataclass(frozen=True)
class ProviderSettings:
    """Resolved configuration of one LLM provider; ``api_key`` is excluded from ``repr``."""

    provider: str
    base_url: str
    api_key: str | None = field(repr=False)
    key_source: str  # "env DASHSCOPE_API_KEY", "connection dashscope_default" or "none"
    quick_model: str | None = None  # configured override for every depth, if any
    deep_model: str | None = None
    timeout: float = 120.0  # seconds per request


def _url_from_connection(conn: Connection, default_path: str) -> str | None:
    """A base URL from a connection: ``host`` may be a full URL, or a host name plus port/schema."""
    host = (conn.host or "").strip()
    if not host:
        return None
    if "://" in host:
        return host.rstrip("/")
    scheme = conn.schema if conn.schema in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}{default_path}"


def provider_settings(provider: str) -> ProviderSettings:
    """Key, base URL, timeout and model overrides for ``dashscope`` or ``deepseek``.

    Each field comes from the Airflow connection first, then the seed's environment names.
    ``TA_LLM_TIMEOUT`` sets the per-request timeout in seconds (default 120).
    """
    if provider not in _ENV:
        raise ValueError(f"no settings for LLM provider {provider!r}: expected one of {sorted(_ENV)}")
    key_var, url_var, conn_id = _ENV[provider]
    env = llm_env(provider)
    conn = airflow_connection(conn_id)
    extra = (conn.extra_dejson or {}) if conn is not None else {}
    if conn is not None and conn.password:
        key, key_source = conn.password, f"connection {conn_id}"
    else:
        key, key_source = env["key"], f"env {key_var}" if env["key"] else "none"
    url = (_url_from_connection(conn, "/api/v1" if provider == "dashscope" else "") if conn is not None else None) or env["url"]
    quick = extra.get("quick_model") or env["quick"]
    deep = extra.get("deep_model") or env["deep"]
    default_url = DASHSCOPE_DEFAULT_BASE_URL if provider == "dashscope" else DEEPSEEK_DEFAULT_BASE_URL
    return ProviderSettings(
        provider=provider,
        base_url=(url or default_url).rstrip("/"),
        api_key=key,
        key_source=key_source,
        quick_model=quick,
        deep_model=deep,
        timeout=setting_float("TA_LLM_TIMEOUT"),
    )


def missing_key_message(provider: str) -> str:
    """What to do when no key is configured (names the places, never a value)."""
    key_var, _, conn_id = _ENV[provider]
    return (
        f"{provider}: no API key configured; set env {key_var} or the password of Airflow connection "
        f"{conn_id!r}, or run with llm_provider='offline'"
    )
