"""
### maintenance — keeps the platform healthy

Housekeeping jobs of the seed scheduler (SPEC §3 jobs 9–13), on queue `maintenance`. One DAG,
one schedule per job: each run executes only the jobs due at its time; the others show as
*skipped*. A manual run executes the jobs named in the `jobs` param (default: all).

| job | schedule (Asia/Shanghai) | what it does |
|---|---|---|
| `cleanup` | Sunday 01:00 | deletes intraday snapshots, news and quarantined rows past their retention (Variable `ta_retention_days`), never daily bars, financials or reports; then `airflow db clean` of old metadata. Params: `days_to_keep`, `dry_run` |
| `cache_refresh` | hourly at :30 | rebuilds the Redis keys analysis and reports read (latest quotes, stock list, indicators, hot stocks), switched in atomically |
| `log_archive` | daily 00:30 | packs task logs older than 7 days into dated archives with a manifest; deletes originals only after re-reading the archive |
| `backup` | daily 02:00 | dumps every collection with a manifest, proves it by restoring into a scratch database, keeps the last 7 |
| `health_check` | every 10 minutes | MongoDB, Redis, metadata DB, Celery workers per queue (cluster), disk, data freshness (a day's bars are due at 22:30, after daily_sync's vendor deadline), data completeness (the ledger's last 20 trading days, each day's bars counted in the store: a day that lost rows is named and marked for daily_sync's repair), calendar coverage, backup age; **fails naming what is down and what heals it** (which alerts); warns once a day naming the tushare endpoints the token was refused, and when the coming days' calendar is only provisional |

Details: `docs/maintenance.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task
from ta_scheduler.calendar.runs import jobs_param_schema
from ta_scheduler.constants import TIMEZONE, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_timetables import MultiScheduleTimetable

SCHEDULES = {
    "cleanup": "0 1 * * 0",
    "cache_refresh": "30 * * * *",
    "log_archive": "30 0 * * *",
    "backup": "0 2 * * *",
    "health_check": "*/10 * * * *",
}


@dag(
    schedule=MultiScheduleTimetable(SCHEDULES, timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["maintenance", "health"],
    params={
        "jobs": Param([], **jobs_param_schema(SCHEDULES)),
        "days_to_keep": Param(None, type=["null", "integer"], minimum=1, maximum=3650,
                              description="cleanup: keep this many days in every cleaned collection instead of the configured retention"),
        "dry_run": Param(False, type="boolean", description="cleanup: only count what would be deleted"),
    },
    default_args=default_args(queue=Queues.MAINTENANCE, retries=2, retry_delay=timedelta(seconds=30),
                              execution_timeout=timedelta(minutes=30)),
)
def maintenance():
    @task.branch(retries=1, execution_timeout=timedelta(minutes=2))
    def plan_jobs(params=None, dag=None, dag_run=None, data_interval_end=None) -> list[str]:
        """Which jobs this run executes (due ones, or the `jobs` param of a manual run); the others skip."""
        from ta_scheduler.calendar.runs import Run, jobs_for_run

        return jobs_for_run(SCHEDULES, Run.of(dag, dag_run, data_interval_end=data_interval_end), params["jobs"])

    @task
    def cleanup(params=None) -> dict:
        from ta_scheduler.maintenance.tasks import run_cleanup

        return run_cleanup(days_to_keep=params["days_to_keep"], dry_run=params["dry_run"])

    @task(execution_timeout=timedelta(minutes=10))
    def cache_refresh() -> dict:
        from ta_scheduler.maintenance.tasks import run_cache_refresh

        return run_cache_refresh()

    @task
    def log_archive() -> dict:
        from ta_scheduler.maintenance.tasks import run_log_archive

        return run_log_archive()

    @task(execution_timeout=timedelta(hours=1))
    def backup() -> dict:
        from ta_scheduler.maintenance.tasks import run_backup

        return run_backup()

    @task(retries=1, execution_timeout=timedelta(minutes=5))
    def health_check() -> list[dict]:
        """Fails with a message naming every component that is down."""
        from ta_scheduler.maintenance.tasks import run_platform_health_check

        return run_platform_health_check()

    plan_jobs() >> [cleanup(), cache_refresh(), log_archive(), backup(), health_check()]


maintenance()
