"""The whole-market daily chain (vendor ready -> report stored) on an empty store and on a year of
history. The acceptance target: on a year (1.3 million documents in ``stock_daily_quotes``) the
chain takes at most 1.5x its time on an empty store.

    make bench BENCH=chain                                  # 241 days loaded before D-1 (1.3M bars)
    TA_BENCH_CHAIN_DOCS=108000 make bench BENCH=chain       # a smaller year (20 days), to try it out

**The chain** is one trading day ``D`` (2026-11-27) through the functions the DAG tasks call, in the
DAGs' order, in this process; each result row is one task:

- ``daily_sync`` (its plan is ``sync.tasks.plan_daily_sync`` of a scheduled run at 16:30):
  ``sync_calendar``, ``sync_stock_basic``, ``wait_for_vendor`` (the operator's check, which finds the
  vendor ready: the listed market against tushare's ``daily`` count), ``repair_missing_days`` (the
  ledger's last 20 trading days, the DAG's default), ``sync_daily_bars``, ``sync_index_daily``;
- ``analysis_pipeline`` as the ``daily_bars`` asset starts it (``analytics.tasks.plan_analysis`` of the
  asset event, timed with ``indicators``): ``indicators``, ``sentiment``, ``hot_stocks``;
- ``reports``: ``build_daily`` (the daily report built, stored and written to its files).

Not in it: the ``risk`` job (weekly, Sunday 03:00: not part of the daily chain), the LLM research
(manual, per symbol, and it needs an LLM), the report's delivery (after "stored"; no channel is
configured here) and the waits themselves (the chain starts when the vendor is ready, and
``wait_for_analysis`` finds the analysis done). The total is the sum of the tasks; the DAGs run the
repair beside the vendor wait, the indices beside the bars, and hot stocks beside sentiment.

**Data**: the project's tushare fake (``tests/fakes/tushare_server.py``, sized to 5,400 stocks) through
the real SDK, with a token of this run's own (tier 5000; the rate limiter's Redis keys are deleted at
the end); news sentiment by the offline lexicon (``TA_SENTIMENT_LLM_PROVIDER=offline``); the calendar
and report files go to a scratch folder.

**Stores**: each its own FerretDB of the project's build on its own PostgreSQL database
(``bench_store._ferretdb``; ``TA_BENCH_CHAIN_BACKEND``, default ``pg+gin+patch``, what
``scripts/services.sh`` starts), both up at once and dropped at the end. Both are made the same way
and differ only in how many trading days they hold before D-1:

- ``empty``: 19, the least a running deployment's day has: D-1's and D's repairs find their 20-day
  windows complete. It is what a deployment's first run leaves (its repair back-fills those days and
  the analysis recomputes them); a store with nothing in it would have D's repair back-fill 19 days
  inside the timed chain.
- ``year``: ``TA_BENCH_CHAIN_DOCS`` / 5,400 (default 1,300,000: 241 days; never fewer than 19).

Those days' bars are stored as ``sync_daily_bars`` stores them: the fake's bars through the sync's
own merge, qfq adjustment and keyed write, with their ledger entries, completion markers, qfq cache
and the index bars. They are not synced day by day through ``sync_daily_bars`` itself, which takes
15 to 55 s a day here: hours for a year. News: the real ``sync_news`` from the day before D-1 to
D 16:30 (``news_sync`` runs hourly in any deployment), and for every earlier day one real day's
items moved to it. Then D-1's chain runs, untimed: the indicator states from every stock's full
history, the sentiment window's column documents, as on the day before in a running deployment.
Then the outputs a deployment kept for the earlier days: D-1's technical indicators, market
sentiment, hot stocks and daily report moved to each of them, with their ledger entries.

Then D's chain is timed on both stores side by side, task by task: a task on one store, then the
same task on the other (which goes first alternates), so that a machine busy with other work weighs
on both alike; the fake has served D's data once before, so neither pays for generating it.

Rows ``chain_NN_<task>``: seconds on the year store, baseline = the same task on the empty store;
``chain_total``: their sums, with the target (ratio <= 1.5) in its note.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench_store import STOCKS, _ferretdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DAY = "2026-11-27"
DOCS = int(os.environ.get("TA_BENCH_CHAIN_DOCS", "1300000"))
BACKEND = os.environ.get("TA_BENCH_CHAIN_BACKEND", "pg+gin+patch")
REPAIR_DAYS = 20  # daily_sync's default repair_days
TARGET_RATIO = 1.5
INSERT_BATCH = 2000


def _at(day: str, hour: int, minute: int) -> datetime:
    """``day`` at ``hour:minute`` exchange time."""
    from ta_scheduler.market import TZ

    return datetime.combine(date.fromisoformat(day), clock(hour, minute), tzinfo=TZ)


class DailyChain:
    """One trading day through the functions the DAGs' tasks call, in the DAGs' order (a method per
    task); what the tasks pass each other through XCom is kept on the instance."""

    TASKS = ("sync_calendar", "sync_stock_basic", "wait_for_vendor", "repair_missing_days", "sync_daily_bars",
             "sync_index_daily", "indicators", "sentiment", "hot_stocks", "build_daily")

    def __init__(self, day: str) -> None:
        from ta_scheduler.calendar.runs import Run
        from ta_scheduler.sync.tasks import plan_daily_sync

        self.day = day
        self.run_id = f"scheduled__{day}T16:30:00+08:00"
        self.plan = plan_daily_sync({}, Run(kind="scheduled", tick=_at(day, 16, 30)))
        if self.plan["dates"] != [day]:
            raise RuntimeError(f"daily_sync's plan for {day} 16:30 covers {self.plan['dates']}, not {day}")
        self.repair: dict = {}
        self.analysis: dict = {}

    def timed(self, task: str, label: str) -> float:
        """Run one task; its seconds, printed."""
        t0 = time.perf_counter()
        getattr(self, task)()
        seconds = time.perf_counter() - t0
        print(f"   {label} {self.day} {task}: {seconds:.1f} s", flush=True)
        return seconds

    def run(self, label: str) -> float:
        """Every task in turn; the seconds of all."""
        return sum(self.timed(task, label) for task in self.TASKS)

    def sync_calendar(self) -> None:
        from ta_scheduler.sync.tasks import run_calendar_sync

        run_calendar_sync()

    def sync_stock_basic(self) -> None:
        from ta_scheduler.sync.tasks import run_stock_basic

        run_stock_basic()

    def wait_for_vendor(self) -> None:
        from ta_scheduler.providers import get_provider
        from ta_scheduler.storage.mongo import get_db
        from ta_scheduler.waits.vendor import listed_count, min_share, published_count, shortfall

        provider = get_provider()
        expected = listed_count(get_db(), provider.name, self.day, self.plan["symbols"])
        missing = shortfall(self.day, expected, published_count(provider, self.day, self.plan["symbols"]), min_share())
        if missing:
            raise RuntimeError(f"the tushare fake is not ready: {missing}")

    def repair_missing_days(self) -> None:
        from ta_scheduler.sync.tasks import run_repair_daily

        self.repair = run_repair_daily(self.plan, REPAIR_DAYS, run_id=self.run_id)

    def sync_daily_bars(self) -> None:
        from ta_scheduler.sync.tasks import run_daily_bars

        run_daily_bars(self.plan, run_id=self.run_id)

    def sync_index_daily(self) -> None:
        from ta_scheduler.sync.tasks import run_index_daily

        run_index_daily(self.plan)

    def indicators(self) -> None:
        from ta_scheduler.analytics.tasks import plan_analysis, run_indicators
        from ta_scheduler.calendar.runs import Run

        event = SimpleNamespace(extra={"trade_dates": self.plan["dates"], "symbols": self.plan["symbols"],
                                       "repaired_dates": self.repair["repaired_dates"]})
        run = Run(kind="asset_triggered", tick=_at(self.day, 16, 30))
        self.analysis = plan_analysis({}, {}, run, {"daily_bars": [event]})
        run_indicators(self.analysis)

    def sentiment(self) -> None:
        from ta_scheduler.analytics.tasks import run_sentiment

        run_sentiment(self.analysis)

    def hot_stocks(self) -> None:
        from ta_scheduler.analytics.tasks import run_hot_stocks

        run_hot_stocks(self.analysis)

    def build_daily(self) -> None:
        from ta_scheduler.reports.tasks import run_build_daily

        run_build_daily({"jobs": ["daily"], "date": self.day})


@dataclass
class Store:
    """One benchmark store: the connection that points the task functions at it, what it holds,
    and its chain's seconds per task."""

    label: str
    connection: str  # AIRFLOW_CONN_MONGO_DEFAULT
    db: Any
    setup: dict[str, float] = field(default_factory=dict)  # untimed phases, seconds
    bars: int = 0
    news: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def use(self) -> Any:
        """Make this the store of every task function (connection ``mongo_default``); its database."""
        os.environ["AIRFLOW_CONN_MONGO_DEFAULT"] = self.connection
        return self.db


# ------------------------------------------------------------------------------ environment
def _forget_calls(token: str) -> None:
    """Delete the rate limiter's Redis keys of ``token`` (this run's own)."""
    from ta_scheduler.storage.cache import RedisCallStore

    calls = RedisCallStore(None, token)
    keys = list(calls.client.scan_iter(f"{calls.prefix}:*"))
    if keys:
        calls.client.delete(*keys)


@contextmanager
def _environment(tushare_url: str, token: str):
    """The settings the chain reads: tushare = the fake, offline news sentiment, scratch folders
    for the calendar and report files; the project's logs at warnings only. All restored after
    (other benchmarks run in this process)."""
    tmp = tempfile.mkdtemp(prefix="ta_bench_chain_")
    values = {
        "AIRFLOW_CONN_TUSHARE_DEFAULT": json.dumps({"conn_type": "generic", "password": token, "host": tushare_url}),
        "TA_DATA_PROVIDER": "tushare", "TA_TUSHARE_TIER": "5000", "TA_SENTIMENT_LLM_PROVIDER": "offline",
        "TA_CALENDAR_DIR": f"{tmp}/calendar", "TA_REPORTS_DIR": f"{tmp}/reports",
    }
    saved = {k: os.environ.get(k) for k in [*values, "AIRFLOW_CONN_MONGO_DEFAULT"]}
    logger = logging.getLogger("ta_scheduler")
    level = logger.level
    os.environ.update(values)
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
        _forget_calls(token)


@contextmanager
def _store(label: str):
    """A fresh FerretDB (``bench_store._ferretdb``) and its :class:`Store`."""
    from ta_scheduler.config import mongo_connection_json
    from ta_scheduler.storage.mongo import ensure_indexes, get_db

    with _ferretdb(BACKEND) as uri:
        connection = mongo_connection_json(f"{uri}ta_bench_chain_{label}")
        os.environ["AIRFLOW_CONN_MONGO_DEFAULT"] = connection
        store = Store(label, connection, get_db())
        ensure_indexes(store.db)
        yield store


def _bars(db) -> int:
    from ta_scheduler.constants import Collections as C

    return db[C.STOCK_DAILY_QUOTES].estimated_document_count()


# ------------------------------------------------------------------------------ the year's history
def _store_day(db, provider, day: str, listed: set[str]) -> None:
    """One day's bars as ``sync_daily_bars`` stores them (fetch, merge, qfq against the cached base,
    keyed write, rebase, ledger, completion marker), without its validation and valuation steps."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage.writes import columns_from_frame, docs_from_columns, write_docs
    from ta_scheduler.sync.adjust import DERIVED_FIELDS, adjust_day, rebase_history
    from ta_scheduler.sync.bars import BAR_FIELDS, mark_day_complete, merge_daily_frames, optional_daily_frames
    from ta_scheduler.sync.completeness import record_daily_day
    from ta_scheduler.sync.tacn_format import MARKET_CN

    ds = provider.name
    frames = [provider.daily(day), *optional_daily_frames(provider, db, day)]
    merged = merge_daily_frames(*frames)
    merged = merged.assign(trade_date=day, period="daily", full_symbol=merged["ts_code"], market=MARKET_CN)
    good, rebase, qfq_state = adjust_day(db, merged, ds, day)
    write_docs(db[C.STOCK_DAILY_QUOTES], docs_from_columns(columns_from_frame(good, BAR_FIELDS), {"data_source": ds}),
               mode="replace", partition=("trade_date", "data_source"), volatile=DERIVED_FIELDS)
    rebase_history(db, ds, rebase, qfq_state, day)
    record_daily_day(db, ds, day, frames, good, listed)
    mark_day_complete(db, ds, day, {"rows": len(merged), "stored": len(good), "quarantined_rows": 0})


def _load_bars(db, label: str, days: list[str]) -> None:
    """The bars and index bars of ``days``, newest first as a backfill stores them."""
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_index_daily, sync_stock_basic
    from ta_scheduler.sync.bars import known_codes

    provider = get_provider()
    sync_stock_basic(provider, db)
    listed = known_codes(db, provider.name)
    t0 = time.perf_counter()
    for i, day in enumerate(reversed(days), 1):
        _store_day(db, provider, day, listed)
        sync_index_daily(provider, db, day)
        if i % 10 == 0 or i == len(days):
            print(f"   {label}: {i}/{len(days)} days of bars stored ({_bars(db):,} documents) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)


def _keyed(doc: dict, name: str, changes: dict) -> dict:
    """``doc`` with ``changes``, under the ``_id`` its collection gives it (the natural key, or a new ObjectId)."""
    from ta_scheduler.storage.mongo import UNIQUE_KEYS
    from ta_scheduler.storage.writes import natural_id

    moved = {**doc, **changes}
    if isinstance(doc.get("_id"), str):
        moved["_id"] = natural_id(moved, UNIQUE_KEYS[name])
    else:
        moved.pop("_id", None)
    return moved


def _insert(coll, docs: list[dict]) -> None:
    for i in range(0, len(docs), INSERT_BATCH):
        coll.insert_many(docs[i:i + INSERT_BATCH], ordered=False)


def _sync_news(start: datetime, end: datetime) -> None:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.storage.mongo import get_db
    from ta_scheduler.sync import sync_news

    sync_news(get_provider(), get_db(), start, end)


def _news_history(db, first_day: str, template: date) -> int:
    """The news of every calendar day from ``first_day`` up to ``template``: ``template``'s items
    (synced for real) moved to each day."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.sync.news import news_id

    coll = db[C.STOCK_NEWS]
    source = list(coll.find({"publish_date": template.isoformat()}))
    day, stored = date.fromisoformat(first_day), 0
    while day < template:
        shift = day - template
        docs = []
        for doc in source:
            wall = doc["publish_time"].replace(tzinfo=None) + shift  # naive Beijing wall clock, as stored
            docs.append(_keyed(doc, C.STOCK_NEWS, {"publish_time": wall, "published_at": doc["published_at"] + shift,
                                                    "publish_date": day.isoformat(),
                                                    "news_id": news_id(doc["url"], wall, doc["title"])}))
        _insert(coll, docs)
        stored += len(docs)
        day += timedelta(days=1)
    return stored


def _outputs_history(db, label: str, source_day: str, days: list[str]) -> None:
    """What the analysis and the report wrote for ``source_day``, moved to each of ``days``, with
    the ledger entries they record."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage import ledger

    outputs = ((C.TECHNICAL_INDICATORS, "indicators", ("trade_date",), {}),
               (C.MARKET_SENTIMENT, "sentiment", ("trade_date",), {}),
               (C.HOT_STOCKS, None, ("trade_date",), {}),
               (C.REPORTS, "reports", ("report_date", "as_of"), {"kind": "daily"}))
    for name, dataset, fields, query in outputs:
        t0 = time.perf_counter()
        source = list(db[name].find({**query, fields[0]: source_day}))
        for day in days:
            _insert(db[name], [_keyed(doc, name, dict.fromkeys(fields, day)) for doc in source])
        if dataset:
            n = len(source)
            ledger.record_many(db, [ledger.Entry(dataset, day, ledger.state_for_counts(n, n), n, n, "tushare") for day in days])
        print(f"   {label}: {name} of {len(days)} days stored ({len(source) * len(days):,} documents) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


# ------------------------------------------------------------------------------ the two stores
def _news_start(d1: str) -> datetime:
    """Where the real news begins: midnight of the calendar day before D-1."""
    return _at(d1, 0, 0) - timedelta(days=1)


def _prepare(store: Store, history_days: int) -> None:
    """``history_days`` trading days before D-1 in ``store``, then D-1's chain (module doc); untimed."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage.ledger import trading_days_ending

    days = trading_days_ending(DAY, history_days + 2)
    history, d1 = days[:-2], days[-2]
    db = store.use()
    t0 = time.perf_counter()
    _load_bars(db, store.label, history)
    _sync_news(_news_start(d1), _at(DAY, 16, 30))
    _news_history(db, history[0], _news_start(d1).date())
    store.setup["load"] = time.perf_counter() - t0
    store.setup["D-1"] = DailyChain(d1).run(f"{store.label}, untimed:")
    t0 = time.perf_counter()
    _outputs_history(db, store.label, d1, history)
    store.setup["outputs"] = time.perf_counter() - t0
    store.bars, store.news = _bars(db), db[C.STOCK_NEWS].estimated_document_count()


def _warm_fake(day: str) -> None:
    """Ask the fake once for everything D's chain fetches, so that neither store's chain pays for
    generating the synthetic market's day."""
    from ta_scheduler.market import MAJOR_INDICES
    from ta_scheduler.providers import get_provider

    provider = get_provider()
    provider.stock_basic()
    for endpoint in ("daily", "adj_factor", "daily_basic", "stk_limit"):
        getattr(provider, endpoint)(day)
    provider.index_daily(list(MAJOR_INDICES), day, day)


def _time_day(stores: list[Store]) -> tuple[float, float]:
    """D's chain on every store, task by task in turn (which store goes first alternates), so that
    each task meets the machine in the same state on both; the 1-minute load average before and after."""
    _warm_fake(DAY)
    chains = {store.label: DailyChain(DAY) for store in stores}
    before = os.getloadavg()[0]
    for i, task in enumerate(DailyChain.TASKS):
        for store in stores if i % 2 == 0 else stores[::-1]:
            store.use()
            store.seconds[task] = chains[store.label].timed(task, f"{store.label}:")
    return before, os.getloadavg()[0]


def _setup(store: Store) -> str:
    s = store.setup
    return (f"{store.bars:,} bars, {store.news:,} news (untimed: loaded {s['load']:.0f} s, D-1 {s['D-1']:.0f} s, "
            f"outputs {s['outputs']:.0f} s)")


def _results(empty: Store, year: Store, load: tuple[float, float], wall: float) -> dict[str, dict]:
    out: dict[str, dict] = {}
    print(f"   {'task':<22}{'empty s':>10}{'year s':>10}{'ratio':>8}")
    for i, task in enumerate(DailyChain.TASKS, 1):
        e, y = empty.seconds[task], year.seconds[task]
        print(f"   {task:<22}{e:>10.1f}{y:>10.1f}{y / e:>8.2f}")
        out[f"chain_{i:02d}_{task}"] = {"value": y, "unit": "s", "baseline": e,
                                        "note": f"{DAY}: {year.bars:,} bars stored before it vs {empty.bars:,} (empty store)"}
    total_e, total_y = sum(empty.seconds.values()), sum(year.seconds.values())
    print(f"   {'total':<22}{total_e:>10.1f}{total_y:>10.1f}{total_y / total_e:>8.2f}")
    verdict = "holds" if total_y <= TARGET_RATIO * total_e else "MISSED"
    out["chain_total"] = {
        "value": total_y, "unit": "s", "baseline": total_e,
        "note": (f"vendor ready -> report stored, tasks summed; target <= {TARGET_RATIO}x the empty store: {verdict}; "
                 f"year: {_setup(year)}; empty: {_setup(empty)}; {BACKEND}; load average {load[0]:.1f} -> {load[1]:.1f} "
                 f"over the timed chains; bench {wall:.0f} s"),
    }
    return out


def run() -> dict[str, dict]:
    from fakes.tushare_server import FakeTushareServer

    token = f"TA_BENCH_CHAIN_{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    with (FakeTushareServer(n_stocks=STOCKS, token=token) as server, _environment(server.url, token),
          _store("empty") as empty, _store("year") as year):
        _prepare(empty, REPAIR_DAYS - 1)
        _prepare(year, max(REPAIR_DAYS - 1, round(DOCS / STOCKS)))
        load = _time_day([empty, year])
    return _results(empty, year, load, time.perf_counter() - t0)


if __name__ == "__main__":
    for k, v in run().items():
        print(k, v)
