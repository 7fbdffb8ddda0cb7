"""The health check (SPEC §3 job 13): is every part the pipelines need answering?

Each check returns a :class:`CheckResult`; :func:`run_health_check` runs them all (a check
that crashes counts as failed, it never hides the others) and raises
:class:`HealthCheckFailed` naming every component that is down, so the task fails and the
failure alert fires. Extra checks plug in through the ``extra`` argument; the maintenance DAG's
``health_check`` (``maintenance.tasks.run_platform_health_check``) adds :data:`DEPLOYMENT_CHECKS`
(data freshness and completeness, calendar coverage, backup age, tushare permissions).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ta_scheduler.config import airflow_home, metadata_db_hook, mongo_target, redact_url, redis_location, setting, state_dir
from ta_scheduler.constants import Collections, Conns, Queues
from ta_scheduler.market import TZ

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    elapsed_ms: float = 0.0
    applicable: bool = True
    warning: bool = False  # up, but something needs a person's attention (logged once a day)


class HealthCheckFailed(RuntimeError):
    """One or more components are down; the message names each with its error."""

    def __init__(self, failed: Sequence[CheckResult]):
        self.failed = list(failed)
        super().__init__(
            "health check failed: " + "; ".join(f"{r.name} DOWN ({r.detail})" for r in self.failed)
        )


def check_mongo() -> CheckResult:
    """Ping the store with a short timeout (a fresh client, not the cached pool)."""
    from pymongo import MongoClient

    target = mongo_target()
    client = MongoClient(target.uri, **{**target.options, "serverSelectionTimeoutMS": int(TIMEOUT_S * 1000),
                                        "connectTimeoutMS": 3000})
    try:
        client.admin.command("ping")
        return CheckResult("mongodb", True, f"{target.redacted_uri} ({target.source}) answers ping")
    except Exception as exc:
        return CheckResult("mongodb", False, f"{target.redacted_uri} ({target.source}): {_short(exc)}")
    finally:
        client.close()


def check_redis(url: str | None = None) -> CheckResult:
    """PING the cache at ``url``, else the configured one (connection ``redis_default``, ``RedisHook``)."""
    from ta_scheduler.storage.cache import connect

    where = redact_url(url) if url else redis_location()
    try:
        client = connect(url, socket_timeout=TIMEOUT_S)
        client.ping()
        client.close()
        return CheckResult("redis", True, f"{where} answers PING")
    except Exception as exc:
        return CheckResult("redis", False, f"{where}: {_short(exc)}")


def check_metadata_db() -> CheckResult:
    """``SELECT 1`` on Airflow's metadata DB through connection ``airflow_metadata_db`` (``PostgresHook``).

    Airflow 3 blocks task code from the metadata DB configured for Airflow itself (it rewrites
    ``sql_alchemy_conn`` in task processes), so the check uses an explicit, read-only purpose
    connection that airflow_settings.yaml (and the compose file) define.
    """
    import psycopg2

    hook = metadata_db_hook()
    if hook is None:
        return CheckResult("metadata_db", False, f"connection {Conns.METADATA_DB} is not configured")
    conn = hook.connection
    where = f"postgresql://{conn.host}:{conn.port or 5432}/{conn.schema}"
    try:
        with psycopg2.connect(hook.get_uri(), connect_timeout=5) as pg, pg.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        pg.close()
        return CheckResult("metadata_db", True, f"{where} answers SELECT 1")
    except Exception as exc:
        return CheckResult("metadata_db", False, f"{where}: {_short(exc)}")


def check_celery_workers(queues: Iterable[str] = Queues.ALL) -> CheckResult:
    """Every queue has at least one live Celery worker consuming it (CeleryExecutor only)."""
    from airflow.configuration import conf

    executor = conf.get("core", "executor", fallback="")
    if "Celery" not in executor:
        return CheckResult("celery_workers", True, f"not applicable ({executor or 'default'} executor)", applicable=False)
    try:
        from airflow.providers.celery.executors.celery_executor import app

        replies = app.control.inspect(timeout=TIMEOUT_S).active_queues() or {}
    except Exception as exc:
        return CheckResult("celery_workers", False, f"broker unreachable: {_short(exc)}")
    serving: dict[str, list[str]] = {}
    for worker, qs in replies.items():
        for q in qs:
            serving.setdefault(q["name"], []).append(worker)
    missing = [q for q in queues if q not in serving]
    if missing:
        return CheckResult("celery_workers", False, f"no worker answers for queue(s) {', '.join(missing)}")
    return CheckResult("celery_workers", True, ", ".join(f"{q}: {len(serving[q])} worker(s)" for q in queues))


def check_disk(paths: Iterable[str | Path], min_free_gb: float) -> CheckResult:
    """Free space on the filesystems holding logs and data."""
    low, seen = [], []
    for p in paths:
        path = Path(p)
        while not path.exists() and path != path.parent:
            path = path.parent
        usage = shutil.disk_usage(path)
        free_gb = usage.free / 2**30
        seen.append(f"{p}: {free_gb:.1f} GiB free")
        if free_gb < min_free_gb:
            low.append(f"{p} has {free_gb:.2f} GiB free (< {min_free_gb} GiB)")
    if low:
        return CheckResult("disk", False, "; ".join(low))
    return CheckResult("disk", True, "; ".join(seen))


def check_calendar(now: datetime | None = None) -> CheckResult:
    """A trading calendar for the next ``warn_days`` (30) days (SPEC §5).

    - verified (tushare ``trade_cal`` or XSHG) that far ahead: up;
    - only **provisional** (the statutory holiday rules) within them, e.g. next year in December
      before the exchange's notice, or forever on a demo deployment with no tushare token: up,
      with a warning logged once a day (nothing is wrong that a person could fix today);
    - neither (sessions within them would be ASSUMED Monday-Friday: no calendar at all), or a
      calendar file is broken: down.
    """
    from ta_scheduler.calendar.lookup import calendar_coverage_report

    now = now or datetime.now(tz=TZ)
    today = now.astimezone(TZ).date()
    report = calendar_coverage_report(today)
    if report["ok"]:
        return CheckResult("calendar", True, report["message"])
    covered_days = (date.fromisoformat(report["assumed_from"]) - today).days
    if report["problems"] or covered_days <= report["warn_days"]:
        return CheckResult("calendar", False, report["message"])
    message = (f"{report['message']} (a warning: the provisional calendar covers {covered_days} days ahead; "
               f"the check fails {report['warn_days']} days before no calendar covers the sessions)")
    _warn_once_a_day_or_log(now, "calendar_provisional", message)
    return CheckResult("calendar", True, message, warning=True)


#: How long after the vendor deadline the day's sync may still be writing (a whole-market day
#: takes minutes; the deadline is when daily_sync stops waiting for tushare).
SYNC_ALLOWANCE = timedelta(minutes=30)


def bars_due_at(day: date) -> datetime:
    """When a trading day's bars must be in the store: ``daily_sync``'s default vendor deadline
    (``waits.vendor.DEFAULT_DEADLINE``, 22:00; until then it may rightly be waiting for tushare)
    plus :data:`SYNC_ALLOWANCE`. Freshness and completeness judge a day only from then on."""
    from ta_scheduler.waits.vendor import DEFAULT_DEADLINE, deadline_for

    return deadline_for(day.isoformat(), DEFAULT_DEADLINE) + SYNC_ALLOWANCE


def expected_bars_date(now: datetime) -> str:
    """The trading day whose bars must be in the store at ``now``: today's session once its
    bars are due (:func:`bars_due_at`, 22:30 Asia/Shanghai), else the previous session."""
    from ta_scheduler.calendar.lookup import get_calendar

    local = now.astimezone(TZ)
    cal = get_calendar()
    day = local.date()
    if cal.is_session(day) and local >= bars_due_at(day):
        return day.isoformat()
    return cal.previous_session(day).isoformat()


#: What the data checks say on a deployment that has not synced anything yet.
NEW_DEPLOYMENT = ("a new deployment: nothing synced yet (no daily bars, an empty completeness ledger); "
                  "trigger daily_sync, or wait for its 16:30 run")


def nothing_synced_yet(db) -> bool:
    """No daily bar and no ledger entry in the store: a deployment waiting for its first
    daily_sync. Its data checks warn instead of failing (a store emptied under a running
    deployment looks the same until the next daily_sync, after which completeness fails on
    the days it lost)."""
    from ta_scheduler.storage import ledger

    return (db[Collections.STOCK_DAILY_QUOTES].find_one({}, {"_id": 1}) is None
            and db[ledger.COLLECTION].find_one({}, {"_id": 1}) is None)


def check_freshness(now: datetime | None = None) -> CheckResult:
    """Latest daily bars in the store == the last trading day they should exist for (the days up
    to today probed one index lookup each: a sort of every bar would decode the whole history on
    the embedded store, every 10 minutes)."""
    from ta_scheduler.analytics.stored_bars import latest_trade_date_with_bars
    from ta_scheduler.storage.mongo import get_db

    now = now or datetime.now(tz=TZ)
    want = expected_bars_date(now)
    db = get_db()
    have = latest_trade_date_with_bars(db, on_or_before=now.astimezone(TZ).date().isoformat())
    if have is None:
        if nothing_synced_yet(db):
            return CheckResult("freshness", True, NEW_DEPLOYMENT, warning=True)
        return CheckResult("freshness", False, "no daily bars in the store (the completeness ledger has entries: "
                           "were they deleted?): trigger daily_sync")
    if have < want:
        return CheckResult("freshness", False, f"latest daily bars are for {have}, expected {want}: daily_sync is behind")
    return CheckResult("freshness", True, f"daily bars up to {have} (expected {want})")


#: Datasets the completeness check holds to every trading day of its window.
COMPLETENESS_DATASETS: tuple[str, ...] = (
    "daily_bars", "adj_factor", "daily_basic", "limit_prices", "index_bars", "indicators", "sentiment",
)
DEFAULT_COMPLETENESS_DAYS = 20


def completeness_window(now: datetime, days: int) -> list[str]:
    """The last ``days`` trading days whose data must be stored at ``now``, oldest first."""
    from ta_scheduler.storage.ledger import trading_days_ending

    return trading_days_ending(expected_bars_date(now), days)


#: Datasets ``analysis_pipeline`` computes from a day's bars once they land (``daily_bars`` asset).
DERIVED_DATASETS = ("indicators", "sentiment")
#: How long after a day's bars were stored its derived datasets may still be missing without
#: failing the check: the analysis runs right after the sync, a first sync's repaired window
#: takes it a few minutes.
DERIVED_GRACE = timedelta(hours=1)


def derived_pending(found: dict, now: datetime) -> set[tuple[str, str]]:
    """``(dataset, period)`` of the derived datasets whose day's bars were completed within
    :data:`DERIVED_GRACE` before ``now`` (the analysis may still be computing them)."""
    from ta_scheduler.storage import ledger

    fresh = set()
    for (dataset, period), doc in found.items():
        stamp = doc.get("updated_at")
        if dataset != "daily_bars" or doc["state"] != ledger.COMPLETE or stamp is None:
            continue
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
        if now - DERIVED_GRACE <= stamp <= now:
            fresh.add(period)
    return {(d, p) for d in DERIVED_DATASETS for p in fresh}


def completeness_problems(found: dict, periods: Sequence[str], datasets: Sequence[str],
                          pending: Collection[tuple[str, str]] = (),
                          starts: dict[str, str] | None = None) -> dict[str, list[str]]:
    """``{dataset: ["<period> <state>[ stored/expected]", …]}`` for the unsettled entries of
    a :func:`ledger.entries` result (an absent entry is ``missing``).

    A dataset's history starts at ``starts[dataset]`` (:func:`ledger.first_periods`; default its
    first entry in the window): the days before it were never synced (a new deployment), which is
    not a hole. A dataset with no entry at all is missing. A ``pending`` ``(dataset, period)``
    still missing is not reported (see :func:`derived_pending`).
    """
    from ta_scheduler.storage import ledger

    out: dict[str, list[str]] = {}
    for dataset in datasets:
        first = (starts or {}).get(dataset) or min((p for (d, p) in found if d == dataset),
                                                   default=periods[0] if periods else "")
        for p in periods:
            if p < first:
                continue
            doc = found.get((dataset, p)) or {"state": ledger.MISSING}
            if doc["state"] in ledger.SETTLED or (doc["state"] == ledger.MISSING and (dataset, p) in pending):
                continue
            counts = f" {doc['stored']}/{doc['expected']}" if doc.get("expected") is not None and doc["state"] == ledger.PARTIAL else ""
            out.setdefault(dataset, []).append(f"{p} {doc['state']}{counts}")
    return out


#: What heals each dataset the completeness check judges (the check's message says it per dataset).
DAILY_SYNC_REPAIRS = ("the next daily_sync repairs its last repair_days (20) trading days; older days need a "
                      "backfill (daily_sync start_date/end_date)")
ANALYSIS_RECOMPUTES = ('a daily_sync repair of the day\'s bars recomputes them; else trigger analysis_pipeline '
                       'with {"date": "<day>"}')
HEALED_BY: dict[str, str] = {
    "daily_bars": DAILY_SYNC_REPAIRS, "adj_factor": DAILY_SYNC_REPAIRS, "daily_basic": DAILY_SYNC_REPAIRS,
    "limit_prices": DAILY_SYNC_REPAIRS, "index_bars": DAILY_SYNC_REPAIRS,
    "indicators": ANALYSIS_RECOMPUTES, "sentiment": ANALYSIS_RECOMPUTES,
}


def check_completeness(now: datetime | None = None, days: int = DEFAULT_COMPLETENESS_DAYS,
                       datasets: Sequence[str] = COMPLETENESS_DATASETS) -> CheckResult:
    """Every dataset complete on each of the last ``days`` trading days (the completeness
    ledger, one query), and the store still holding the daily bars the ledger says were written
    (a count of the judged days' rows, :func:`~ta_scheduler.sync.completeness.stored_rows_per_day`).
    A day that lost rows is marked partial in the ledger, so the next ``daily_sync`` repairs it,
    and named. ``not_due`` and ``not_permitted`` are not failures; ``not_permitted`` is logged as
    a warning once per day (a marker in ``health_checks``), not at every check."""
    from ta_scheduler.storage import ledger
    from ta_scheduler.storage.mongo import get_db
    from ta_scheduler.sync.completeness import reconcile_daily, stored_rows_per_day

    now = now or datetime.now(tz=TZ)
    db = get_db()
    if nothing_synced_yet(db):
        return CheckResult("completeness", True, NEW_DEPLOYMENT, warning=True)
    periods = completeness_window(now, days)
    found = ledger.entries(db, periods, datasets)
    lost: dict[str, dict[str, int]] = {}
    if "daily_bars" in datasets:
        judged = [p for p in periods if (found.get(("daily_bars", p)) or {}).get("stored")]
        lost = reconcile_daily(db, judged, stored_rows_per_day(db, judged), noticed_by="health check")
        if lost:
            found = ledger.entries(db, periods, datasets)
    refused = sorted({d for (d, _p), doc in found.items() if doc["state"] == ledger.NOT_PERMITTED})
    if refused:
        _warn_once_a_day(db, now, "not_permitted", f"the data source refuses {', '.join(refused)} (not_permitted in "
                         f"the completeness ledger): these datasets stay empty until the permission is granted")
    bad = completeness_problems(found, periods, datasets, derived_pending(found, now), ledger.first_periods(db, datasets))
    if bad:
        parts = []
        if lost:
            parts.append("rows lost from the store: " + ", ".join(
                f"{day} holds {c['store']} daily bars, the ledger had {c['ledger']}" for day, c in sorted(lost.items())))
        parts += [f"{d}: {len(v)} of {days} days not complete ({', '.join(v[:5])}{' …' if len(v) > 5 else ''})"
                  for d, v in bad.items()]
        healers: dict[str, list[str]] = {}
        for d in bad:
            healers.setdefault(HEALED_BY.get(d, "no job repairs it: re-run the job that writes it"), []).append(d)
        parts += [f"{', '.join(ds)}: {how}" for how, ds in healers.items()]
        return CheckResult("completeness", False, "; ".join(parts))
    return CheckResult("completeness", True, f"{len(datasets)} datasets complete for {periods[0]} .. {periods[-1]}"
                       + (f" (not permitted: {', '.join(refused)})" if refused else ""))


def _warn_once_a_day(db, now: datetime, topic: str, message: str) -> None:
    """Log ``message`` as a warning the first time ``topic`` comes up on an exchange-local day."""
    day = now.astimezone(TZ).date().isoformat()
    from ta_scheduler.storage.writes import write_docs

    marker = {"topic": topic, "day": day, "message": message}
    if write_docs(db[Collections.HEALTH_CHECKS], [marker], mode="insert", timestamp_field=None,
                  created_field="warned_at").inserted:
        log.warning("%s", message)


def _warn_once_a_day_or_log(now: datetime, topic: str, message: str) -> None:
    """:func:`_warn_once_a_day` on the store; when the store cannot be asked (its own check
    says so) the warning is logged at every check rather than lost."""
    from pymongo.errors import PyMongoError

    from ta_scheduler.storage.mongo import get_db

    try:
        _warn_once_a_day(get_db(), now, topic, message)
    except PyMongoError as exc:
        log.warning("%s (the once-a-day marker could not be stored: %s)", message, _short(exc))


def check_backup_age(max_age_hours: float = 26.0, now: datetime | None = None) -> CheckResult:
    """The latest verified backup is younger than ``max_age_hours`` (daily backups at 02:00)."""
    from ta_scheduler.maintenance.backup import backup_root, latest_good

    latest = latest_good(backup_root())
    if latest is None:
        return CheckResult("backup", True, f"no verified backup in {backup_root()} yet", applicable=False)
    now = now or datetime.now(tz=TZ)
    age_h = (now.timestamp() - latest.stat().st_mtime) / 3600
    ok = age_h <= max_age_hours
    return CheckResult("backup", ok, f"latest verified backup {latest.name} is {age_h:.1f} h old"
                       + ("" if ok else f" (> {max_age_hours} h): check the backup job"))


def check_tushare_permissions() -> CheckResult:
    """The endpoints tushare refused the token today (its tier lacks them): a warning, not a
    failure — the syncs skip them and the ledger says ``not_permitted``. Logged at WARNING once a
    day per set of refusals (the check runs every 10 minutes)."""
    from ta_scheduler.providers.ratelimit import shared_limiter
    from ta_scheduler.providers.tiers import required
    from ta_scheduler.providers.tushare_pro import resolve_settings

    token, _ = resolve_settings()
    if not token or (setting("TA_DATA_PROVIDER") or "").strip().lower() == "demo":
        return CheckResult("tushare_permissions", True, "not applicable (no tushare token)", applicable=False)
    limiter = shared_limiter(token)
    refused = sorted(limiter.refused())
    if not refused:
        return CheckResult("tushare_permissions", True, f"tier {limiter.tier.name}: nothing refused today")
    detail = (f"tier {limiter.tier.name}: tushare refused the token today: "
              + ", ".join(f"{e} (needs {required(e)})" for e in refused)
              + "; those datasets are skipped (ledger: not_permitted). Raise the account's points or set "
              "TA_TUSHARE_TIER to match it")
    if limiter.store.first_time(limiter.today(), "permission-warning:" + ",".join(refused)):
        log.warning("health: %s", detail)
    return CheckResult("tushare_permissions", True, detail, warning=True)


#: What the deployment's jobs keep up, checked after the components (store, Redis, metadata DB,
#: workers, disks) by the maintenance DAG's ``health_check``, in this order.
DEPLOYMENT_CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_freshness, check_completeness, check_calendar, check_backup_age, check_tushare_permissions,
)


def default_disk_paths() -> list[str]:
    return [str(airflow_home() / "logs"), str(state_dir())]


def run_health_check(
    *,
    min_free_gb: float = 1.0,
    disk_paths: Iterable[str | Path] | None = None,
    redis: str | None = None,
    extra: Iterable[Callable[[], CheckResult]] = (),
) -> list[dict]:
    """Run every check; return their results (for XCom) or raise naming what is down."""
    checks: list[Callable[[], CheckResult]] = [
        check_mongo,
        lambda: check_redis(redis),
        check_metadata_db,
        check_celery_workers,
        lambda: check_disk(disk_paths or default_disk_paths(), min_free_gb),
        *extra,
    ]
    results = []
    for check in checks:
        t0 = time.perf_counter()
        try:
            res = check()
        except Exception as exc:  # a crashing check is a failed check, not a crashed health check
            res = CheckResult(getattr(check, "__name__", "check"), False, f"check crashed: {_short(exc)}")
        res.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
        log.info("health %-15s %s  %s (%.0f ms)", res.name, "DOWN" if not res.ok else "WARN" if res.warning else "OK  ",
                 res.detail, res.elapsed_ms)
        results.append(res)
    failed = [r for r in results if not r.ok]
    if failed:
        raise HealthCheckFailed(failed)
    return [asdict(r) for r in results]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]
