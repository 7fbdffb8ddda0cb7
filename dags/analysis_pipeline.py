"""
### analysis_pipeline — indicators, sentiment, hot stocks, risk, LLM research

Queue `analysis`. Runs **when `daily_sync` has landed the day's bars** (the `daily_bars` asset) —
never on a fixed clock, so it cannot compute on stale input — and **Sunday 03:00** for the weekly
risk assessment. Each run executes only its jobs; the others show as *skipped*.

| job | when | writes |
|---|---|---|
| `indicators` | bars landed | `technical_indicators`: MA5/10/20/60, EMA12/26, MACD, RSI6/12/24, KDJ, BOLL, ATR14, volume ratio on forward-adjusted prices |
| `sentiment` | after indicators | `market_sentiment`: breadth, limit-ups/downs, new highs/lows, turnover vs 20-day mean, news sentiment (LLM if configured, else lexicon) |
| `hot_stocks` | after indicators | `hot_stocks`: top 50 by the documented hot score |
| `risk` | Sunday 03:00 | `risk_assessments`: volatility, beta vs CSI 300, VaR/CVaR 95 %, max drawdown per stock and portfolio |
| `research` | manual | `analysis_reports`: one LLM research report per symbol (dynamic task mapping, one pool per provider: `llm_dashscope`, `llm_deepseek`) |

A day whose bars are missing fails the run with a message naming the day. When `daily_sync` repaired
earlier days (`repaired_dates` in the asset event), the daily jobs recompute every day from the
first repaired one on, since later days read it in their windows.

**Research under budget**: `estimate_research` estimates the batch's tokens and 元; above the run's
budget (or what is left of the day's) `approve_research` waits for a human (Approve / Reject in the
UI or the REST API, with the estimate shown) and rejects after `approval_timeout_minutes`; within
budget it is skipped and the research starts at once. A symbol that would cross a budget while the
batch runs, or that comes after `max_consecutive_failures` provider failures in a row, is skipped
with the reason. `research_usage` sums the run's and the day's tokens and 元 by provider.

**Manual runs**: `jobs` (default: `research` when `symbols` are given, else the four market jobs),
`date` (default: the latest day with bars), and for research (the seed API's `analysis/batch`):
`symbols` (1–50), `llm_provider` (`dashscope`, `deepseek`, `offline`), `research_depth` (1–5),
optional `quick_model` / `deep_model`, and the budget params (empty = the `ta_llm_budget` setting).
Formulas: `docs/analytics.md`, `docs/llm-research.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, Param, XComArg, dag, task
from ta_scheduler.analytics import ALL_JOBS
from ta_scheduler.assets import ANALYSIS, DAILY_BARS
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_scheduler.llm.approval import ResearchBudgetApproval
from ta_scheduler.llm.params import RESEARCH_PARAM_SCHEMAS
from ta_scheduler.params import trading_date_schema
from ta_timetables import MultiScheduleTimetable

SCHEDULES = {"risk": "0 3 * * 0"}
#: provider -> pool its research tasks run in (offline makes no LLM call)
RESEARCH_POOLS = {"dashscope": Pools.LLM_DASHSCOPE, "deepseek": Pools.LLM_DEEPSEEK, "offline": "default_pool"}
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"


@dag(
    schedule=AssetOrTimeSchedule(timetable=MultiScheduleTimetable(SCHEDULES, timezone=TIMEZONE), assets=[DAILY_BARS]),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["analysis", "daily", "weekly", "llm"],
    params={
        "jobs": Param([], type="array", items={"type": "string", "enum": [*ALL_JOBS, "all"]}, uniqueItems=True,
                      maxItems=len(ALL_JOBS) + 1,
                      description="Manual runs: jobs to run (default: research if symbols are given, else the market jobs; "
                      "'all' = the market jobs, plus research when symbols are given)"),
        "date": Param(None, **trading_date_schema("Trading day to analyse (default: the latest day with bars)")),
        "symbols": Param(None, **{**RESEARCH_PARAM_SCHEMAS["symbols"], "type": ["null", "array"]}),
        "llm_provider": Param("offline", **RESEARCH_PARAM_SCHEMAS["llm_provider"]),
        "research_depth": Param(1, **RESEARCH_PARAM_SCHEMAS["research_depth"]),
        "quick_model": Param(None, type=["null", "string"], pattern=MODEL_PATTERN, maxLength=100,
                             description="Override the quick model"),
        "deep_model": Param(None, type=["null", "string"], pattern=MODEL_PATTERN, maxLength=100,
                            description="Override the deep model"),
        "run_budget_yuan": Param(None, type=["null", "number"], minimum=0, maximum=100000,
                                 description="Research budget of this run in 元 (empty: setting ta_llm_budget.run_yuan)"),
        "run_budget_tokens": Param(None, type=["null", "integer"], minimum=0, maximum=10**10,
                                   description="Research budget of this run in tokens (empty: setting)"),
        "day_budget_yuan": Param(None, type=["null", "number"], minimum=0, maximum=1000000,
                                 description="Research budget of the day in 元, all runs (empty: setting)"),
        "day_budget_tokens": Param(None, type=["null", "integer"], minimum=0, maximum=10**11,
                                   description="Research budget of the day in tokens, all runs (empty: setting)"),
        "approval_timeout_minutes": Param(None, type=["null", "number"], minimum=0.1, maximum=7 * 24 * 60,
                                          description="Minutes to wait for approval of a batch above budget "
                                                      "before rejecting it (empty: setting)"),
        "max_consecutive_failures": Param(None, type=["null", "integer"], minimum=1, maximum=50,
                                          description="Stop starting symbols after this many failed in a row "
                                                      "on provider errors (empty: setting)"),
    },
    default_args=default_args(queue=Queues.ANALYSIS, retries=2, retry_delay=timedelta(minutes=1),
                              execution_timeout=timedelta(minutes=25)),
)
def analysis_pipeline():
    @task(execution_timeout=timedelta(minutes=2))
    def plan(params=None, dag=None, dag_run=None, data_interval_end=None, triggering_asset_events=None) -> dict:
        from ta_scheduler.analytics.tasks import plan_analysis
        from ta_scheduler.calendar.runs import Run

        run = Run.of(dag, dag_run, data_interval_end=data_interval_end)
        return plan_analysis(SCHEDULES, params, run, triggering_asset_events)

    @task.branch(execution_timeout=timedelta(minutes=2))
    def run_jobs(the_plan: dict) -> list[str]:
        """The market jobs this run executes; the others are skipped (research checks its own plan)."""
        from ta_scheduler.calendar.runs import job_tasks

        return job_tasks(j for j in the_plan["jobs"] if j != "research")

    @task
    def indicators(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_indicators

        return run_indicators(the_plan)

    @task(outlets=[ANALYSIS])
    def sentiment(the_plan: dict, outlet_events=None) -> dict:
        from ta_scheduler.analytics.tasks import run_sentiment

        result = run_sentiment(the_plan)
        outlet_events[ANALYSIS].extra = {"trade_dates": the_plan["trade_dates"]}
        return result

    @task
    def hot_stocks(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_hot_stocks

        return run_hot_stocks(the_plan)

    @task
    def risk(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_risk

        return run_risk(the_plan)

    the_plan = plan()
    ind, sent, hot, rsk = indicators(the_plan), sentiment(the_plan), hot_stocks(the_plan), risk(the_plan)
    run_jobs(the_plan) >> [ind, sent, hot, rsk]
    ind >> [sent, hot]
    research_under_budget(the_plan)


def research_under_budget(the_plan: XComArg) -> None:
    """The research tasks, added to the DAG being defined: estimate the batch, wait for approval
    when it is over budget, research each symbol in its provider's pool (one mapped task per
    provider), sum the run's usage."""

    @task(execution_timeout=timedelta(minutes=2))
    def estimate_research(the_plan: dict, params=None) -> dict:
        from ta_scheduler.analytics.tasks import estimate_research as estimate

        return estimate(the_plan, params)

    @task(execution_timeout=timedelta(minutes=2), trigger_rule="none_failed")
    def research_symbols(the_plan: dict, provider: str, params=None) -> list[str]:
        from ta_scheduler.analytics.tasks import research_symbols as symbols_of

        return symbols_of(the_plan, params, provider)

    @task(map_index_template="{{ task.op_kwargs['symbol'] }}", retries=2)
    def research(symbol: str, the_plan: dict, params=None, ti=None, run_id=None) -> dict:
        from ta_scheduler.analytics.tasks import run_research

        return run_research(symbol, the_plan, params, batch=ti.xcom_pull(task_ids="estimate_research"),
                            approval=ti.xcom_pull(task_ids="approve_research"), run_id=run_id,
                            try_number=int(ti.try_number))

    @task(execution_timeout=timedelta(minutes=2), trigger_rule="all_done")
    def research_usage(the_plan: dict, run_id=None) -> dict:
        from ta_scheduler.analytics.tasks import summarise_research_usage

        return summarise_research_usage(the_plan, run_id)

    approve = ResearchBudgetApproval(task_id="approve_research", estimate_task_id="estimate_research",
                                     execution_timeout=timedelta(minutes=2))
    estimate_research(the_plan) >> approve
    usage = research_usage(the_plan)
    for provider, pool in RESEARCH_POOLS.items():
        symbols = research_symbols.override(task_id=f"research_symbols_{provider}")(the_plan, provider)
        approve >> symbols
        research.override(task_id=f"research_{provider}", pool=pool).partial(the_plan=the_plan).expand(symbol=symbols) >> usage

analysis_pipeline()
