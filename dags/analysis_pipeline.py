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
| `research` | manual | `analysis_reports`: one LLM research report per symbol (dynamic task mapping, pool `llm_api`) |

A day whose bars are missing fails the run with a message naming the day. When `daily_sync` repaired
earlier days (`repaired_dates` in the asset event), the daily jobs recompute every day from the
first repaired one on, since later days read it in their windows.

**Manual runs**: `jobs` (default: `research` when `symbols` are given, else the four market jobs),
`date` (default: the latest day with bars), and for research (the seed API's `analysis/batch`):
`symbols` (1–50), `llm_provider` (`dashscope`, `deepseek`, `offline`), `research_depth` (1–5),
optional `quick_model` / `deep_model`. Formulas: `docs/analytics.md`, `docs/llm-research.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, Param, dag, task
from ta_timetables import MultiScheduleTimetable

from ta_scheduler.assets import ANALYSIS, DAILY_BARS
from ta_scheduler.constants import TIMEZONE, Pools, Queues
from ta_scheduler.dag_defaults import START_DATE, default_args
from ta_scheduler.llm.params import RESEARCH_PARAM_SCHEMAS
from ta_scheduler.params import trading_date_schema

SCHEDULES = {"risk": "0 3 * * 0"}
JOBS = ["indicators", "sentiment", "hot_stocks", "risk", "research"]


@dag(
    schedule=AssetOrTimeSchedule(timetable=MultiScheduleTimetable(SCHEDULES, timezone=TIMEZONE), assets=[DAILY_BARS]),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["analysis", "daily", "weekly", "llm"],
    params={
        "jobs": Param([], type="array", items={"type": "string", "enum": JOBS}, uniqueItems=True,
                      description="Manual runs: jobs to run (default: research if symbols are given, else the market jobs)"),
        "date": Param(None, **trading_date_schema("Trading day to analyse (default: the latest day with bars)")),
        "symbols": Param(None, **{**RESEARCH_PARAM_SCHEMAS["symbols"], "type": ["null", "array"]}),
        "llm_provider": Param("offline", **RESEARCH_PARAM_SCHEMAS["llm_provider"]),
        "research_depth": Param(1, **RESEARCH_PARAM_SCHEMAS["research_depth"]),
        "quick_model": Param(None, type=["null", "string"], description="Override the quick model"),
        "deep_model": Param(None, type=["null", "string"], description="Override the deep model"),
    },
    default_args=default_args(queue=Queues.ANALYSIS, retries=2, retry_delay=timedelta(minutes=1),
                              execution_timeout=timedelta(minutes=25)),
)
def analysis_pipeline():
    @task(execution_timeout=timedelta(minutes=2))
    def plan(params=None, **context) -> dict:
        from ta_scheduler.analytics.tasks import plan_analysis

        return plan_analysis(params, context)

    @task
    def indicators(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_indicators
        from ta_scheduler.category import skip_unless_due

        skip_unless_due("indicators", the_plan["jobs"])
        return run_indicators(the_plan)

    @task(outlets=[ANALYSIS])
    def sentiment(the_plan: dict, **context) -> dict:
        from ta_scheduler.analytics.tasks import run_sentiment
        from ta_scheduler.category import skip_unless_due

        skip_unless_due("sentiment", the_plan["jobs"])
        result = run_sentiment(the_plan)
        context["outlet_events"][ANALYSIS].extra = {"trade_dates": the_plan["trade_dates"]}
        return result

    @task
    def hot_stocks(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_hot_stocks
        from ta_scheduler.category import skip_unless_due

        skip_unless_due("hot_stocks", the_plan["jobs"])
        return run_hot_stocks(the_plan)

    @task
    def risk(the_plan: dict) -> dict:
        from ta_scheduler.analytics.tasks import run_risk
        from ta_scheduler.category import skip_unless_due

        skip_unless_due("risk", the_plan["jobs"])
        return run_risk(the_plan)

    @task(execution_timeout=timedelta(minutes=2))
    def research_symbols(the_plan: dict, params=None) -> list[str]:
        from ta_scheduler.analytics.tasks import research_symbols as symbols_of

        return symbols_of(the_plan, params)

    @task(pool=Pools.LLM_API, map_index_template="{{ task.op_kwargs['symbol'] }}", retries=2)
    def research(symbol: str, the_plan: dict, params=None, **context) -> dict:
        from ta_scheduler.analytics.tasks import run_research

        return run_research(symbol, the_plan, params, context["run_id"])

    the_plan = plan()
    ind = indicators(the_plan)
    ind >> [sentiment(the_plan), hot_stocks(the_plan)]
    risk(the_plan)
    research.partial(the_plan=the_plan).expand(symbol=research_symbols(the_plan))


analysis_pipeline()
