"""
### weekly_financials — financial statements, incrementally

Mondays at **02:00 Asia/Shanghai**, queue `data`. Fetches income statements, balance sheets,
cash flows and financial indicators announced since the last successful run (the first run
looks back 120 days), within tushare's per-endpoint rate limits (pool `tushare_api`), and
upserts them into `stock_financial_data` (one document per stock, report period and report
type; the four statements as sub-documents). The whole-market statement endpoints need 5,000
tushare points; without them the run fails naming the endpoint and the points required.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task
from ta_scheduler.assets import FINANCIALS
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args


@dag(
    schedule=CronTriggerTimetable("0 2 * * 1", timezone=TIMEZONE, interval=timedelta(days=7)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["data", "weekly", "tushare"],
    default_args=default_args(queue=Queues.DATA, retries=3, retry_delay=timedelta(minutes=5),
                              execution_timeout=timedelta(hours=1)),
)
def weekly_financials():
    @task(pool=Pools.TUSHARE_API, outlets=[FINANCIALS])
    def sync_financial_statements(dag=None, dag_run=None, data_interval_end=None) -> dict:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.sync.tasks import run_financials

        return run_financials(Run.of(dag, dag_run, data_interval_end=data_interval_end))

    sync_financial_statements()


weekly_financials()
