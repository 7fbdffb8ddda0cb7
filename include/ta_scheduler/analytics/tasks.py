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
from typing import TYPE_CHECKING, Any

from ta_scheduler.analytics import ALL_JOBS, DAILY_JOBS, MARKET_JOBS
from ta_scheduler.storage.mongo import get_db

if TYPE_CHECKING:
    from ta_scheduler.calendar.runs import Run

log = logging.getLogger(__name__)



def _event_dates(triggering_asset_events: Mapping[Any, Any] | None, key: str = "trade_dates") -> list[str]:
    dates: set[str] = set()
    for events in (triggering_asset_events or {}).values():
        for event in events:
            dates.update((event.extra or {}).get(key) or [])
    return sorted(dates)


def recompute_after_repair(db, repaired_dates: list[str], trade_dates: list[str]) -> list[str]:
    """The days the daily jobs must (re)compute when ``daily_sync`` repaired ``repaired_dates``:
    every day with bars from the first repaired day up to the last of ``trade_dates``, oldest
    first. The indicator states that took a bar on or after the first repaired day are
    invalidated, so those stocks are recomputed from their whole history (the carried-forward
    state never saw the repaired bars), and so are the repaired days' column documents, so the
    window jobs read those days from their bars again.
    """
    from ta_scheduler.analytics.bar_columns import invalidate_bar_columns
    from ta_scheduler.analytics.indicator_state import invalidate_indicator_states
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage.mongo import dates_between

    if not repaired_dates:
        return sorted(trade_dates)
    since = min(repaired_dates)
    invalidate_indicator_states(db, since)
    invalidate_bar_columns(db, repaired_dates)
    last = max([*trade_dates, *repaired_dates])
    bars = db[C.STOCK_DAILY_QUOTES]  # one index lookup per date, not a range (which the embedded store decodes)
    with_bars = [d for d in dates_between(since, last) if bars.find_one({"trade_date": d, "period": "daily"}, {"_id": 1})]
    days = sorted(set(with_bars) | set(trade_dates))
    log.info("daily_sync repaired %s: recomputing %d day(s) %s .. %s", ", ".join(repaired_dates), len(days), days[0], days[-1])
    return days


def plan_analysis(schedules: Mapping[str, str], params: Mapping[str, Any], run: Run,
                  triggering_asset_events: Mapping[Any, Any] | None = None) -> dict[str, Any]:
    """``{"jobs": [...], "trade_dates": [...], "symbols": [...]}`` of a run (module doc)."""
    from ta_scheduler.analytics.stored_bars import BarsMissingError, latest_trade_date_with_bars
    from ta_scheduler.calendar.runs import jobs_due

    run.check_conf()
    kind = run.kind
    db = get_db()
    local_day = run.day.isoformat()
    symbols = list(params.get("symbols") or [])
    if run.scheduled:
        jobs = jobs_due(schedules, run.tick)
        dates = [latest_trade_date_with_bars(db, on_or_before=local_day)]
    elif kind == "asset_triggered":
        jobs = list(DAILY_JOBS)
        dates = recompute_after_repair(db, _event_dates(triggering_asset_events, "repaired_dates"),
                                       _event_dates(triggering_asset_events))
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


def run_research(symbol: str, plan: Mapping[str, Any], params: Mapping[str, Any], *, batch: Mapping[str, Any],
                 approval: Mapping[str, Any] | None, run_id: str, try_number: int) -> dict[str, Any]:
    """One symbol's research within the run's budget (``llm.budget.run_budgeted_research``):
    ``batch`` is the ``estimate_research`` result, ``approval`` the ``approve_research`` one."""
    from ta_scheduler.llm.budget import run_budgeted_research

    approved = bool(approval) and approval.get("chosen_options") == ["Approve"]
    return run_budgeted_research(
        get_db(), symbol, batch=batch, approved=approved, run_id=run_id, try_number=try_number,
        analysis_date=plan["trade_dates"][-1], quick_model=params.get("quick_model") or None,
        deep_model=params.get("deep_model") or None,
    )  # fmt: skip


def summarise_research_usage(plan: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """Tokens and 元 this run's research used, and today's, by provider."""
    from ta_scheduler.llm.budget import summarise_run_usage

    if "research" not in plan["jobs"]:
        return {}
    return summarise_run_usage(get_db(), run_id)
