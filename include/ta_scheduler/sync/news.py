"""News sync (``news_sync``, hourly): fetch, de-duplicate on a stable id, link to the stocks named.

Documents are written as TradingAgents-CN's news importer writes them: ``publish_time`` is the
naive Beijing wall-clock time (the true instant is ``published_at``, timezone-aware), ``url`` is
``""`` when the source gives none (never null), ``symbol`` is the first stock the item names (a
scalar, what its per-stock query matches; ``None`` when it names none), ``symbols`` all of them,
``full_symbol``/``market`` as it sets them.

Each item also carries the labels TradingAgents-CN's news pages and filters read (:func:`news_labels`):
``sentiment`` (positive/negative/neutral, ``analytics.news_sentiment.sentiment_label``) and
``sentiment_score`` from that module's offline lexicon model, ``keywords`` (the sentiment terms it found), ``category``
(company_announcement, policy_news, market_news, research_report or general, from the title),
``importance`` (high/medium/low), ``summary`` (the content's opening, at most 200 characters) and
``author`` (``""``: no source names one).

``news_id`` = first 24 hex chars of sha1(url | publish_time | title): exactly TradingAgents-CN's
unique key (url, title, publish_time), so two items that would break its unique index are one
document here. The same item fetched again (overlapping windows, re-runs, a second source with
the same headline at the same second) maps to the same document. Stocks are linked when the title
or content names them (stock name from ``stock_basic_info`` or a 6-digit code that exists there);
``stock_names`` holds their names.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ta_scheduler.analytics.news_sentiment import LexiconScorer, news_text, sentiment_label
from ta_scheduler.constants import Collections as C
from ta_scheduler.market import TZ
from ta_scheduler.storage.writes import write_docs
from ta_scheduler.sync.tacn_format import MARKET_CN, beijing_wall_clock

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")

#: Title words that decide ``category``, tried in this order (the first group with a hit wins).
CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("company_announcement", ("公告", "年报", "半年报", "季报", "业绩", "财报", "分红", "回购", "增持", "减持", "停牌", "复牌")),
    ("policy_news", ("政策", "央行", "证监会", "国务院", "发改委", "财政部", "监管", "法规", "降准", "降息")),
    ("research_report", ("研报", "评级", "目标价", "券商", "首次覆盖", "调研")),
    ("market_news", ("大盘", "指数", "板块", "行情", "A股", "沪指", "深成指", "创业板指", "北向资金", "两市", "收评", "午评")),
)
#: Title words of events that move a stock on their own: such items are ``importance`` high.
MAJOR_EVENT_WORDS = ("重大", "重组", "收购", "并购", "停牌", "立案", "退市", "违约", "业绩预告", "突发", "处罚")
SUMMARY_CHARS = 200
_SCORER = LexiconScorer()


def news_labels(title: str, content: str, names_a_stock: bool) -> dict[str, Any]:
    """TradingAgents-CN's label fields of one news item (pure; see the module doc).

    ``importance``: high when the title names a major event or the item is strongly one-sided
    (|score| ≥ 0.7), medium when it names a listed stock, low otherwise.
    """
    text = news_text({"title": title, "content": content})
    score = round(_SCORER.score_one(text), 4)
    category = next((name for name, words in CATEGORY_WORDS if any(w in title for w in words)), "general")
    if any(w in title for w in MAJOR_EVENT_WORDS) or abs(score) >= 0.7:
        importance = "high"
    else:
        importance = "medium" if names_a_stock else "low"
    summary = " ".join((content or "").split())
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
    return {"sentiment": sentiment_label(score), "sentiment_score": score, "keywords": _SCORER.terms(text)[:10], "category": category,
            "importance": importance, "summary": summary, "author": ""}


def news_id(url: str, publish_time: datetime, title: str) -> str:
    """Stable id of a news item (pure): its (url, wall-clock publish_time, title)."""
    raw = f"{url}|{publish_time.isoformat()}|{title.strip()}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:24]


class StockMatcher:
    """Finds the stocks a text names: by name (longest first) or by a known 6-digit code."""

    def __init__(self, names_by_code: Mapping[str, str]) -> None:
        self.names_by_code = dict(names_by_code)
        self.code_by_name: dict[str, str] = {}
        for code, name in names_by_code.items():
            if name:
                self.code_by_name.setdefault(name, code)
                bare = re.sub(r"^\*?ST", "", name)
                if len(bare) >= 3:
                    self.code_by_name.setdefault(bare, code)
        names = sorted(self.code_by_name, key=len, reverse=True)
        self._names = re.compile("|".join(re.escape(n) for n in names)) if names else None

    def codes_in(self, text: str) -> list[str]:
        """The codes named in ``text``, each once, in the order they are first named (the title
        comes first in what ``sync_news`` passes, so the stock a headline is about leads)."""
        hits: list[tuple[int, str]] = []
        if self._names is not None:
            hits += [(m.start(), self.code_by_name[m.group()]) for m in self._names.finditer(text)]
        hits += [(m.start(), m.group(1)) for m in _CODE.finditer(text) if m.group(1) in self.names_by_code]
        return list(dict.fromkeys(code for _, code in sorted(hits)))


def sync_news(provider: MarketDataProvider, db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    """Store the news published in ``[start, end)`` (aware datetimes), de-duplicated and linked."""
    frame = provider.news(start, end)
    basics = list(db[C.STOCK_BASIC_INFO].find({"source": provider.name}, {"code": 1, "name": 1, "ts_code": 1}))
    if not basics:
        basics = provider.stock_basic()[["code", "name", "ts_code"]].to_dict("records")
    names = {d["code"]: d.get("name") for d in basics}
    ts_codes = {d["code"]: d.get("ts_code") for d in basics}
    matcher = StockMatcher(names)
    docs, seen, linked = [], set(), 0
    for row in _rows(frame):
        when = row["publish_time"].to_pydatetime() if hasattr(row["publish_time"], "to_pydatetime") else row["publish_time"]
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        wall, url = beijing_wall_clock(when), row.get("url") or ""
        nid = news_id(url, wall, row["title"])
        if nid in seen:
            continue
        seen.add(nid)
        codes = matcher.codes_in(f"{row['title']}\n{row['content']}")
        linked += bool(codes)
        symbol = codes[0] if codes else None
        docs.append({"news_id": nid, "title": row["title"], "content": row["content"], "source": row["source"],
                     "url": url, "publish_time": wall, "published_at": when,
                     "publish_date": when.astimezone(TZ).date().isoformat(), "channels": row.get("channels"),
                     "symbol": symbol, "full_symbol": ts_codes.get(symbol) if symbol else None, "market": MARKET_CN,
                     "symbols": codes, "stock_names": [names[c] for c in codes], "data_source": provider.name,
                     **news_labels(row["title"], row["content"], bool(codes))})
    res = write_docs(db[C.STOCK_NEWS], docs, mode="replace", partition=("publish_date", "data_source"))
    from ta_scheduler.sync.completeness import record_news_hours

    hours = record_news_hours(db, provider.name, start, end, [d["published_at"] for d in docs])
    log.info("%s news %s..%s: %d fetched, %d unique, %d linked to stocks (%s)", provider.name, start.isoformat(),
             end.isoformat(), len(frame), len(docs), linked, res.as_dict())
    return {"fetched": len(frame), "unique": len(docs), "duplicates": len(frame) - len(docs), "linked": linked,
            "data_source": provider.name, "ledger_hours": hours, **res.as_dict()}


def _rows(frame) -> Iterable[dict[str, Any]]:
    cols = {c: frame[c].tolist() for c in frame.columns}
    for i in range(len(frame)):
        yield {c: cols[c][i] for c in cols}
