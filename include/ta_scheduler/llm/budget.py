"""Token and cost control of batch research: prices, the usage ledger, budgets and the estimate.

- **Prices**: :mod:`ta_scheduler.llm.pricing` (``ta_llm_prices`` / ``TA_LLM_PRICES``, a JSON
  object ``{"qwen-max": {"input": 2.4, "output": 9.6}}``, set in ``airflow_settings.yaml``).
- **Ledger** (collection ``llm_usage``): one document per research *attempt* (run, symbol, try),
  written as a reservation of the estimate before the first call and settled with the usage the
  provider reported (completed or failed). Per-run and per-day sums read it, so a failed attempt's
  spend counts too, and a re-run (a new spend) never erases an earlier one. ``day`` is the
  Asia/Shanghai calendar day the research ran.
- **Budgets** (tokens and 元, per run and per day): :data:`DEFAULT_BUDGET`, overridden by the
  Variable ``ta_llm_budget`` or env ``TA_LLM_BUDGET``, and per run by the ``analysis_pipeline``
  params. ``null`` means no limit on that measure.
- **Estimate** before a batch: symbols × calls(depth) × tokens per call, priced with the run's
  models. Tokens per call are the average of the last :data:`AVERAGE_OVER` completed researches with
  the same provider and depth once there are :data:`MIN_RECORDED` of them, else the prior
  :data:`PRIOR_INPUT_TOKENS_PER_CALL` / :data:`PRIOR_OUTPUT_TOKENS_PER_CALL`.

A batch above its run budget, or above what is left of the day's, waits for approval
(``llm.approval``). An approved run may spend up to the estimate plus ``approval_margin``; the day
budget is not checked again for it (the approver saw the day's spend). While a batch runs, each
symbol reserves its estimate first: one that would cross a limit is not started and ends
*skipped* with the reason (:class:`ResearchNotStarted`); so is every symbol after
``max_consecutive_failures`` symbols of the run failed in a row on provider errors (429/5xx/timeouts
that outlasted the retries). Reserving before checking means two symbols that start together can
both be refused, never both let through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ta_scheduler.config import setting_json
from ta_scheduler.constants import Collections as C
from ta_scheduler.llm.params import DEPTHS
from ta_scheduler.llm.pricing import cost_yuan, load_prices, usage_from_steps
from ta_scheduler.market import TZ

try:  # a symbol not started is a skip, shown as such in the grid
    from airflow.sdk.exceptions import AirflowSkipException as _Skip
except ImportError:  # pragma: no cover - Airflow is always installed with the project
    _Skip = Exception  # type: ignore[misc,assignment]

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

BUDGET_ENV = "TA_LLM_BUDGET"

#: Limits when neither the Variable nor the run's params say otherwise (``None`` = unlimited).
DEFAULT_BUDGET: dict[str, Any] = {
    "run_yuan": 20.0,
    "run_tokens": 5_000_000,
    "day_yuan": 100.0,
    "day_tokens": 20_000_000,
    "approval_timeout_minutes": 60,
    "approval_margin": 0.25,
    "max_consecutive_failures": 3,
}
BUDGET_LIMITS = ("run_tokens", "run_yuan", "day_tokens", "day_yuan")

#: Prior tokens per LLM call before any research is recorded: the shared data block (~2–3 k
#: characters) plus role prompt and earlier sections in, a ~300-character report out, rounded up.
PRIOR_INPUT_TOKENS_PER_CALL = 4000
PRIOR_OUTPUT_TOKENS_PER_CALL = 600
MIN_RECORDED, AVERAGE_OVER = 3, 20


def shanghai_day(at: datetime | None = None) -> str:
    """The Asia/Shanghai calendar day (``YYYY-MM-DD``) of ``at`` (default: now)."""
    return (at or datetime.now(UTC)).astimezone(TZ).date().isoformat()


def _json_setting(name: str) -> tuple[dict[str, Any], str]:
    data, origin = setting_json(name)
    return (data, origin) if data is not None else ({}, "defaults")


def load_budget_settings() -> dict[str, Any]:
    """:data:`DEFAULT_BUDGET` with the configured keys merged over it (unknown keys refused)."""
    data, origin = _json_setting(BUDGET_ENV)
    unknown = set(data) - set(DEFAULT_BUDGET)
    if unknown:
        raise ValueError(f"{origin}: unknown keys {sorted(unknown)}; allowed: {sorted(DEFAULT_BUDGET)}")
    for k, v in data.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise ValueError(f"{origin}: {k} must be a number >= 0 or null, got {v!r}")
    return {**DEFAULT_BUDGET, **data}


# -- estimate --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """What a batch is expected to use: per symbol and in total (tokens, 元)."""

    symbols: int
    calls_per_symbol: int
    tokens_per_symbol: int
    yuan_per_symbol: float
    basis: str  # "prior" or "average of N recorded researches"

    @property
    def tokens(self) -> int:
        return self.symbols * self.tokens_per_symbol

    @property
    def yuan(self) -> float:
        return round(self.symbols * self.yuan_per_symbol, 6)


def estimate_batch(
    db: Database,
    symbols: int,
    llm_provider: str,
    research_depth: int,
    quick_model: str,
    deep_model: str,
    prices: Mapping[str, Mapping[str, float]],
) -> Estimate:
    """The expected usage of ``symbols`` researches (see the module docstring for the method)."""
    plan = DEPTHS[research_depth]
    if llm_provider == "offline":
        return Estimate(symbols, 0, 0, 0.0, "offline: no LLM calls")
    recent = list(
        db[C.LLM_USAGE]
        .find(
            {"provider": llm_provider, "research_depth": research_depth, "status": "completed", "calls": {"$gt": 0}},
            {"_id": 0, "input_tokens": 1, "output_tokens": 1, "calls": 1},
        )
        .sort("finished_at", -1)
        .limit(AVERAGE_OVER)
    )
    if len(recent) >= MIN_RECORDED:
        calls = sum(r["calls"] for r in recent)
        per_in = sum(r["input_tokens"] for r in recent) / calls
        per_out = sum(r["output_tokens"] for r in recent) / calls
        basis = f"average of {len(recent)} recorded {llm_provider} depth-{research_depth} researches"
    else:
        per_in, per_out = float(PRIOR_INPUT_TOKENS_PER_CALL), float(PRIOR_OUTPUT_TOKENS_PER_CALL)
        basis = (
            f"prior {PRIOR_INPUT_TOKENS_PER_CALL} input + {PRIOR_OUTPUT_TOKENS_PER_CALL} output tokens per call "
            f"({len(recent)} recorded, {MIN_RECORDED} needed for an average)"
        )
    yuan = plan.quick_calls * cost_yuan(per_in, per_out, quick_model, prices) + plan.deep_calls * cost_yuan(
        per_in, per_out, deep_model, prices
    )
    tokens = round(plan.llm_calls * (per_in + per_out))
    return Estimate(symbols, plan.llm_calls, tokens, round(yuan, 6), basis)


# -- spend and limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    """Tokens and 元 of the ledger documents matching a filter (reservations at their estimate)."""

    tokens: int = 0
    yuan: float = 0.0
    researches: int = 0


def spent(db: Database, *, run_id: str | None = None, day: str | None = None, exclude: str | None = None) -> Spend:
    """Spend of one run and/or one day: settled attempts at their actual usage, open
    reservations at their estimate."""
    query: dict[str, Any] = {}
    if run_id is not None:
        query["run_id"] = run_id
    if day is not None:
        query["day"] = day
    tokens, yuan, n = 0, 0.0, 0
    for d in db[C.LLM_USAGE].find(query, {"_id": 0, "usage_id": 1, "status": 1, "total_tokens": 1, "yuan": 1, "estimate": 1}):
        if d["usage_id"] == exclude:
            continue
        if d["status"] == "reserved":
            tokens, yuan = tokens + d["estimate"]["tokens"], yuan + d["estimate"]["yuan"]
        else:
            tokens, yuan = tokens + d["total_tokens"], yuan + d["yuan"]
        n += 1
    return Spend(tokens, round(yuan, 6), n)


def usage_by_provider(db: Database, *, day: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
    """Settled usage per provider for a day and/or run, sorted by provider: researches (attempts),
    failed, calls, input/output/total tokens, 元."""
    query: dict[str, Any] = {"status": {"$in": ["completed", "failed"]}}
    if day is not None:
        query["day"] = day
    if run_id is not None:
        query["run_id"] = run_id
    out: dict[str, dict[str, Any]] = {}
    for d in db[C.LLM_USAGE].find(query, {"_id": 0}):
        p = out.setdefault(
            d["provider"],
            {"provider": d["provider"], "researches": 0, "failed": 0, "calls": 0, "input_tokens": 0,
             "output_tokens": 0, "total_tokens": 0, "yuan": 0.0},
        )  # fmt: skip
        p["researches"] += 1
        p["failed"] += d["status"] == "failed"
        for k in ("calls", "input_tokens", "output_tokens", "total_tokens"):
            p[k] += d[k]
        p["yuan"] = round(p["yuan"] + d["yuan"], 6)
    return [out[k] for k in sorted(out)]


#: setting key -> the ``analysis_pipeline`` param that overrides it for one run
BUDGET_PARAMS = {
    "run_tokens": "run_budget_tokens",
    "run_yuan": "run_budget_yuan",
    "day_tokens": "day_budget_tokens",
    "day_yuan": "day_budget_yuan",
    "approval_timeout_minutes": "approval_timeout_minutes",
    "max_consecutive_failures": "max_consecutive_failures",
}


def resolve_budget(params: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run's limits and approval settings: a param that is set (not null) wins over the setting."""
    settings = settings if settings is not None else load_budget_settings()
    out = dict(settings)
    for key, param in BUDGET_PARAMS.items():
        if params.get(param) is not None:
            out[key] = params[param]
    return out


def _over(limit: float | None, used: float, more: float) -> bool:
    return limit is not None and more > 0 and used + more > limit + 1e-12


def _fmt(tokens: float, yuan: float) -> str:
    return f"{int(tokens):,} tokens / {yuan:.4f} 元"


def plan_batch(db: Database, params: Mapping[str, Any], symbols: Sequence[str], quick: str, deep: str) -> dict[str, Any]:
    """The pre-batch check (XCom of ``estimate_research``): the estimate, the limits, today's
    spend, whether approval is needed and why, and the Markdown shown to the approver."""
    provider, depth = params["llm_provider"], int(params["research_depth"])
    budget = resolve_budget(params)
    est = estimate_batch(db, len(symbols), provider, depth, quick, deep, load_prices())
    day = shanghai_day()
    today = spent(db, day=day)
    reasons = []
    if _over(budget["run_tokens"], 0, est.tokens):
        reasons.append(f"estimate {est.tokens:,} tokens > run budget {budget['run_tokens']:,} tokens")
    if _over(budget["run_yuan"], 0, est.yuan):
        reasons.append(f"estimate {est.yuan:.4f} 元 > run budget {budget['run_yuan']:.4f} 元")
    if _over(budget["day_tokens"], today.tokens, est.tokens):
        reasons.append(
            f"today's {today.tokens:,} tokens + estimate {est.tokens:,} > day budget {budget['day_tokens']:,} tokens"
        )
    if _over(budget["day_yuan"], today.yuan, est.yuan):
        reasons.append(f"today's {today.yuan:.4f} 元 + estimate {est.yuan:.4f} 元 > day budget {budget['day_yuan']:.4f} 元")
    limits = {k: budget[k] for k in BUDGET_LIMITS}
    text = "\n".join(
        [
            f"**Estimate**: {len(symbols)} symbols × research depth {depth} with {provider} "
            f"(quick {quick}, deep {deep}), {est.calls_per_symbol} calls each: "
            f"**{_fmt(est.tokens, est.yuan)}** ({_fmt(est.tokens_per_symbol, est.yuan_per_symbol)} per symbol; "
            f"{est.basis}).",
            f"**Budget**: run {_limit_text(budget['run_tokens'], budget['run_yuan'])}; day {day} "
            f"{_limit_text(budget['day_tokens'], budget['day_yuan'])}, spent so far {_fmt(today.tokens, today.yuan)}.",
            "**Over budget**: " + "; ".join(reasons) + "." if reasons else "Within budget.",
            f"Approve to run it (it may then spend up to the estimate + {budget['approval_margin']:.0%}); Reject, or no "
            f"answer within {budget['approval_timeout_minutes']} minutes, skips the research.",
            f"Symbols: {', '.join(symbols)}",
        ]
    )
    result = {
        "provider": provider,
        "research_depth": depth,
        "quick_model": quick,
        "deep_model": deep,
        "symbols": len(symbols),
        "calls_per_symbol": est.calls_per_symbol,
        "tokens_per_symbol": est.tokens_per_symbol,
        "yuan_per_symbol": est.yuan_per_symbol,
        "tokens": est.tokens,
        "yuan": est.yuan,
        "basis": est.basis,
        "limits": limits,
        "day": day,
        "spent_today": {"tokens": today.tokens, "yuan": today.yuan},
        "approval_margin": budget["approval_margin"],
        "approval_timeout_minutes": budget["approval_timeout_minutes"],
        "max_consecutive_failures": budget["max_consecutive_failures"],
        "needs_approval": bool(reasons),
        "reasons": reasons,
        "approval_text": text,
    }
    log.info("research estimate: %s", text.replace("\n", " | "))
    return result


def _limit_text(tokens: float | None, yuan: float | None) -> str:
    t = "unlimited tokens" if tokens is None else f"{int(tokens):,} tokens"
    y = "unlimited 元" if yuan is None else f"{yuan:.4f} 元"
    return f"{t} / {y}"


def effective_limits(batch: Mapping[str, Any], approved: bool) -> dict[str, float | None]:
    """The limits symbols are checked against: the budget, or — for an approved batch — the
    estimate plus the approval margin for the run and no day limit."""
    if not approved:
        return dict(batch["limits"])
    margin = 1 + float(batch["approval_margin"] or 0)
    lim = batch["limits"]
    return {
        "run_tokens": max(lim["run_tokens"] or 0, batch["tokens"] * margin) if lim["run_tokens"] is not None else None,
        "run_yuan": max(lim["run_yuan"] or 0, batch["yuan"] * margin) if lim["run_yuan"] is not None else None,
        "day_tokens": None,
        "day_yuan": None,
    }


# -- per symbol ------------------------------------------------------------------------------------


class ResearchNotStarted(_Skip):  # type: ignore[misc,valid-type]
    """A symbol was not started: it would cross a budget, or the provider keeps failing.

    An ``AirflowSkipException``: the mapped task ends *skipped*, with this message in its log.
    """


@dataclass(frozen=True)
class Ticket:
    """A started research attempt: its ledger key and what it reserved."""

    usage_id: str
    run_id: str
    symbol: str
    provider: str
    research_depth: int
    day: str
    try_number: int
    estimate_tokens: int
    estimate_yuan: float


def _consecutive_failures(db: Database, run_id: str, n: int) -> list[dict[str, Any]]:
    """The run's last ``n`` settled attempts, newest first, if all of them failed on provider errors."""
    last = list(
        db[C.LLM_USAGE]
        .find({"run_id": run_id, "status": {"$in": ["completed", "failed"]}}, {"_id": 0})
        .sort("finished_at", -1)
        .limit(n)
    )
    if len(last) == n and all(d["status"] == "failed" and d.get("error_kind") == "provider" for d in last):
        return last
    return []


def begin_research(
    db: Database,
    *,
    run_id: str,
    symbol: str,
    try_number: int,
    batch: Mapping[str, Any],
    approved: bool,
) -> Ticket:
    """Reserve this symbol's estimate in the ledger, or raise :class:`ResearchNotStarted`.

    Refused when the run's last ``max_consecutive_failures`` attempts all failed on provider
    errors, or when the run's or the day's spend (open reservations included) plus this symbol's
    estimate would cross a limit (:func:`effective_limits`).
    """
    from ta_scheduler.storage.writes import delete_where, write_docs

    provider = batch["provider"]
    n_fail = int(batch["max_consecutive_failures"] or 0)
    if n_fail and provider != "offline":
        failures = _consecutive_failures(db, run_id, n_fail)
        if failures:
            raise ResearchNotStarted(
                f"{symbol}: not started — {provider} failed the last {n_fail} symbols of this run in a row "
                f"(last: {failures[0]['symbol']}: {failures[0].get('error', '')[:300]}); fix the provider and "
                f"re-run the failed and skipped symbols"
            )
    day = shanghai_day()
    ticket = Ticket(
        usage_id=f"{run_id}|{provider}|{symbol}|{try_number}", run_id=run_id, symbol=symbol, provider=provider,
        research_depth=int(batch["research_depth"]), day=day, try_number=try_number,
        estimate_tokens=int(batch["tokens_per_symbol"]), estimate_yuan=float(batch["yuan_per_symbol"]),
    )  # fmt: skip
    now = datetime.now(UTC)
    write_docs(db[C.LLM_USAGE], [{
        "usage_id": ticket.usage_id, "run_id": run_id, "symbol": symbol, "try_number": try_number,
        "provider": provider, "research_depth": ticket.research_depth, "day": day, "status": "reserved",
        "estimate": {"tokens": ticket.estimate_tokens, "yuan": ticket.estimate_yuan},
        "started_at": now, "finished_at": None,
    }], timestamp_field=None, natural_ids=False)  # fmt: skip
    limits = effective_limits(batch, approved)
    run_spend = spent(db, run_id=run_id, exclude=ticket.usage_id)
    day_spend = spent(db, day=day, exclude=ticket.usage_id)
    checks = [
        ("run", "tokens", limits["run_tokens"], run_spend.tokens, ticket.estimate_tokens),
        ("run", "元", limits["run_yuan"], run_spend.yuan, ticket.estimate_yuan),
        (f"day {day}", "tokens", limits["day_tokens"], day_spend.tokens, ticket.estimate_tokens),
        (f"day {day}", "元", limits["day_yuan"], day_spend.yuan, ticket.estimate_yuan),
    ]
    for scope, unit, limit, used, more in checks:
        if _over(limit, used, more):
            delete_where(db[C.LLM_USAGE], {"usage_id": ticket.usage_id})
            raise ResearchNotStarted(
                f"{symbol}: not started — it would cross the {scope} budget of {_num(limit, unit)} "
                f"(spent and reserved {_num(used, unit)}, this symbol ≈ {_num(more, unit)})"
            )
    return ticket


def _num(value: float, unit: str) -> str:
    return f"{int(value):,} tokens" if unit == "tokens" else f"{value:.4f} 元"


def settle_research(
    db: Database,
    ticket: Ticket,
    usage: Mapping[str, Any],
    *,
    error: BaseException | None = None,
    analysis_id: str | None = None,
) -> dict[str, Any]:
    """Replace the reservation with what the attempt used (``usage`` from :func:`usage_from_steps`);
    a failed attempt keeps the usage of the calls it made before failing."""
    from ta_scheduler.llm.base import LLMRetryableError
    from ta_scheduler.storage.writes import write_docs

    tu, cost = usage["token_usage"], usage["cost"]
    doc = {
        "usage_id": ticket.usage_id, "run_id": ticket.run_id, "symbol": ticket.symbol,
        "try_number": ticket.try_number, "provider": ticket.provider, "research_depth": ticket.research_depth,
        "day": ticket.day, "status": "failed" if error is not None else "completed",
        "estimate": {"tokens": ticket.estimate_tokens, "yuan": ticket.estimate_yuan},
        "calls": tu["calls"], "input_tokens": tu["input_tokens"], "output_tokens": tu["output_tokens"],
        "total_tokens": tu["total_tokens"], "yuan": cost["yuan"], "by_model": cost["by_model"],
        "analysis_id": analysis_id, "finished_at": datetime.now(UTC),
    }  # fmt: skip
    if error is not None:
        doc["error"] = str(error)[:1000]
        doc["error_kind"] = "provider" if isinstance(error, LLMRetryableError) else "other"
    write_docs(db[C.LLM_USAGE], [doc], timestamp_field=None, natural_ids=False)
    return doc


def run_budgeted_research(
    db: Database,
    symbol: str,
    *,
    batch: Mapping[str, Any],
    approved: bool,
    run_id: str,
    try_number: int,
    analysis_date: str,
    quick_model: str | None = None,
    deep_model: str | None = None,
) -> dict[str, Any]:
    """One mapped research task: reserve (or skip), research, settle the ledger with the usage
    the provider reported — also when the research fails — and return the research summary."""
    from ta_scheduler.llm.research import CallLog, run_stock_research

    ticket = begin_research(db, run_id=run_id, symbol=symbol, try_number=try_number, batch=batch, approved=approved)
    calls = CallLog()
    prices = load_prices()
    try:
        result = run_stock_research(
            db, symbol, analysis_date=analysis_date, llm_provider=batch["provider"],
            research_depth=int(batch["research_depth"]), quick_model=quick_model, deep_model=deep_model,
            run_id=run_id, call_log=calls,
        )  # fmt: skip
    except BaseException as exc:
        settle_research(db, ticket, usage_from_steps(calls.steps, ticket.provider, prices), error=exc)
        raise
    settle_research(db, ticket, usage_from_steps(calls.steps, ticket.provider, prices), analysis_id=result["analysis_id"])
    return result


def summarise_run_usage(db: Database, run_id: str) -> dict[str, Any]:
    """The run's settled usage by provider and today's, for the run's last task (XCom) and log."""
    day = shanghai_day()
    run = usage_by_provider(db, run_id=run_id)
    today = usage_by_provider(db, day=day)
    for scope, rows in (("run", run), (f"day {day}", today)):
        for r in rows:
            log.info(
                "%s %s: %d researches (%d failed), %d calls, %s tokens in / %s out, %.4f 元",
                scope, r["provider"], r["researches"], r["failed"], r["calls"], f"{r['input_tokens']:,}",
                f"{r['output_tokens']:,}", r["yuan"],
            )  # fmt: skip
    return {"run": run, "day": day, "today": today}
