"""The contract with TradingAgents-CN, stated per collection in our own words: which fields its code
reads or its importers write (names, types, formats), the units, the unique indexes it creates, and
the queries its readers send. ``OURS`` lists what we store beyond it (non-colliding names), so a
stored document is specified whole.

Sources (TradingAgents-CN, ``main`` at bd599607): its importers ``historical_data_service
._standardize_record`` (daily bars), ``quotes_ingestion_service._bulk_upsert`` (latest quotes),
``basics_sync_service`` + ``basics_sync/processing`` (stock list and valuation), the tushare
provider's ``_standardize_tushare_financial_data`` (financials), ``news_data_service
._standardize_news_data`` (news), ``simple_analysis_service`` (analysis reports), and the index
definitions in those services' ``_ensure_indexes`` and ``app/core/database.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ta_scheduler.analytics.news_sentiment import LexiconScorer, news_text

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
YYYYMMDD = r"\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
CODE6 = r"\d{6}"
TS_CODE = r"\d{6}\.(SH|SZ|BJ)"


@dataclass(frozen=True)
class Field:
    """One field: its BSON type as read back, an optional format (regex) or value set, nullability."""

    kind: type | tuple[type, ...]
    pattern: str | None = None
    values: frozenset | None = None
    nullable: bool = False
    unit: str = ""
    optional: bool = False  # may be absent (written once known); checked when present

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else "is null"
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if isinstance(value, bool) and bool not in kinds:
            return f"is a bool ({value!r}), expected {', '.join(k.__name__ for k in kinds)}"
        if not isinstance(value, kinds):
            return f"is {type(value).__name__} ({value!r}), expected {', '.join(k.__name__ for k in kinds)}"
        if self.pattern and not re.fullmatch(self.pattern, str(value)):
            return f"{value!r} does not match the format {self.pattern}"
        if self.values is not None and value not in self.values:
            return f"{value!r} is not one of {sorted(self.values)}"
        return None


def S(pattern: str | None = None, *, nullable: bool = False) -> Field:  # noqa: N802 - a short spec name
    return Field(str, pattern, nullable=nullable)


def N(unit: str = "", *, nullable: bool = False, optional: bool = False) -> Field:  # noqa: N802
    return Field((float, int), unit=unit, nullable=nullable, optional=optional)


def ONE_OF(*values: Any) -> Field:  # noqa: N802
    return Field(type(values[0]), values=frozenset(values))


BOOL = Field(bool)
DATETIME = Field(datetime)


@dataclass(frozen=True)
class Unit:
    """A unit or derivation rule, checked against the synthetic market's ground truth (``truth``)."""

    field: str
    rule: str
    expected: Callable[[dict, Any], Any]  # (document, truth) -> the value the field must hold
    key: Callable[[Any], Any] = lambda v: v  # what of the stored value is compared


@dataclass(frozen=True)
class CollectionContract:
    name: str
    fields: dict[str, Field]  # TradingAgents-CN's fields, as its importer writes them
    ours: dict[str, Field]  # what we add (never one of its names)
    unique_indexes: tuple[tuple[str, ...], ...]  # the unique keys it creates on the collection
    reads: tuple[Callable[[dict], dict], ...] = ()  # its queries, built from one of our documents
    units: tuple[Unit, ...] = ()
    strict: bool = True  # documents hold exactly fields + ours (+ _id)
    filter: dict = field(default_factory=dict)


SOURCES = frozenset({"tushare", "demo"})
PRICE = N("yuan, forward-adjusted (qfq)")
RAW_PRICE = N("yuan, as the exchange publishes it")

STOCK_DAILY_QUOTES = CollectionContract(
    name="stock_daily_quotes",
    fields={
        "symbol": S(CODE6), "code": S(CODE6), "full_symbol": S(TS_CODE), "market": ONE_OF("CN"),
        "trade_date": S(ISO_DATE), "period": ONE_OF("daily"), "data_source": Field(str, values=SOURCES),
        "open": PRICE, "high": PRICE, "low": PRICE, "close": PRICE, "pre_close": PRICE,
        "volume": N("shares"), "amount": N("yuan"), "change": N("yuan"), "pct_chg": N("percent"),
        "turnover_rate": N("percent"), "volume_ratio": N(), "pe": N(nullable=True), "pb": N(), "ps": N(),
        "adjustflag": Field(float, values=frozenset({2.0, 3.0})), "updated_at": DATETIME,
    },
    ours={
        "ts_code": S(TS_CODE), "unadj_open": RAW_PRICE, "unadj_high": RAW_PRICE, "unadj_low": RAW_PRICE,
        "unadj_close": RAW_PRICE, "unadj_pre_close": RAW_PRICE, "adj_factor": N(), "qfq_base_factor": N(),
        "price_adjust": ONE_OF("qfq", "none"), "turnover_rate_f": N("percent"), "pe_ttm": N(nullable=True),
        "ps_ttm": N(), "dv_ratio": N("percent"), "total_share": N("shares"), "float_share": N("shares"),
        "total_mv": N("yuan"), "circ_mv": N("yuan"), "up_limit": RAW_PRICE, "down_limit": RAW_PRICE,
    },
    unique_indexes=(("symbol", "trade_date", "data_source", "period"),),
    reads=(
        # mongodb_cache_adapter.get_historical_data (agents, K-line)
        lambda d: {"symbol": d["symbol"], "period": "daily", "data_source": d["data_source"],
                   "trade_date": {"$gte": d["trade_date"], "$lte": d["trade_date"]}},
        lambda d: {"code": d["code"], "trade_date": d["trade_date"]},  # unified_stock_service
    ),
    units=(
        Unit("unadj_close", "the exchange's close", lambda d, t: t.bar(d)["close"]),
        Unit("unadj_open", "the exchange's open", lambda d, t: t.bar(d)["open"]),
        Unit("unadj_pre_close", "the exchange's (ex-rights) previous close", lambda d, t: t.bar(d)["pre_close"]),
        Unit("volume", "shares (tushare: lots x 100)", lambda d, t: t.bar(d)["volume"]),
        Unit("amount", "yuan (tushare: thousand yuan x 1000)", lambda d, t: t.bar(d)["amount"]),
        Unit("adj_factor", "tushare's cumulative factor", lambda d, t: t.adj(d)),
        Unit("close", "qfq = round2(unadj_close x adj_factor / qfq_base_factor)",
             lambda d, t: round(d["unadj_close"] * d["adj_factor"] / d["qfq_base_factor"] + 1e-9, 2)),
        Unit("qfq_base_factor", "the adj_factor of the stock's newest stored bar", lambda d, t: t.newest_adj(d)),
        Unit("adjustflag", "2.0 (qfq) when adj_factor is known", lambda d, t: 2.0),
        Unit("full_symbol", "the code with its exchange suffix", lambda d, t: d["ts_code"]),
    ),
    filter={"period": "daily"},
)

MARKET_QUOTES = CollectionContract(
    name="market_quotes",
    fields={
        "code": S(CODE6), "symbol": S(CODE6), "close": N("yuan"), "pct_chg": N("percent"), "amount": N("yuan"),
        "volume": N("shares"), "open": N("yuan"), "high": N("yuan"), "low": N("yuan"), "pre_close": N("yuan"),
        "trade_date": S(YYYYMMDD), "updated_at": DATETIME,
    },
    ours={
        "ts_code": S(TS_CODE), "name": S(), "price": N("yuan"), "bid1": N("yuan"), "ask1": N("yuan"),
        "quote_time": DATETIME, "snapshot_time": DATETIME, "data_source": Field(str, values=SOURCES),
    },
    unique_indexes=(("code",),),
    reads=(lambda d: {"code": d["code"]}, lambda d: {"symbol": d["symbol"]}),
    units=(
        Unit("close", "the latest price (yuan)", lambda d, t: t.quote(d)["price"]),
        Unit("price", "= close", lambda d, t: d["close"]),
        Unit("trade_date", "the quote's trading day, YYYYMMDD", lambda d, t: t.quote(d)["trade_date"].replace("-", "")),
        Unit("volume", "shares", lambda d, t: t.quote(d)["volume"]),
    ),
)

STOCK_BASIC_INFO = CollectionContract(
    name="stock_basic_info",
    fields={
        "code": S(CODE6), "symbol": S(CODE6), "full_symbol": S(TS_CODE), "name": S(), "area": S(), "industry": S(),
        "market": ONE_OF("主板", "创业板", "科创板", "北交所"), "list_date": S(YYYYMMDD),
        "source": Field(str, values=SOURCES), "is_hs": BOOL, "updated_at": DATETIME,
        "total_mv": N("亿元"), "circ_mv": N("亿元"), "total_share": N("万股"), "float_share": N("万股"),
        "pe": N(nullable=True), "pe_ttm": N(nullable=True), "pb": N(), "pb_mrq": N(), "ps": N(), "ps_ttm": N(),
        "turnover_rate": N("percent"), "volume_ratio": N(), "roe": N("percent", optional=True),
    },
    ours={
        "ts_code": S(TS_CODE), "exchange": ONE_OF("SSE", "SZSE", "BSE"), "list_status": ONE_OF("L"),
        "hs_type": ONE_OF("H", "S", "N"), "data_source": Field(str, values=SOURCES), "valuation_date": S(YYYYMMDD),
        "roe_period": Field(str, YYYYMMDD, optional=True),
    },
    unique_indexes=(("code", "source"),),
    reads=(lambda d: {"code": d["code"], "source": d["source"]}, lambda d: {"source": d["source"]},
           lambda d: {"symbol": d["symbol"]}),
    units=(
        Unit("total_mv", "亿元 (tushare 万元 / 10^4)", lambda d, t: round(t.basic(d)["total_mv"] / 1e8, 6)),
        Unit("circ_mv", "亿元", lambda d, t: round(t.basic(d)["circ_mv"] / 1e8, 6)),
        Unit("total_share", "万股", lambda d, t: round(t.basic(d)["total_share"] / 1e4, 4)),
        Unit("float_share", "万股", lambda d, t: round(t.basic(d)["float_share"] / 1e4, 4)),
        Unit("pe_ttm", "tushare daily_basic pe_ttm", lambda d, t: t.basic(d)["pe_ttm"]),
        Unit("pb_mrq", "= pb (tushare's pb is MRQ)", lambda d, t: d["pb"]),
        Unit("is_hs", "H/S -> True, N -> False", lambda d, t: d["hs_type"] in ("H", "S")),
        Unit("list_date", "YYYYMMDD", lambda d, t: t.list_date(d).replace("-", "")),
        Unit("valuation_date", "the synced trading day", lambda d, t: t.day.replace("-", "")),
        Unit("roe", "fina_indicator.roe of the stock's newest report with one", lambda d, t: t.latest_roe(d)["roe"]),
        Unit("roe_period", "that report's period, YYYYMMDD", lambda d, t: t.latest_roe(d)["report_period"]),
    ),
)

_FIN = N("yuan", nullable=True)
_PCT = N("percent", nullable=True)
STOCK_FINANCIAL_DATA = CollectionContract(
    name="stock_financial_data",
    fields={
        "symbol": S(CODE6), "ts_code": S(TS_CODE), "report_period": S(YYYYMMDD), "ann_date": S(YYYYMMDD),
        "report_type": ONE_OF("quarterly", "annual"), "data_source": Field(str, values=SOURCES), "updated_at": DATETIME,
        "revenue": _FIN, "total_revenue": _FIN, "net_income": _FIN, "net_profit": _FIN, "oper_profit": _FIN,
        "total_profit": _FIN, "total_assets": _FIN, "total_liab": _FIN, "total_equity": _FIN, "money_cap": _FIN,
        "n_cashflow_act": _FIN, "n_cashflow_inv_act": _FIN, "c_cash_equ_end_period": _FIN,
        "roe": _PCT, "roe_waa": _PCT, "roa": _PCT, "gross_margin": _PCT, "netprofit_margin": _PCT,
        "debt_to_assets": _PCT, "current_ratio": N(nullable=True), "quick_ratio": N(nullable=True),
        "cash_ratio": N(nullable=True), "revenue_ttm": _FIN, "net_profit_ttm": _FIN,
    },
    ours={
        "code": S(CODE6), "full_symbol": S(TS_CODE), "basic_eps": N(nullable=True), "free_cashflow": _FIN,
        "eps": N(nullable=True), "bps": N(nullable=True), "revenue_yoy": _PCT, "net_profit_yoy": _PCT,
        "income": Field(dict), "balancesheet": Field(dict), "cashflow": Field(dict), "fina_indicator": Field(dict),
    },
    unique_indexes=(("symbol", "report_period", "data_source"),),
    reads=(
        lambda d: {"code": d["code"], "data_source": d["data_source"], "report_period": d["report_period"]},
        lambda d: {"symbol": d["symbol"], "report_period": d["report_period"]},
    ),
    units=(
        Unit("revenue", "income.revenue (营业收入), yuan", lambda d, t: t.statement(d, "income")["revenue"]),
        Unit("total_revenue", "income.total_revenue, yuan", lambda d, t: t.statement(d, "income")["total_revenue"]),
        Unit("net_profit", "income.n_income_attr_p, yuan", lambda d, t: t.statement(d, "income")["n_income_attr_p"]),
        Unit("netprofit_margin", "fina_indicator.netprofit_margin, percent",
             lambda d, t: t.statement(d, "fina_indicator")["netprofit_margin"]),
        Unit("gross_margin", "fina_indicator.grossprofit_margin, percent",
             lambda d, t: t.statement(d, "fina_indicator")["grossprofit_margin"]),
        Unit("n_cashflow_act", "cashflow.n_cashflow_act, yuan", lambda d, t: t.statement(d, "cashflow")["n_cashflow_act"]),
        Unit("total_equity", "balancesheet.total_hldr_eqy_exc_min_int, yuan",
             lambda d, t: t.statement(d, "balancesheet")["total_hldr_eqy_exc_min_int"]),
        Unit("report_type", "annual for a 1231 period", lambda d, t: "annual" if d["report_period"].endswith("1231")
             else "quarterly"),
    ),
)

STOCK_NEWS = CollectionContract(
    name="stock_news",
    fields={
        "symbol": S(CODE6, nullable=True), "full_symbol": S(TS_CODE, nullable=True), "market": ONE_OF("CN"),
        "symbols": Field(list), "title": S(), "content": S(), "url": S(), "source": S(),
        "publish_time": DATETIME, "data_source": Field(str, values=SOURCES), "updated_at": DATETIME,
        "sentiment": ONE_OF("positive", "negative", "neutral"), "sentiment_score": N(), "keywords": Field(list),
        "category": ONE_OF("company_announcement", "policy_news", "market_news", "research_report", "general"),
        "importance": ONE_OF("high", "medium", "low"), "summary": S(), "author": S(),
    },
    ours={
        "news_id": S(r"[0-9a-f]{24}"), "published_at": DATETIME, "publish_date": S(ISO_DATE),
        "channels": S(nullable=True), "stock_names": Field(list),
    },
    unique_indexes=(("url", "title", "publish_time"),),
    reads=(
        lambda d: {"symbol": d["symbol"]},  # news_data_service.query_news (scalar symbol)
        lambda d: {"symbol": d["symbol"], "publish_time": {"$gte": d["publish_time"]}},  # mongodb_cache_adapter
        lambda d: {"symbols": {"$in": [d["symbol"]]}},  # unified_news_tool's second try
    ),
    units=(
        Unit("publish_time", "naive Beijing wall-clock (stored as if UTC)",
             lambda d, t: t.wall_clock(d["published_at"])),
        Unit("symbol", "the first stock named", lambda d, t: d["symbols"][0] if d["symbols"] else None),
        Unit("full_symbol", "symbol with its exchange suffix", lambda d, t: t.ts_code(d["symbol"])),
        Unit("sentiment_score", "the lexicon model's score of title + content, 4 decimals",
             lambda d, t: round(LexiconScorer().score_one(news_text(d)), 4)),
        Unit("sentiment", "positive above +0.1, negative below -0.1, else neutral",
             lambda d, t: "positive" if d["sentiment_score"] > 0.1 else "negative" if d["sentiment_score"] < -0.1
             else "neutral"),
        Unit("summary", "the content's opening, whitespace collapsed, at most 200 characters",
             lambda d, t: (lambda c: c if len(c) <= 200 else c[:199] + "…")(" ".join(d["content"].split()))),
    ),
    filter={},
)

#: TradingAgents-CN's report modules (``reports`` keys its module endpoint serves).
TACN_REPORT_KEYS = frozenset({
    "market_report", "sentiment_report", "news_report", "fundamentals_report", "investment_plan",
    "trader_investment_plan", "final_trade_decision", "bull_researcher", "bear_researcher", "research_team_decision",
    "risky_analyst", "safe_analyst", "neutral_analyst", "risk_management_decision",
})
RISK_LEVELS = frozenset({"低", "中低", "中等", "中高", "高"})
ANALYSIS_REPORTS = CollectionContract(
    name="analysis_reports",
    fields={
        "analysis_id": S(), "stock_symbol": S(CODE6), "market_type": ONE_OF("A股"), "analysis_date": S(ISO_DATE),
        "summary": S(), "recommendation": S(), "confidence_score": N(), "risk_level": Field(str, values=RISK_LEVELS),
        "key_points": Field(list), "reports": Field(dict), "decision": Field(dict), "model_info": S(),
        "analysts": Field(list), "research_depth": Field(int), "execution_time": N("s"), "tokens_used": Field(int),
        "status": ONE_OF("completed"), "task_id": S(), "created_at": DATETIME, "updated_at": DATETIME,
    },
    ours={"models": Field(dict), "data_source": Field(str, values=SOURCES)},
    unique_indexes=(),
    reads=(
        lambda d: {"stock_symbol": d["stock_symbol"], "market_type": "A股", "analysis_date": d["analysis_date"]},
        lambda d: {"analysis_id": d["analysis_id"]},
        lambda d: {"task_id": d["task_id"]},
    ),
    units=(
        # every module it serves but sentiment_report (we run no social-sentiment analyst)
        Unit("reports", "its per-role modules, as texts",
             lambda d, t: sorted(TACN_REPORT_KEYS - {"sentiment_report"}), key=lambda v: sorted(
                 k for k, text in v.items() if k in TACN_REPORT_KEYS and isinstance(text, str) and text)),
        Unit("decision", "carries risk_score (0-1) for the risk level",
             lambda d, t: {**d["decision"], "risk_score": {"低": 0.1, "中低": 0.3, "中等": 0.5, "中高": 0.7,
                                                            "高": 0.9}[d["risk_level"]]}),
        Unit("model_info", "the deep model's name", lambda d, t: d["models"]["deep_model"]),
    ),
    strict=False,  # our research adds accounting fields (tokens, calls, inputs); only its fields are pinned
)

CONTRACT: tuple[CollectionContract, ...] = (
    STOCK_DAILY_QUOTES, MARKET_QUOTES, STOCK_BASIC_INFO, STOCK_FINANCIAL_DATA, STOCK_NEWS, ANALYSIS_REPORTS,
)


def document_problems(contract: CollectionContract, doc: dict, truth: Any) -> list[str]:
    """Everything about ``doc`` that breaks ``contract`` (empty when it holds)."""
    where = f"{contract.name} {doc.get('_id')}"
    out = _field_problems(contract, doc, where)
    clash = set(contract.fields) & set(contract.ours)
    if clash:
        out.append(f"{contract.name}: our fields reuse its names: {sorted(clash)}")
    if out:
        return out
    return _unit_problems(contract, doc, truth, where)


def _field_problems(contract: CollectionContract, doc: dict, where: str) -> list[str]:
    """Fields missing or of the wrong kind, and (strict contracts) fields outside the contract."""
    out = []
    for name, spec in {**contract.fields, **contract.ours}.items():
        if name not in doc:
            if spec.optional:
                continue
            out.append(f"{where}: field {name!r} is missing")
            continue
        problem = spec.problem(doc[name])
        if problem:
            out.append(f"{where}: {name} {problem}")
    if contract.strict:
        extra = set(doc) - set(contract.fields) - set(contract.ours) - {"_id"}
        if extra:
            out.append(f"{where}: fields outside the contract: {sorted(extra)}")
    return out


def _unit_problems(contract: CollectionContract, doc: dict, truth: Any, where: str) -> list[str]:
    """Values that differ from what the contract's units expect from ``truth``."""
    out = []
    for unit in contract.units:
        # an optional field still absent must be one whose rule expects nothing yet
        expected, stored = unit.expected(doc, truth), unit.key(doc[unit.field]) if unit.field in doc else None
        if isinstance(expected, float) and math.isnan(expected):
            expected = None  # a missing figure (NaN in a frame) is stored as null
        close_floats = (isinstance(expected, float) and isinstance(stored, float)
                        and math.isclose(stored, expected, rel_tol=1e-7, abs_tol=1e-9))
        if stored != expected and not close_floats:
            out.append(f"{where}: {unit.field} = {stored!r}, expected {expected!r} ({unit.rule})")
    return out
