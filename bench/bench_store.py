"""Store-scale benchmark: how the reads that matter grow with years of whole-market history,
on each embedded store candidate, started by this module on free ports.

Candidates (all speak the MongoDB wire protocol; the project's code is the same on each):

- ``sqlite``: FerretDB 1.24, SQLite backend. Only an ``_id`` equality reaches SQLite; every other
  filter is a scan that decodes each document.
- ``pg``: FerretDB 1.24, PostgreSQL backend, as FerretDB ships it. Scalar equalities are pushed
  down as ``_jsonb -> 'f' @> 'v'``, which FerretDB's own btree indexes cannot serve: PostgreSQL
  scans, but filters in C before FerretDB decodes anything.
- ``pg+gin``: the same, plus ``scripts/ferretdb/postgresql-indexes.sql`` (what ``scripts/services.sh``
  installs): every index FerretDB creates gets a GIN twin on its leading field, which serves the
  pushed-down ``@>``.
- ``pg+gin+patch``: the same with ``scripts/ferretdb/patches`` applied and garbage collected by a
  memory limit (what ``scripts/services.sh`` builds and starts): a ``$in`` of strings reaches the
  indexes too, a count whose filter PostgreSQL applies exactly is a ``SELECT count(*)``, and
  documents are decoded without a leak-tracking stack walk each.
- ``mongodb``: a real MongoDB, when ``TA_BENCH_MONGODB_URI`` names one (none can be installed here).

Documents: ``stock_daily_quotes`` bars with the real field set (``sync.bars.BAR_FIELDS``), 5,400
stocks a day (the whole market), as many days as the size needs, the project's own indexes
(``storage.mongo.ensure_indexes``); the ledger holds its datasets for each of those days and for
at least the 60 days its read asks for (a deployment past its first 60 days: the read's cost does
not depend on how many days the store holds beyond those, so the fit does not invent a growth).

Reads, each timed as the median of a few runs and reported as a ratio to an ``_id`` lookup in the
same store and run:

- ``history``: one stock's 250-day history, sorted (TradingAgents-CN's read:
  ``{symbol, period, data_source, trade_date: {$gte, $lte}}``, sort ``trade_date``);
- ``day``: one day's whole market (``{trade_date}``, 5,400 documents);
- ``count``: the documents of one day (``count_documents({trade_date})``);
- ``ledger``: the health check's ledger read for 60 days (``storage.ledger.entries``).

Each candidate is loaded to 20k, 100k and 300k documents (``TA_BENCH_STORE_SIZES``); a candidate
whose read took longer than ``TA_BENCH_STORE_CAP_S`` (10 s) is not loaded further. The time of
each read is fitted as ``a + b * documents`` over the sizes measured and extrapolated to 1.3M (a
year of the market) and 6.5M (five years). ``TA_BENCH_STORE_FULL=1`` also loads the last candidate
to 1.3M and measures it there.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOCKS = 5400
YEAR = 1_300_000
FIVE_YEARS = 6_500_000
TARGETS_MS = {"history": 50, "day": 1000, "count": 50, "ledger": 50}
SIZES = [int(s) for s in os.environ.get("TA_BENCH_STORE_SIZES", "20000,100000,300000").split(",")]
CAP_S = float(os.environ.get("TA_BENCH_STORE_CAP_S", "10"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ferretdb exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"ferretdb did not open port {port}")


def _pg_dsn(database: str) -> str:
    return f"postgresql://airflow:{os.environ['TA_PG_PASSWORD']}@127.0.0.1:{os.environ['TA_PG_PORT']}/{database}"


def _pg_exec(database: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(_pg_dsn(database))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def _ferretdb(backend: str):
    """A FerretDB of the project's build (released, or patched for ``+patch``) on a free port:
    ``sqlite`` in a temp dir, the others on a fresh PostgreSQL database of the local server.
    Yields its URI."""
    patched = backend.endswith("+patch")
    env = {**os.environ, "TA_FERRETDB_UNPATCHED": "0" if patched else "1"}
    binary = subprocess.run([str(ROOT / "scripts/services.sh"), "build-ferretdb"], capture_output=True, text=True,
                            check=True, env=env).stdout.strip().splitlines()[-1]
    run_env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
    if not patched:
        run_env["GOGC"] = "100"  # Go's default, as FerretDB ran before the memory-limit setting
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="ta_bench_store_")
    pg_db = f"ta_bench_store_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        args = ["-handler", "sqlite", "-sqlite-url", f"file:{tmp}/"]
    else:
        _pg_exec("postgres", f'CREATE DATABASE "{pg_db}"')
        if backend.startswith("pg+gin"):
            _pg_exec(pg_db, (ROOT / "scripts/ferretdb/postgresql-indexes.sql").read_text())
        args = ["-handler", "postgresql", "-postgresql-url", _pg_dsn(pg_db).replace("postgresql://", "postgres://")]
    proc = subprocess.Popen([binary, "-listen", f"127.0.0.1:{port}", *args], stdout=subprocess.DEVNULL,
                            stderr=open(Path(tmp) / "ferretdb.log", "w"), env=run_env)
    try:
        _wait_port(port, proc)
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
        if backend != "sqlite":
            _pg_exec("postgres", f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


def _days(n: int) -> list[str]:
    """``n`` weekdays ending 2026-11-27 (the calendar's holidays do not change what is measured)."""
    out, d = [], date(2026, 11, 27)
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d -= timedelta(days=1)
    return out[::-1]


def _bar(code: str, day: str, rnd: random.Random) -> dict:
    from ta_scheduler.storage.writes import natural_id
    from ta_scheduler.sync.bars import BAR_FIELDS

    close = round(rnd.uniform(3, 300), 2)
    doc = {f: round(rnd.uniform(0, 1e6), 4) for f in BAR_FIELDS}
    doc.update(symbol=code, code=code, ts_code=f"{code}.SH", full_symbol=f"{code}.SH", market="CN", trade_date=day,
               period="daily", adjustflag="2", price_adjust="qfq", close=close, data_source="tushare")
    doc["_id"] = natural_id(doc, ("symbol", "trade_date", "data_source", "period"))
    return doc


def _codes() -> list[str]:
    return [f"{600000 + i:06d}" if i < 2700 else f"{i - 2700:06d}" for i in range(STOCKS)]


def _load(db, days: list[str], rnd: random.Random) -> None:
    from ta_scheduler.constants import Collections as C

    codes = _codes()
    for day in days:
        docs = [_bar(c, day, rnd) for c in codes]
        for i in range(0, len(docs), 1000):
            db[C.STOCK_DAILY_QUOTES].insert_many(docs[i:i + 1000], ordered=False)
        _record_ledger(db, [day])


LEDGER_DAYS = 60


def _record_ledger(db, days: list[str]) -> None:
    from ta_scheduler.storage import ledger

    ledger.record_many(db, [ledger.Entry(d, day, "complete", STOCKS, STOCKS, "tushare")
                            for day in days for d in ledger.DATASETS])


def _median_s(fn, reps: int) -> float:
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def _measure(db, days: list[str]) -> dict[str, float]:
    """Seconds per read on the store as loaded (``days`` of the whole market)."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage import ledger

    bars = db[C.STOCK_DAILY_QUOTES]
    code, day = "600519", days[len(days) // 2]
    window = days[-250:]
    some_id = f"{code}|{day}|tushare|daily"

    def history():
        got = list(bars.find({"symbol": code, "period": "daily", "data_source": "tushare",
                              "trade_date": {"$gte": window[0], "$lte": window[-1]}}).sort("trade_date", 1))
        assert len(got) == len(window), len(got)

    def whole_day():
        assert len(list(bars.find({"trade_date": day}))) == STOCKS

    def count():
        assert bars.count_documents({"trade_date": day}) == STOCKS

    def ledger_read():
        periods = _days(LEDGER_DAYS)
        assert len(ledger.entries(db, periods)) == len(periods) * len(ledger.DATASETS)

    one = _median_s(lambda: bars.find_one({"_id": some_id}), 7)
    out = {"id": one}
    for name, fn in (("history", history), ("day", whole_day), ("count", count), ("ledger", ledger_read)):
        first = _median_s(fn, 1)
        out[name] = first if first > CAP_S else min(first, _median_s(fn, 3))
    return out


def _fit(points: list[tuple[int, float]]):
    """Least-squares ``a + b * n`` (``b`` >= 0) through the measured points."""
    if len(points) == 1:
        n, t = points[0]
        return lambda x: t * x / n
    ns, ts = [p[0] for p in points], [p[1] for p in points]
    mn, mt = statistics.mean(ns), statistics.mean(ts)
    var = sum((n - mn) ** 2 for n in ns)
    b = max(0.0, sum((n - mn) * (t - mt) for n, t in points) / var) if var else 0.0
    a = max(0.0, mt - b * mn)
    return lambda x: a + b * x


def _bench_candidate(name: str, uri: str, full: bool) -> dict[str, dict]:
    from pymongo import MongoClient
    from ta_scheduler.storage.mongo import ensure_indexes

    client = MongoClient(uri, serverSelectionTimeoutMS=10_000)
    db = client[f"ta_bench_{uuid.uuid4().hex[:6]}"]
    rnd = random.Random(7)
    out: dict[str, dict] = {}
    try:
        ensure_indexes(db)
        _record_ledger(db, _days(LEDGER_DAYS))
        loaded: list[str] = []
        points: dict[str, list[tuple[int, float]]] = {}
        sizes = SIZES + ([YEAR] if full else [])
        for size in sizes:
            want = _days(max(1, round(size / STOCKS)))
            t0 = time.perf_counter()
            _load(db, want[:len(want) - len(loaded)], rnd)
            load_s = time.perf_counter() - t0
            loaded = want
            docs = len(loaded) * STOCKS
            got = _measure(db, loaded)
            print(f"   {name} {docs:>9,} docs (+load {load_s:.0f} s): "
                  + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in got.items()), flush=True)
            for read, s in got.items():
                points.setdefault(read, []).append((docs, s))
                if read != "id":
                    out[f"store_{name}_{read}_{docs // 1000}k"] = {
                        "value": s * 1000, "unit": "ms", "baseline": got["id"] * 1000,
                        "note": f"measured at {docs:,} documents; target <= {TARGETS_MS[read]} ms at 1.3M; baseline = _id lookup"}
            if max(got.values()) > CAP_S:
                print(f"   {name}: a read took over {CAP_S:.0f} s, not loading it further", flush=True)
                break
        id_fit = _fit(points["id"])
        for read in TARGETS_MS:
            fit = _fit(points[read])
            for label, n in (("1.3M", YEAR), ("6.5M", FIVE_YEARS)):
                est = fit(n) * 1000
                out[f"store_{name}_{read}_{label}"] = {
                    "value": est, "unit": "ms", "baseline": id_fit(n) * 1000,
                    "note": (f"extrapolated (a + b*n over {len(points[read])} sizes); target <= {TARGETS_MS[read]} ms: "
                             + ("holds" if est <= TARGETS_MS[read] else "MISSED")),
                }
    finally:
        client.drop_database(db.name)
        client.close()
    return out


def run() -> dict[str, dict]:
    only = [c for c in os.environ.get("TA_BENCH_STORE_CANDIDATES", "sqlite,pg,pg+gin,pg+gin+patch").split(",") if c]
    full = os.environ.get("TA_BENCH_STORE_FULL") == "1"
    out: dict[str, dict] = {}
    for backend in only:
        with _ferretdb(backend) as uri:
            out.update(_bench_candidate(backend.replace("+", "_"), uri, full and backend == only[-1]))
    if os.environ.get("TA_BENCH_MONGODB_URI"):
        out.update(_bench_candidate("mongodb", os.environ["TA_BENCH_MONGODB_URI"], full))
    return out
