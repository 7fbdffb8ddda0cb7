"""The stored indicators on a real store: equal to a plain per-stock reference of the 通达信
formulas, carried forward from states exactly as a full recomputation, and recomputed when a
state is deleted, a day is missing or a factor changes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analytics_seed import trading_days
from ta_scheduler.analytics.indicator_state import invalidate_indicator_states
from ta_scheduler.analytics.indicators import INDICATOR_FIELDS
from ta_scheduler.analytics.jobs import compute_indicators_for_date
from ta_scheduler.analytics.stored_bars import RAW_PRICE_FIELDS
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.writes import write_docs

DAYS = trading_days(75)
TOL = 1e-9
EX_DAY = DAYS[50]  # 600001: 10送10 (price halves, adj_factor doubles)
CONSTANT, UNADJUSTED, NEW, SUSPENDED, EX = "600002", "600003", "600004", "600005", "600001"


def _market() -> dict[str, list[dict]]:
    """Raw bars per stock: random walks, a late listing, a suspension, constant prices, an
    ex-rights day, a stock without adj_factor, limit-locked days (high = low = close)."""
    rng = np.random.default_rng(11)
    bars: dict[str, list[dict]] = {}
    for k in range(16):
        sym = f"{600000 + k:06d}"
        price, adj, rows = float(rng.uniform(3, 300)), 1.0 + k / 10, []
        for i, d in enumerate(DAYS):
            if sym == NEW and i < 40 or sym == SUSPENDED and 20 <= i < 31 or rng.random() < 0.03:
                continue
            pre = price
            if sym == EX and d == EX_DAY:
                pre, adj = round(price / 2, 2), adj * 2
            close = round(max(pre * (1 + rng.normal(0, 0.03)), 0.5), 2)
            high = round(max(close, pre) * (1 + abs(rng.normal(0, 0.01))), 2)
            low = round(min(close, pre) * (1 - abs(rng.normal(0, 0.01))), 2)
            if rng.random() < 0.05:  # limit-locked
                high = low = close = round(pre * 1.1, 2)
            if sym == CONSTANT:
                high = low = close = pre = 8.0
            rows.append({"trade_date": d, "open": pre, "high": high, "low": low, "close": close, "pre_close": pre,
                         "volume": float(int(rng.uniform(1e5, 5e6))), "adj_factor": None if sym == UNADJUSTED else adj})
            price = close
        bars[sym] = rows
    return bars


MARKET = _market()


def store_bars(db, rows: list[tuple[str, dict]]) -> None:
    """Write raw bars the way the sync writes them, with the raw prices under the stored names
    of ``RAW_PRICE_FIELDS``."""
    docs = []
    for sym, bar in rows:
        doc = {"symbol": sym, "code": sym, "period": "daily", "data_source": "demo", "trade_date": bar["trade_date"],
               "volume": bar["volume"]}
        for name, stored in RAW_PRICE_FIELDS.items():
            if bar.get(name) is not None:
                doc[stored] = bar[name]
        docs.append(doc)
    write_docs(db[C.STOCK_DAILY_QUOTES], docs, mode="replace", partition=("trade_date", "data_source"))


def seed(db, skip: set[tuple[str, str]] = frozenset()) -> None:
    store_bars(db, [(s, b) for s, rows in MARKET.items() for b in rows if (s, b["trade_date"]) not in skip])


# --- the reference: 通达信 formulas, one stock at a time, plain Python ---------------------------


def _sma_tdx(xs, n, m=1):
    out, y = [], None
    for x in xs:
        y = x if y is None else (m * x + (n - m) * y) / n
        out.append(y)
    return out


def _ema_tdx(xs, n):
    out, y = [], None
    for x in xs:
        y = x if y is None else (2 * x + (n - 1) * y) / (n + 1)
        out.append(y)
    return out


def reference(sym: str, day: str) -> dict[str, float | None]:
    """The stock's indicators on ``day`` from its whole history up to that day."""
    rows = [b for b in MARKET[sym] if b["trade_date"] <= day]
    last = rows[-1]["adj_factor"]
    known, factors = None, []
    for b in rows:
        known = b["adj_factor"] if b["adj_factor"] is not None else known
        factors.append(known)
    first = next((f for f in factors if f is not None), None)
    factors = [f if f is not None else first for f in factors]
    scale = [1.0 if last is None else f / last for f in factors]
    c = [b["close"] * s for b, s in zip(rows, scale, strict=True)]
    h = [b["high"] * s for b, s in zip(rows, scale, strict=True)]
    lo = [b["low"] * s for b, s in zip(rows, scale, strict=True)]
    v = [b["volume"] for b in rows]
    n = len(c)
    out: dict[str, float | None] = {}
    for p in (5, 10, 20, 60):
        out[f"ma{p}"] = sum(c[-p:]) / p if n >= p else None
    e12, e26 = _ema_tdx(c, 12), _ema_tdx(c, 26)
    out["ema12"], out["ema26"] = e12[-1], e26[-1]
    dif = [a - b for a, b in zip(e12, e26, strict=True)]
    dea = _ema_tdx(dif, 9)
    out["macd_dif"], out["macd_dea"], out["macd_hist"] = dif[-1], dea[-1], 2 * (dif[-1] - dea[-1])
    moves = [c[i] - c[i - 1] for i in range(1, n)]
    for p in (6, 12, 24):
        if not moves:
            out[f"rsi{p}"] = None
            continue
        up, size = _sma_tdx([max(m, 0) for m in moves], p)[-1], _sma_tdx([abs(m) for m in moves], p)[-1]
        out[f"rsi{p}"] = up / size * 100 if size else None
    if n >= 9:
        rsv = []
        for i in range(8, n):
            hh, ll = max(h[i - 8 : i + 1]), min(lo[i - 8 : i + 1])
            rsv.append((c[i] - ll) / (hh - ll) * 100 if hh > ll else 50.0)
        k = _sma_tdx([50.0] + rsv, 3)[1:]
        d = _sma_tdx([50.0] + k, 3)[1:]
        out["kdj_k"], out["kdj_d"], out["kdj_j"] = k[-1], d[-1], 3 * k[-1] - 2 * d[-1]
    else:
        out["kdj_k"] = out["kdj_d"] = out["kdj_j"] = None
    if n >= 20:
        mid = sum(c[-20:]) / 20
        std = math.sqrt(sum((x - mid) ** 2 for x in c[-20:]) / 19)
        out["boll_upper"], out["boll_mid"], out["boll_lower"] = mid + 2 * std, mid, mid - 2 * std
    else:
        out["boll_upper"] = out["boll_mid"] = out["boll_lower"] = None
    tr = [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, n)]
    out["atr14"] = sum(tr[-14:]) / 14 if len(tr) >= 14 else None
    base = sum(v[-6:-1]) / 5 if n >= 6 else 0
    out["volume_ratio"] = v[-1] / base if base else None
    return out


def assert_matches_reference(doc: dict, sym: str, day: str) -> None:
    ref = reference(sym, day)
    for f in INDICATOR_FIELDS:
        if ref[f] is None:
            assert doc[f] is None, (sym, day, f, doc[f])
        else:
            assert doc[f] is not None and abs(doc[f] - ref[f]) <= TOL * max(1.0, abs(ref[f])), (sym, day, f, doc[f], ref[f])


def _docs(db, day: str | None = None) -> dict[tuple[str, str], dict]:
    query = {"trade_date": day} if day else {}
    return {(d["symbol"], d["trade_date"]): d for d in db[C.TECHNICAL_INDICATORS].find(query)}


@pytest.fixture(scope="module")
def daily_run(mongo_uri):
    """The job run day by day over the whole market history (the first day from scratch)."""
    import uuid

    from ta_scheduler.config import MongoTarget
    from ta_scheduler.storage.mongo import get_db

    name = f"ta_test_{uuid.uuid4().hex[:10]}"
    db = get_db(MongoTarget(mongo_uri.rstrip("/") + "/" + name, name, "test"))
    seed(db)
    results = {d: compute_indicators_for_date(db, d) for d in DAYS}
    yield db, results, _docs(db)
    db.client.drop_database(name)


def test_every_stored_value_equals_the_reference_on_every_bar(daily_run):
    db, results, docs = daily_run
    expected = {(s, b["trade_date"]) for s, rows in MARKET.items() for b in rows}
    assert set(docs) == expected
    for (sym, day), doc in docs.items():
        assert_matches_reference(doc, sym, day)
    assert results[DAYS[0]]["recomputed"] == results[DAYS[0]]["symbols"]
    assert sum(r["carried"] for r in results.values()) > 0.9 * len(docs)


def test_documents_say_the_price_basis(daily_run):
    _db, _results, docs = daily_run
    doc = docs[(UNADJUSTED, DAYS[-1])]
    assert {k: v for k, v in doc.items() if k not in INDICATOR_FIELDS and k not in ("_id", "updated_at")} == {
        "symbol": UNADJUSTED, "trade_date": DAYS[-1], "data_source": "demo", "convention": "cn",
        "price_basis": "unadjusted", "bars": len(MARKET[UNADJUSTED]), "close_qfq": MARKET[UNADJUSTED][-1]["close"],
    }
    assert {d["price_basis"] for (s, _), d in docs.items() if s != UNADJUSTED} == {"qfq"}


def test_ex_rights_day_is_carried_forward_by_rescaling(daily_run):
    db, results, docs = daily_run
    assert results[EX_DAY]["recomputed"] == 0 and results[EX_DAY]["carried"] == results[EX_DAY]["symbols"]
    assert_matches_reference(docs[(EX, EX_DAY)], EX, EX_DAY)
    state = db[C.INDICATOR_STATE].find_one({"symbol": EX})
    assert state["adj_factor"] == MARKET[EX][-1]["adj_factor"] and state["price_basis"] == "qfq"


def test_constant_prices_keep_kdj_at_50(daily_run):
    _db, _results, docs = daily_run
    doc = docs[(CONSTANT, DAYS[-1])]
    assert (doc["kdj_k"], doc["kdj_d"], doc["kdj_j"]) == (50.0, 50.0, 50.0)
    assert doc["rsi6"] is None and doc["atr14"] == 0.0 and doc["boll_upper"] == doc["boll_lower"] == 8.0


def test_rerun_changes_no_document(daily_run):
    db, _results, docs = daily_run
    states = list(db[C.INDICATOR_STATE].find())
    again = compute_indicators_for_date(db, DAYS[-1])
    assert again["unchanged"] == again["symbols"] and again["inserted"] == again["updated"] == 0
    assert _docs(db) == docs  # whole documents, updated_at and _id included
    assert list(db[C.INDICATOR_STATE].find()) == states


def test_incremental_equals_full_recomputation(daily_run, mongo_db):
    """Each of the last 60 days computed from scratch equals the day-by-day result."""
    _db, _results, docs = daily_run
    seed(mongo_db)
    for day in DAYS[-60:]:
        mongo_db[C.INDICATOR_STATE].delete_many({})
        out = compute_indicators_for_date(mongo_db, day)
        assert out["recomputed"] == out["symbols"]
        for key, doc in _docs(mongo_db, day).items():
            for f in INDICATOR_FIELDS:
                a, b = doc[f], docs[key][f]
                assert (a is None) == (b is None) and (a is None or abs(a - b) <= TOL * max(1.0, abs(b))), (key, f, a, b)


def _run(db, days):
    return [compute_indicators_for_date(db, d) for d in days]


def test_deleted_state_recomputes_that_stock(mongo_db):
    seed(mongo_db)
    _run(mongo_db, DAYS[-4:-1])
    mongo_db[C.INDICATOR_STATE].delete_one({"symbol": "600007"})
    out = compute_indicators_for_date(mongo_db, DAYS[-1])
    assert out["recomputed"] == 1 and out["carried"] == out["symbols"] - 1
    assert_matches_reference(mongo_db[C.TECHNICAL_INDICATORS].find_one({"symbol": "600007", "trade_date": DAYS[-1]}),
                             "600007", DAYS[-1])


def test_a_day_the_job_missed_recomputes_the_stocks_that_traded_then(mongo_db):
    seed(mongo_db)
    _run(mongo_db, [DAYS[-4], DAYS[-3]])  # DAYS[-2] never computed
    out = compute_indicators_for_date(mongo_db, DAYS[-1])
    traded = {s for s, rows in MARKET.items() for b in rows if b["trade_date"] == DAYS[-2]}
    assert out["recomputed"] == len(traded & {s for s, rows in MARKET.items() for b in rows if b["trade_date"] == DAYS[-1]})
    for sym in MARKET:
        doc = mongo_db[C.TECHNICAL_INDICATORS].find_one({"symbol": sym, "trade_date": DAYS[-1]})
        if doc:
            assert_matches_reference(doc, sym, DAYS[-1])


def test_a_repaired_day_recomputes_after_invalidation(mongo_db):
    sym, day = "600008", DAYS[-2]
    good = next(b for b in MARKET[sym] if b["trade_date"] == day)
    seed(mongo_db)
    store_bars(mongo_db, [(sym, {**good, "close": good["low"]})])  # a wrong bar, taken by the state
    _run(mongo_db, DAYS[-3:-1])
    store_bars(mongo_db, [(sym, good)])  # the repair refetches the day
    assert invalidate_indicator_states(mongo_db, day, [sym]) == 1
    assert invalidate_indicator_states(mongo_db, day, [sym]) == 0
    out = compute_indicators_for_date(mongo_db, DAYS[-1])
    assert out["recomputed"] == 1 and out["carried"] == out["symbols"] - 1
    assert_matches_reference(mongo_db[C.TECHNICAL_INDICATORS].find_one({"symbol": sym, "trade_date": DAYS[-1]}), sym, DAYS[-1])


def test_a_bar_stored_late_is_a_gap_that_recomputes_the_stock(mongo_db):
    late = ("600008", DAYS[-2])
    seed(mongo_db, skip={late})  # missing when the job runs that day
    _run(mongo_db, DAYS[-3:-1])
    store_bars(mongo_db, [(late[0], b) for b in MARKET[late[0]] if b["trade_date"] == late[1]])
    out = compute_indicators_for_date(mongo_db, DAYS[-1])
    assert out["recomputed"] == 1
    assert_matches_reference(mongo_db[C.TECHNICAL_INDICATORS].find_one({"symbol": late[0], "trade_date": DAYS[-1]}),
                             late[0], DAYS[-1])


def test_a_changed_bar_of_the_day_recomputes_on_rerun(mongo_db):
    seed(mongo_db)
    _run(mongo_db, DAYS[-2:])
    bar = dict(next(b for b in MARKET["600009"] if b["trade_date"] == DAYS[-1]))
    store_bars(mongo_db, [("600009", {**bar, "close": bar["close"] + 0.01, "high": max(bar["high"], bar["close"] + 0.01)})])
    out = compute_indicators_for_date(mongo_db, DAYS[-1])
    assert out["recomputed"] == 1 and out["unchanged"] == out["symbols"] - 1 and out["updated"] == 1


def test_a_past_day_is_recomputed_without_moving_the_states(mongo_db):
    seed(mongo_db)
    _run(mongo_db, DAYS[-2:])
    states = list(mongo_db[C.INDICATOR_STATE].find())
    out = compute_indicators_for_date(mongo_db, DAYS[-10])
    assert out["recomputed"] == out["symbols"]
    assert list(mongo_db[C.INDICATOR_STATE].find()) == states
    for sym in MARKET:
        doc = mongo_db[C.TECHNICAL_INDICATORS].find_one({"symbol": sym, "trade_date": DAYS[-10]})
        if doc:
            assert_matches_reference(doc, sym, DAYS[-10])


def test_invalidate_needs_a_date(mongo_db):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        invalidate_indicator_states(mongo_db, "yesterday")
