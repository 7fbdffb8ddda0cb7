"""News sync (``news_sync``, hourly): fetch, de-duplicate on a stable id, link to the stocks named.

``news_id`` = first 24 hex chars of sha1(source | publish_time ISO | title): the same item
fetched again (overlapping windows, re-runs) maps to the same document. Stocks are linked when
the title or content names them (stock name from ``stock_basic_info`` or a 6-digit code that
exists there); ``symbols`` holds the codes, ``stock_names`` the names.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ta_scheduler.constants import TIMEZONE
from ta_scheduler.constants import Collections as C
from ta_scheduler.sync.store import write_docs

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)
_TZ = ZoneInfo(TIMEZONE)
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def news_id(source: str, publish_time: datetime, title: str) -> str:
    """Stable id of a news item (pure)."""
    raw = f"{source}|{publish_time.isoformat()}|{title.strip()}"
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
        found = set()
        if self._names is not None:
            found.update(self.code_by_name[m] for m in self._names.findall(text))
        found.update(c for c in _CODE.findall(text) if c in self.names_by_code)
        return sorted(found)


def sync_news(provider: MarketDataProvider, db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    """Store the news published in ``[start, end)`` (aware datetimes), de-duplicated and linked."""
    frame = provider.news(start, end)
    names = {d["code"]: d.get("name") for d in db[C.STOCK_BASIC_INFO].find({"source": provider.name}, {"code": 1, "name": 1})}
    if not names:
        sb = provider.stock_basic()
        names = dict(zip(sb["code"].tolist(), sb["name"].tolist()))
    matcher = StockMatcher(names)
    docs, seen, linked = [], set(), 0
    for row in _rows(frame):
        when = row["publish_time"].to_pydatetime() if hasattr(row["publish_time"], "to_pydatetime") else row["publish_time"]
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        nid = news_id(row["source"], when, row["title"])
        if nid in seen:
            continue
        seen.add(nid)
        codes = matcher.codes_in(f"{row['title']}\n{row['content']}")
        linked += bool(codes)
        docs.append({"news_id": nid, "title": row["title"], "content": row["content"], "source": row["source"],
                     "url": row.get("url"), "publish_time": when,
                     "publish_date": when.astimezone(_TZ).date().isoformat(), "channels": row.get("channels"),
                     "symbols": codes, "stock_names": [names[c] for c in codes], "data_source": provider.name})
    res = write_docs(db[C.STOCK_NEWS], docs, mode="replace", partition=("publish_date", "data_source"))
    from ta_scheduler.sync.completeness import record_news_hours

    hours = record_news_hours(db, provider.name, start, end, [d["publish_time"] for d in docs])
    log.info("%s news %s..%s: %d fetched, %d unique, %d linked to stocks (%s)", provider.name, start.isoformat(),
             end.isoformat(), len(frame), len(docs), linked, res.as_dict())
    return {"fetched": len(frame), "unique": len(docs), "duplicates": len(frame) - len(docs), "linked": linked,
            "data_source": provider.name, "ledger_hours": hours, **res.as_dict()}


def _rows(frame) -> Iterable[dict[str, Any]]:
    cols = {c: frame[c].tolist() for c in frame.columns}
    for i in range(len(frame)):
        yield {c: cols[c][i] for c in cols}
