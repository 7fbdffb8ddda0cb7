"""
### news_sync — financial news, hourly

Every hour on the hour (Asia/Shanghai), queue `data`. Fetches the news published in the past
hour (plus a 30-minute overlap, so nothing falls between runs), de-duplicates it by a stable
news id (same story from several channels or runs → one document) and links each item to the
stocks it names (by code or company name) in `stock_news.symbols`. News older than the
retention (180 days by default) is removed by `maintenance`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task
from ta_scheduler.assets import NEWS
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args


@dag(
    schedule=CronTriggerTimetable("0 * * * *", timezone=TIMEZONE, interval=timedelta(hours=1)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["data", "tushare"],
    default_args=default_args(queue=Queues.DATA, retries=3, retry_delay=timedelta(minutes=1),
                              execution_timeout=timedelta(minutes=15)),
)
def news_sync():
    @task(pool=Pools.TUSHARE_API, outlets=[NEWS])
    def sync_news(dag=None, dag_run=None, data_interval_start=None, data_interval_end=None) -> dict:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.sync.tasks import run_news

        return run_news(Run.of(dag, dag_run, data_interval_start, data_interval_end))

    sync_news()


news_sync()
