"""
### daily_sync — the day's market data for the whole A-share market

Trading days at **16:30 Asia/Shanghai** (after the close), queue `data`, provider = tushare when
a token is configured, else the deterministic demo market (`data_source: "demo"`).

1. `plan` — which trading day(s) and symbols this run covers (the run's day, `date`, or a
   `start_date`..`end_date` backfill); refuses bad combinations.
2. `sync_calendar` — refreshes this and next year's exchange calendar from tushare `trade_cal`
   (the file the timetables read).
3. `sync_stock_basic` — the stock list (`stock_basic_info`).
3b. `wait_for_vendor` — waits (deferred, no worker slot) until tushare has the day's bars for
   (nearly) the whole listed market; fails loudly, naming the shortfall, at `vendor_deadline`
   (default 22:00). The demo provider is always ready.
4. `sync_daily_bars` — `daily` + `adj_factor` + `daily_basic` + limit prices for the whole market
   by trade date → `stock_daily_quotes` (forward-adjusted (qfq) OHLC and `pre_close`, the exchange's
   prices beside them in `unadj_*` with `adj_factor`; volume in shares, amount in yuan). Rows failing validation go to `quarantine`; too many fail the run.
   Emits the `daily_bars` asset, which starts `analysis_pipeline`.
5. `sync_index_daily` — CSI 300, SSE Composite, SZSE Component, ChiNext → `index_daily_quotes`.
6. `repair_missing_days` (before step 4) — **self-healing**: re-syncs every day of the last
   `repair_days` trading days (default 20) that the completeness ledger shows missing, partial or
   failed: the daily bars (with adj factor, valuation, limit prices) and the index bars. It trusts
   the ledger (what each write reported) and reads no other day of the store; rows lost from the
   store later are noticed by the health check's per-day count, which marks the day partial in the
   ledger (or pass `recount_store: true` to count here). The repaired dates go into the
   `daily_bars` asset event, so `analysis_pipeline` recomputes the days that depended on them.
   Listed in the task's log and XCom (`repaired_dates`, `repaired_index_dates`).

A run with no date (REST `"logical_date": null`, `airflow dags trigger`) syncs the last trading
day whose session has closed.

**Manual runs** (the seed API's `data/sync-daily`): `symbols` (codes like `600000` or
`000001.SZ`), `date` (a trading day), or `start_date` + `end_date` for a backfill (at most
`TA_MAX_BACKFILL_SESSIONS` trading days a run, 260 by default). Backfills resume: a re-run fetches only the days still missing.
Non-trading dates, bad codes and reversed ranges are refused when you trigger.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task
from ta_scheduler.assets import DAILY_BARS
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_scheduler.params import symbols_schema, trading_date_schema
from ta_scheduler.waits.operators import WaitForVendorOperator
from ta_scheduler.waits.vendor import DEFAULT_DEADLINE
from ta_timetables import TradingDayTimetable


@dag(
    schedule=TradingDayTimetable(at="16:30", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["data", "daily", "tushare"],
    params={
        "symbols": Param(None, **symbols_schema(description="Only these codes (default: the whole market)")),
        "date": Param(None, **trading_date_schema("Sync this trading day (YYYY-MM-DD) instead of the run's day")),
        "start_date": Param(None, **trading_date_schema("Backfill: first trading day (with end_date)")),
        "end_date": Param(None, **trading_date_schema("Backfill: last trading day (with start_date)")),
        "vendor_deadline": Param(DEFAULT_DEADLINE, type="string", maxLength=40,
                                 pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?)$",
                                 description=(
            "Wait for tushare to publish the day until HH:MM exchange time that day (or an ISO 8601 instant)")),
        "repair_days": Param(20, type="integer", minimum=0, maximum=260,
                             description="Self-healing: repair what the ledger shows missing in this many trading days"),
        "recount_store": Param(False, type="boolean", description=(
            "Self-healing: count each of those days' rows in the store first (default: trust the ledger, "
            "written from each write's own counts; the health check counts the days it judges)")),
    },
    default_args=default_args(queue=Queues.DATA, retries=3, retry_delay=timedelta(minutes=2),
                              execution_timeout=timedelta(minutes=30)),
)
def daily_sync():
    @task(execution_timeout=timedelta(minutes=2))
    def plan(params=None, dag=None, dag_run=None, data_interval_end=None) -> dict:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.sync.tasks import plan_daily_sync

        return plan_daily_sync(params, Run.of(dag, dag_run, data_interval_end=data_interval_end))

    @task(pool=Pools.TUSHARE_API)
    def sync_calendar() -> dict:
        from ta_scheduler.sync.tasks import run_calendar_sync

        return run_calendar_sync()

    @task(pool=Pools.TUSHARE_API)
    def sync_stock_basic() -> dict:
        from ta_scheduler.sync.tasks import run_stock_basic

        return run_stock_basic()

    @task(pool=Pools.TUSHARE_API, execution_timeout=timedelta(hours=1))
    def repair_missing_days(the_plan: dict, params=None, **context) -> dict:
        from ta_scheduler.sync.tasks import run_repair_daily

        return run_repair_daily(the_plan, params.get("repair_days"), run_id=context["run_id"],
                                recount_store=bool(params.get("recount_store")))

    @task(pool=Pools.TUSHARE_API, outlets=[DAILY_BARS], execution_timeout=timedelta(hours=2))
    def sync_daily_bars(the_plan: dict, repair: dict, **context) -> dict:
        from ta_scheduler.sync.tasks import run_daily_bars

        result = run_daily_bars(the_plan, run_id=context["run_id"])
        context["outlet_events"][DAILY_BARS].extra = {"trade_dates": the_plan["dates"], "symbols": the_plan["symbols"],
                                                      "repaired_dates": repair["repaired_dates"]}
        return {**result, "repaired_dates": repair["repaired_dates"]}

    @task(pool=Pools.TUSHARE_API)
    def sync_index_daily(the_plan: dict) -> dict:
        from ta_scheduler.sync.tasks import run_index_daily

        return run_index_daily(the_plan)

    the_plan = plan()
    calendar = sync_calendar()
    basics = sync_stock_basic()
    the_plan >> calendar >> basics
    vendor = WaitForVendorOperator(task_id="wait_for_vendor", plan=the_plan, deadline="{{ params.vendor_deadline }}",
                                   execution_timeout=timedelta(minutes=5))
    repair = repair_missing_days(the_plan)
    basics >> [vendor, repair]
    vendor >> sync_daily_bars(the_plan, repair)
    vendor >> sync_index_daily(the_plan)


daily_sync()
