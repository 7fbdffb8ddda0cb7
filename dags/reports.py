"""
### reports — daily market report and weekly portfolio report, delivered

Queue `analysis`. One DAG, two jobs on their own schedules (the other is *skipped*):

| job | schedule (Asia/Shanghai) | what it does |
|---|---|---|
| `daily` | trading days 20:00 | waits for the day's analysis (deferred in the triggerer, no worker slot held; fails loudly after `analysis_wait_minutes`, default 120), then builds the daily market report: indices, breadth, turnover vs 20-day mean, sectors, top movers, limit-ups/downs, hot stocks, sentiment, news — HTML with embedded charts + Markdown |
| `weekly` | Sunday 21:00 | the weekly portfolio report for every portfolio in `portfolios`: weekly/YTD return vs benchmark, contribution by holding, volatility, VaR/CVaR, drawdown, beta, NAV and drawdown charts |

Reports are stored in MongoDB `reports` and as files (`TA_REPORTS_DIR`), then delivered by email
(`smtp_reports`, else `smtp_alerts`) and Slack (`slack_reports`, else `slack_alerts`) when
configured; a failed delivery is retried and never loses the stored report.

**Manual runs** (the seed API's `reports/daily`): `jobs` (`daily`, `weekly`; default: both),
`date` (a trading day; default: the run's day) and `analysis_wait_minutes`. Details: `docs/reports.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task
from ta_scheduler.calendar.runs import jobs_param_schema
from ta_scheduler.constants import TIMEZONE, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_scheduler.params import trading_date_schema
from ta_scheduler.waits.operators import WaitForAnalysisOperator
from ta_timetables import MultiScheduleTimetable

SCHEDULES = {"daily": "trading_day@20:00", "weekly": "0 21 * * 0"}
#: job -> its first task (the rest of the job runs downstream of it)
FIRST_TASKS = {"daily": "wait_for_analysis", "weekly": "build_weekly"}


@dag(
    schedule=MultiScheduleTimetable(SCHEDULES, timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["reports", "daily", "weekly"],
    params={
        "jobs": Param([], **jobs_param_schema(SCHEDULES)),
        "date": Param(None, **trading_date_schema("Report date (a trading day; default: the run's day)")),
        "analysis_wait_minutes": Param(120, type="number", minimum=0, maximum=720,
                                       description="Daily report: how long to wait for the day's analysis (0 = not at all)"),
    },
    default_args=default_args(queue=Queues.ANALYSIS, retries=2, retry_delay=timedelta(minutes=2),
                              execution_timeout=timedelta(minutes=20)),
)
def reports():
    @task(execution_timeout=timedelta(minutes=2))
    def plan(params=None, dag=None, dag_run=None, data_interval_end=None) -> dict:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.reports.tasks import plan_reports

        return plan_reports(SCHEDULES, params, Run.of(dag, dag_run, data_interval_end=data_interval_end))

    @task.branch(execution_timeout=timedelta(minutes=2))
    def run_jobs(the_plan: dict) -> list[str]:
        """The first task of each job this run executes; the other job is skipped."""
        from ta_scheduler.calendar.runs import job_tasks

        return job_tasks(the_plan["jobs"], FIRST_TASKS)

    @task
    def build_daily(the_plan: dict) -> dict:
        from ta_scheduler.reports.tasks import run_build_daily

        return run_build_daily(the_plan)

    @task
    def build_weekly(the_plan: dict) -> dict:
        from ta_scheduler.reports.tasks import run_build_weekly

        return run_build_weekly(the_plan)

    @task(retries=4, retry_delay=timedelta(minutes=1))
    def deliver_daily(the_plan: dict) -> dict:
        from ta_scheduler.reports.tasks import run_deliver

        return run_deliver(the_plan, "daily")

    @task(retries=4, retry_delay=timedelta(minutes=1))
    def deliver_weekly(the_plan: dict) -> dict:
        from ta_scheduler.reports.tasks import run_deliver

        return run_deliver(the_plan, "weekly")

    the_plan = plan()
    # deferred in the triggerer (no worker slot held); fails without retry past the deadline
    wait = WaitForAnalysisOperator(task_id="wait_for_analysis", plan=the_plan, execution_timeout=timedelta(minutes=5))
    weekly = build_weekly(the_plan)
    run_jobs(the_plan) >> [wait, weekly]
    wait >> build_daily(the_plan) >> deliver_daily(the_plan)
    weekly >> deliver_weekly(the_plan)


reports()
