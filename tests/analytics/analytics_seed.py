"""A small synthetic market written the way docs/data-model.md defines the collections."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np


def trading_days(n: int, end: str = "2026-11-27") -> list[str]:
    """``n`` weekdays ending at ``end`` (holidays do not matter to these tests)."""
    out, d = [], date.fromisoformat(end)
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d -= timedelta(days=1)
    return out[::-1]


def make_bars(symbols: list[str], days: list[str], seed: int = 7, source: str = "demo") -> list[dict]:
    """Daily bars per docs/data-model.md: forward-adjusted prices (to each stock's last factor), the
    exchange's prices under ``unadj_*``, adj_factor, pre_close, shares, yuan, limits."""
    rng = np.random.default_rng(seed)
    docs = []
    for k, sym in enumerate(symbols):
        price, adj = 10.0 + 5 * k, 1.0
        for i, d in enumerate(days):
            pre = price
            if i == len(days) // 2 and k == 0:  # an ex-dividend day: 0.5 yuan cash dividend
                pre = round(price - 0.5, 2)
                adj = adj * price / pre
            ret = rng.normal(0.001, 0.02)
            close = round(max(pre * (1 + ret), 1.0), 2)
            limit = 0.2 if sym.startswith("300") else 0.1
            up, down = round(pre * (1 + limit), 2), round(pre * (1 - limit), 2)
            close = min(max(close, down), up)
            high = round(max(close, pre) * (1 + abs(rng.normal(0, 0.01))), 2)
            low = round(min(close, pre) * (1 - abs(rng.normal(0, 0.01))), 2)
            vol = float(int(rng.uniform(1e6, 5e6)))
            docs.append({
                "symbol": sym, "code": sym, "ts_code": sym + (".SH" if sym.startswith("6") else ".SZ"),
                "trade_date": d, "period": "daily", "open": pre, "high": min(high, up), "low": max(low, down),
                "close": close, "pre_close": pre, "change": round(close - pre, 2),
                "pct_chg": round((close / pre - 1) * 100, 4), "volume": vol, "amount": vol * close,
                "adj_factor": round(adj, 6), "turnover_rate": round(vol / 1e8 * 100, 4),
                "up_limit": up, "down_limit": down, "data_source": source,
            })
            price = close
    for sym in symbols:
        own = [d for d in docs if d["symbol"] == sym]
        base = own[-1]["adj_factor"]
        for d in own:
            for f in ("open", "high", "low", "close", "pre_close"):
                d["unadj_" + f] = d[f]
                d[f] = round(d[f] * d["adj_factor"] / base, 2)
            d["qfq_base_factor"] = base
    return docs


def make_index(days: list[str], closes: np.ndarray, ts_code: str = "000300.SH", source: str = "demo") -> list[dict]:
    return [{"ts_code": ts_code, "name": "沪深300", "trade_date": d, "close": float(c), "data_source": source}
            for d, c in zip(days, closes, strict=True)]


def news(news_id: str, day: str, hour: int, title: str, symbols: list[str]) -> dict:
    """A stock_news document published at ``hour``:00 Asia/Shanghai on ``day`` (``publish_time`` the
    naive wall-clock time, ``published_at`` the instant)."""
    t = datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00")
    return {"news_id": news_id, "title": title, "content": "", "source": "test", "url": "",
            "publish_time": t.replace(tzinfo=None), "published_at": t.astimezone(timezone.utc),
            "symbol": symbols[0] if symbols else None, "symbols": symbols, "data_source": "demo"}
