"""What the ``analysis_pipeline`` DAG's tasks call: which jobs and days a run covers, then each job.

Runs and their jobs:
- asset-triggered (``daily_sync`` landed bars): ``indicators`` → ``sentiment`` + ``hot_stocks``
  for the day(s) in the asset event;
- scheduled (Sunday 03:00): ``risk`` as of the last trading day with bars;
- manual: the ``jobs`` param; by default ``research`` when ``symbols`` are given (the seed
  API's ``analysis/batch``), else the four market jobs for ``date`` (default: the latest day
  with bars).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from ta_scheduler.constants import TIMEZONE
from ta_scheduler.storage.mongo import get_db

log = logging.getLogger(__name__)

DAILY_JOBS = ["indicators", "sentiment", "hot_stocks"]
MARKET_JOBS = [*DAILY_JOBS, "risk"]
ALL_JOBS = [*MARKET_JOBS, "research"]
SCHEDULES = {"risk": "0 3 * * 0"}


def _event_dates(context: Mapping[str, Any], key: str = "trade_dates") -> list[str]:
    dates: set[str] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            dates.update((event.extra or {}).get(key) or [])
    return sorted(dates)


def recompute_after_repair(db, repaired_dates: list[str], trade_dates: list[str]) -> list[str]:
    """The days the daily jobs must (re)compute when ``daily_sync`` repaired ``repaired_dates``:
    every day with bars from the first repaired day up to the last of ``trade_dates``, oldest
    first. The indicator states that took a bar on or after the first repaired day are
    invalidated, so those stocks are recomputed from their whole history (the carried-forward
    state never saw the repaired bars).
    """
    from ta_scheduler.analytics.indicator_state import invalidate_indicator_states
    from ta_scheduler.constants import Collections as C

    if not repaired_dates:
        return sorted(trade_dates)
    since = min(repaired_dates)
    invalidate_indicator_states(db, since)
    last = max([*trade_dates, *repaired_dates])
    with_bars = db[C.STOCK_DAILY_QUOTES].distinct(
        "trade_date", {"trade_date": {"$gte": since, "$lte": last}, "period": "daily"})
    days = sorted(set(with_bars) | set(trade_dates))
    log.info("daily_sync repaired %s: recomputing %d day(s) %s .. %s", ", ".join(repaired_dates), len(days), days[0], days[-1])
    return days


def plan_analysis(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.analytics.jobs import BarsMissingError, latest_trade_date_with_bars
    from ta_scheduler.calendar.jobs import jobs_due
    from ta_scheduler.category import run_time
    from ta_scheduler.params import check_run_conf

    check_run_conf(context)
    dag_run = context["dag_run"]
    kind = str(getattr(dag_run.run_type, "value", dag_run.run_type)).lower()
    db = get_db()
    local_day = run_time(context).astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
    symbols = list(params.get("symbols") or [])
    if kind in ("scheduled", "backfill"):
        jobs = jobs_due(SCHEDULES, run_time(context))
        dates = [latest_trade_date_with_bars(db, on_or_before=local_day)]
    elif kind == "asset_triggered":
        jobs = list(DAILY_JOBS)
        dates = recompute_after_repair(db, _event_dates(context, "repaired_dates"), _event_dates(context))
    else:
        requested = list(params.get("jobs") or [])
        if "all" in requested:  # every job: the market jobs, and research when symbols are given
            requested = list(MARKET_JOBS) + (["research"] if symbols else [])
        jobs = [j for j in ALL_JOBS if j in requested] or (["research"] if symbols else list(MARKET_JOBS))
        dates = [params.get("date") or latest_trade_date_with_bars(db, on_or_before=local_day)]
    if "research" in jobs and not symbols:
        raise ValueError("the research job needs 'symbols' (1-50 codes)")
    if any(d is None for d in dates) or not dates:
        raise BarsMissingError(f"no daily bars on or before {local_day}: run daily_sync first")
    plan = {"jobs": jobs, "trade_dates": dates, "symbols": symbols if "research" in jobs else []}
    log.info("%s run: jobs %s for %s", kind, ", ".join(jobs) or "none", ", ".join(dates))
    return plan


def run_indicators(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.analytics.jobs import compute_indicators_for_date

    db = get_db()
    return {d: compute_indicators_for_date(db, d) for d in plan["trade_dates"]}


def run_sentiment(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.analytics.jobs import compute_market_sentiment
    from ta_scheduler.llm.sentiment import sentiment_scorer_from_config

    db, scorer = get_db(), sentiment_scorer_from_config()
    return {d: compute_market_sentiment(db, d, scorer=scorer) for d in plan["trade_dates"]}


def run_hot_stocks(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.analytics.jobs import compute_hot_stocks

    db = get_db()
    return {d: compute_hot_stocks(db, d) for d in plan["trade_dates"]}


def run_risk(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.analytics.jobs import compute_risk

    return compute_risk(get_db(), plan["trade_dates"][-1])


def estimate_research(plan: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The pre-batch estimate and budget check (``llm.budget.plan_batch``); ``{"symbols": 0}``
    when research is not in this run."""
    from ta_scheduler.llm.budget import plan_batch
    from ta_scheduler.llm.config import provider_settings
    from ta_scheduler.llm.params import DEPTHS, validate_research_params
    from ta_scheduler.llm.research import resolve_models

    if "research" not in plan["jobs"]:
        return {"symbols": 0, "needs_approval": False}
    provider, depth = params["llm_provider"], int(params["research_depth"])
    symbols = validate_research_params(plan["symbols"], provider, depth)
    if provider == "offline":
        quick = deep = "rule-based"
    else:
        settings = provider_settings(provider)
        quick, deep = resolve_models(DEPTHS[depth], settings, params.get("quick_model"), params.get("deep_model"))
    return plan_batch(get_db(), params, symbols, quick, deep)


def research_symbols(plan: Mapping[str, Any], params: Mapping[str, Any], provider: str) -> list[str]:
    """The symbols to map ``provider``'s research tasks over: the batch when the run uses that
    provider, else none (each provider's research runs in its own pool)."""
    from ta_scheduler.llm.params import validate_research_params

    if "research" not in plan["jobs"] or params["llm_provider"] != provider:
        return []
    return validate_research_params(plan["symbols"], params["llm_provider"], params["research_depth"])


def run_research(symbol: str, plan: Mapping[str, Any], params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """One symbol's research within the run's budget (``llm.budget.run_budgeted_research``)."""
    from ta_scheduler.llm.budget import run_budgeted_research

    ti = context["ti"]
    batch = ti.xcom_pull(task_ids="estimate_research")
    approval = ti.xcom_pull(task_ids="approve_research")
    approved = bool(approval) and approval.get("chosen_options") == ["Approve"]
    return run_budgeted_research(
        get_db(), symbol, batch=batch, approved=approved, run_id=context["run_id"], try_number=int(ti.try_number),
        analysis_date=plan["trade_dates"][-1], quick_model=params.get("quick_model") or None,
        deep_model=params.get("deep_model") or None,
    )  # fmt: skip


def summarise_research_usage(plan: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """Tokens and 元 this run's research used, and today's, by provider."""
    from ta_scheduler.llm.budget import summarise_run_usage

    if "research" not in plan["jobs"]:
        return {}
    return summarise_run_usage(get_db(), run_id)
