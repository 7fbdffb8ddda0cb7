"""
### maintenance — keeps the platform healthy

Housekeeping jobs of the seed scheduler (SPEC §3 jobs 9–13), on queue `maintenance`.

| job | schedule (Asia/Shanghai) | what it does |
|---|---|---|
| `health_check` | every 10 minutes | pings MongoDB, Redis and the metadata DB, checks a Celery worker answers for every queue (cluster mode) and free disk; **fails naming what is down**, which fires the failure alert |

Manual runs execute every job.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from ta_scheduler.constants import TIMEZONE, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args


@dag(
    schedule=CronTriggerTimetable("*/10 * * * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["maintenance", "health"],
    default_args=default_args(queue=Queues.MAINTENANCE, retries=1, retry_delay=timedelta(seconds=30),
                              execution_timeout=timedelta(minutes=5)),
)
def maintenance():
    @task
    def health_check() -> list[dict]:
        """Fails with a message naming every component that is down."""
        from airflow.sdk import Variable

        from ta_scheduler.health import run_health_check

        return run_health_check(min_free_gb=float(Variable.get("ta_disk_min_free_gb", default="1")))

    health_check()


maintenance()
