"""
### intraday_prices — whole-market quotes every 5 minutes in trading sessions

Runs at 09:30, 09:35 … 11:30 and 13:00 … 15:00 Asia/Shanghai on trading days only (50 runs a
day; none in the lunch break, none on holidays), queue `data`. Each run takes one snapshot of
the whole market (tushare `rt_k`, batched; or the demo market) and:

- upserts the latest quote per code into `market_quotes`;
- appends the snapshot to `market_quotes_intraday` (one document per code and tick; a re-run
  of the same tick changes nothing);
- refreshes the Redis latest-quote cache (cache space `quotes` of `storage/cache.py`, switched atomically).

Snapshots are stored only for session ticks: a manual run's interval ends at the last tick
(triggered at 12:00 it takes the 11:30 tick; on a holiday, the last close), and a run whose
interval was set by hand outside the sessions refreshes the latest quotes but stores no
snapshot. Snapshots older than the retention (30 days by default) are removed by `maintenance`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from ta_scheduler.assets import INTRADAY_QUOTES
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_timetables import TradingSessionsTimetable


@dag(
    schedule=TradingSessionsTimetable(every_minutes=5, timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["data", "intraday", "tushare"],
    default_args=default_args(queue=Queues.DATA, retries=2, retry_delay=timedelta(seconds=20),
                              max_retry_delay=timedelta(minutes=2), execution_timeout=timedelta(minutes=4)),
)
def intraday_prices():
    @task(pool=Pools.TUSHARE_API, outlets=[INTRADAY_QUOTES])
    def snapshot_quotes(dag=None, dag_run=None, data_interval_end=None) -> dict:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.sync.tasks import run_intraday_snapshot

        return run_intraday_snapshot(Run.of(dag, dag_run, data_interval_end=data_interval_end))

    snapshot_quotes()


intraday_prices()
