"""Retention: delete store documents past their cutoff, and purge old Airflow metadata rows.

Only short-lived collections have a retention (intraday snapshots, news, quarantined rows). History
the analysis is built on — daily bars, financials, research and reports — is kept forever, and a
configuration naming one of those collections is refused rather than silently applied.

Configuration (``load_retention_config``), first found wins, merged over the defaults:
  Airflow Variable ``ta_retention_days`` → env ``TA_RETENTION_DAYS`` → ``DEFAULT_RETENTION_DAYS``.
Both are JSON objects ``{"collection": days}``; ``null`` switches a collection's cleanup off.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: The timestamp field (aware datetime) each collection's age is measured on.
RETENTION_FIELDS: dict[str, str] = {
    C.INTRADAY_SNAPSHOTS: "snapshot_time",
    C.STOCK_NEWS: "publish_time",
    C.QUARANTINE: "quarantined_at",
}

#: Days kept per collection when nothing overrides them.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    C.INTRADAY_SNAPSHOTS: 30,
    C.STOCK_NEWS: 180,
    C.QUARANTINE: 90,
}

#: Collections cleanup never touches, whatever the configuration says.
PROTECTED_COLLECTIONS: frozenset[str] = frozenset(
    {
        C.STOCK_DAILY_QUOTES,
        C.STOCK_FINANCIAL_DATA,
        C.ANALYSIS_REPORTS,
        C.REPORTS,
        C.STOCK_BASIC_INFO,
        C.INDEX_DAILY,
        C.TRADE_CALENDAR,
        C.PORTFOLIOS,
        C.SYNC_STATE,
    }
)

RETENTION_ENV = "TA_RETENTION_DAYS"
MIN_DAYS, MAX_DAYS = 1, 3650

#: Metadata tables ``clean_airflow_metadata`` purges by default: run history and its by-products.
#: ``dag``/``dag_version`` (DAG definitions), ``trigger`` and ``asset_event`` are left alone.
DEFAULT_METADATA_TABLES: tuple[str, ...] = (
    "dag_run",
    "task_instance",
    "task_instance_history",
    "task_reschedule",
    "xcom",
    "log",
    "job",
    "import_error",
    "callback",
    "celery_taskmeta",
    "celery_tasksetmeta",
    "revoked_token",
)

#: Tables ``airflow db clean --tables`` accepts in Airflow 3.3.
KNOWN_METADATA_TABLES: frozenset[str] = frozenset(
    {
        "_xcom_archive", "asset_event", "callback", "celery_taskmeta", "celery_tasksetmeta",
        "connection_test_request", "dag", "dag_run", "dag_version", "deadline", "import_error",
        "job", "log", "partitioned_asset_key_log", "revoked_token", "task_instance",
        "task_instance_history", "task_reschedule", "task_state_store", "trigger", "xcom",
    }
)

#: How Airflow 3's placeholder for ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` in a task's environment
#: begins (it refuses database access; ``metadata_db_conn`` then needs the connection).
_BLOCKED_CONN_PREFIX = "airflow-db-not-allowed"


class RetentionConfigError(ValueError):
    """The retention configuration is malformed or names a collection cleanup must not touch."""


class AirflowDbCleanError(RuntimeError):
    """``airflow db clean`` could not run, failed or timed out."""


def _validate_days(name: str, days: Any, source: str) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise RetentionConfigError(
            f"retention for {name!r} from {source}: {days!r} is not a whole number of days "
            f"in {MIN_DAYS}..{MAX_DAYS}"
        )
    return days


def validate_retention(retention: Mapping[str, Any], source: str = "argument") -> dict[str, int]:
    """``retention`` checked: known, unprotected collections and days in 1..3650.

    Raises ``RetentionConfigError`` naming the offending entry and where it came from.
    """
    checked: dict[str, int] = {}
    for name, days in retention.items():
        if name in PROTECTED_COLLECTIONS:
            raise RetentionConfigError(
                f"retention from {source} names {name!r}, a protected collection (history is kept "
                f"forever); remove it. Protected: {', '.join(sorted(PROTECTED_COLLECTIONS))}"
            )
        if name not in RETENTION_FIELDS:
            raise RetentionConfigError(
                f"retention from {source} names {name!r}, which has no retention field; collections "
                f"with a retention: {', '.join(sorted(RETENTION_FIELDS))}"
            )
        checked[name] = _validate_days(name, days, source)
    return checked


def load_retention_config() -> dict[str, int]:
    """Days to keep per collection: Variable ``ta_retention_days``, else env ``TA_RETENTION_DAYS``,
    else the defaults.

    The override is a JSON object merged over ``DEFAULT_RETENTION_DAYS``: ``{"stock_news": 365}``
    changes news only, ``{"stock_news": null}`` turns news cleanup off. Call inside a task (the
    Variable is read through Airflow), never at DAG parse time.
    """
    from ta_scheduler.config import setting_with_origin

    raw, source = setting_with_origin(RETENTION_ENV)
    config: dict[str, Any] = dict(DEFAULT_RETENTION_DAYS)
    if raw:
        try:
            override = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RetentionConfigError(f"retention from {source} is not JSON ({exc}): {raw[:200]!r}") from exc
        if not isinstance(override, dict):
            raise RetentionConfigError(
                f"retention from {source} must be a JSON object {{collection: days}}, got {raw[:200]!r}"
            )
        config.update(override)
        log.info("retention overridden from %s: %s", source, override)
    return validate_retention({k: v for k, v in config.items() if v is not None}, source)


def cleanup_collections(
    db: Database,
    *,
    now: dt.datetime,
    retention: Mapping[str, int],
    dry_run: bool = False,
    days_to_keep: int | None = None,
) -> dict[str, int]:
    """Delete documents whose retention field is strictly older than ``now - days``.

    ``retention`` maps collection → days (validated like the configuration); ``days_to_keep``, if
    given, replaces every collection's days (a manual run's override). A document exactly at its
    cutoff, or without the field, or whose field is not a datetime, is kept. With ``dry_run``
    nothing is deleted and the counts are what would be. Returns documents deleted per collection.
    """
    if now.tzinfo is None:
        raise ValueError(f"cleanup needs an aware 'now' (got naive {now!r})")
    checked = validate_retention(retention)
    if days_to_keep is not None:
        days_to_keep = _validate_days("days_to_keep", days_to_keep, "days_to_keep")
        checked = dict.fromkeys(checked, days_to_keep)
    from ta_scheduler.storage.writes import delete_where

    counts: dict[str, int] = {}
    for name, days in sorted(checked.items()):
        field = RETENTION_FIELDS[name]
        cutoff = now - dt.timedelta(days=days)
        query = {field: {"$lt": cutoff}}
        if dry_run:
            counts[name] = db[name].count_documents(query)
        else:
            counts[name] = delete_where(db[name], query)
        log.info(
            "cleanup %s: %s %d documents with %s before %s (%d days)%s",
            name, "would delete" if dry_run else "deleted", counts[name], field,
            cutoff.isoformat(), days, " [dry run]" if dry_run else "",
        )
    return counts


def metadata_db_conn(explicit: str | None = None) -> str | None:
    """The SQLAlchemy URL ``airflow db clean`` should use, or None to let it read airflow.cfg.

    Order: ``explicit`` → connection ``airflow_metadata_db`` (:func:`config.metadata_db_hook`, the
    one the health check pings) → ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` unless it is Airflow 3's
    in-task placeholder. Inside a task without the connection this raises naming it.
    """
    if explicit:
        return explicit
    from ta_scheduler.config import metadata_db_hook, sql_alchemy_conn
    from ta_scheduler.constants import Conns

    hook = metadata_db_hook()
    if hook is not None:
        return hook.get_uri()
    current = sql_alchemy_conn()
    if current and current.startswith(_BLOCKED_CONN_PREFIX):
        raise AirflowDbCleanError(
            "airflow db clean needs the metadata DB, but this process runs inside an Airflow 3 task "
            f"where AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is blocked; define connection {Conns.METADATA_DB} "
            "(airflow_settings.yaml does)"
        )
    return current or None


def _parse_db_clean_output(text: str) -> dict[str, int]:
    """Rows per table from the CLI's ``Checking table T`` / ``Found N rows ...`` lines."""
    rows: dict[str, int] = {}
    table = None
    for line in text.splitlines():
        m = re.match(r"\s*Checking table (\S+)", line)
        if m:
            table = m.group(1)
            continue
        m = re.match(r"\s*Found (\d+) rows meeting deletion criteria", line)
        if m and table:
            rows[table] = int(m.group(1))
            table = None
    return rows


def clean_airflow_metadata(
    *,
    older_than_days: int,
    dry_run: bool,
    tables: Sequence[str] = DEFAULT_METADATA_TABLES,
    now: dt.datetime | None = None,
    timeout_seconds: float = 1800,
    sql_alchemy_conn: str | None = None,
    airflow_command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Purge metadata rows older than ``older_than_days`` with ``airflow db clean``.

    Runs the CLI in a subprocess (the ORM is off-limits to Airflow 3 task code) with
    ``--skip-archive -y --error-on-cleanup-failure``, so a table that fails to clean fails the job.
    The metadata DB URL comes from ``metadata_db_conn``. ``airflow_command`` replaces the
    ``python -m airflow`` prefix (another installation). Returns the command, cutoff and the
    rows per table the CLI reported (to delete, or that would be deleted with ``dry_run``).
    Raises ``AirflowDbCleanError`` naming the command on a non-zero exit or after
    ``timeout_seconds``.
    """
    days = _validate_days("older_than_days", older_than_days, "older_than_days")
    unknown = sorted(set(tables) - KNOWN_METADATA_TABLES)
    if not tables or unknown:
        raise AirflowDbCleanError(
            f"airflow db clean: unknown or no tables {unknown or list(tables)}; "
            f"known: {', '.join(sorted(KNOWN_METADATA_TABLES))}"
        )
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError(f"clean_airflow_metadata needs an aware 'now' (got naive {now!r})")
    cutoff = (now - dt.timedelta(days=days)).astimezone(dt.timezone.utc).replace(microsecond=0)
    cmd = [
        *(airflow_command or (sys.executable, "-m", "airflow")),
        "db", "clean",
        "--clean-before-timestamp", cutoff.isoformat(sep=" "),
        "--tables", ",".join(tables),
        "--skip-archive", "--error-on-cleanup-failure", "-y",
    ]
    if dry_run:
        cmd.append("--dry-run")
    from ta_scheduler.config import subprocess_env

    conn = metadata_db_conn(sql_alchemy_conn)
    env = subprocess_env(**({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn} if conn else {}))
    printable = " ".join(cmd)
    log.info("running: %s", printable)
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_seconds, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AirflowDbCleanError(f"`{printable}` did not finish within {timeout_seconds:.0f} s") from exc
    except OSError as exc:
        raise AirflowDbCleanError(f"`{printable}` could not start: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
        raise AirflowDbCleanError(
            f"`{printable}` exited with {proc.returncode}:\n" + "\n".join(tail)
        )
    rows = _parse_db_clean_output(proc.stdout)
    log.info("airflow db clean%s before %s: %s", " (dry run)" if dry_run else "", cutoff.isoformat(), rows)
    return {
        "command": cmd,
        "clean_before": cutoff.isoformat(),
        "dry_run": dry_run,
        "tables": rows,
    }
