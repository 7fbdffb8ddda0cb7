"""Operator command for the ``portfolios`` collection (the weekly report reads it).

    python -m ta_scheduler.reports.portfolios add --id core --name 核心组合 --benchmark 000300.SH \\
        --holding 600519:0.4 --holding 000001:0.6
    python -m ta_scheduler.reports.portfolios list

``add`` validates before writing: the id (letters, digits, ``_``, ``-``), each holding's code
(6 digits, optionally with ``.SH``/``.SZ``/``.BJ``; it must be in ``stock_basic_info``), each
weight (0 < w ≤ 1, no code twice) and their sum (1 within 1e-6), and the benchmark (an index
ts_code stored in ``index_daily_quotes`` or one of the four major indices). It upserts on
``portfolio_id``: running it again replaces the holdings; ``created_at`` is kept. The store is
the one ``ta_scheduler.config.mongo_target`` resolves (connection ``mongo_default``, else ``MONGO_URI``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.market import MAJOR_INDICES
from ta_scheduler.storage.writes import write_docs

if TYPE_CHECKING:
    from pymongo.database import Database

WEIGHT_TOLERANCE = 1e-6
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE = re.compile(r"^(\d{6})(?:\.(SH|SZ|BJ))?$", re.IGNORECASE)
_INDEX = re.compile(r"^\d{6}\.(SH|SZ|CSI)$", re.IGNORECASE)


class PortfolioError(ValueError):
    """An invalid portfolio definition (the message says which part)."""


def parse_holding(text: str) -> tuple[str, float]:
    """``"600519:0.4"`` → ``("600519", 0.4)``."""
    code, sep, weight = text.partition(":")
    m = _CODE.match(code.strip())
    if not sep or not m:
        raise PortfolioError(f"holding {text!r}: expected CODE:WEIGHT, e.g. 600519:0.4")
    try:
        w = float(weight)
    except ValueError:
        raise PortfolioError(f"holding {text!r}: weight {weight!r} is not a number") from None
    return m.group(1), w


def validate_portfolio(db: Database, portfolio_id: str, name: str, benchmark: str, holdings: list[tuple[str, float]]) -> dict[str, Any]:
    """The portfolio document, or :class:`PortfolioError` naming every problem found."""
    problems = []
    if not _ID.match(portfolio_id or ""):
        problems.append(f"id {portfolio_id!r}: use 1-64 letters, digits, '_' or '-'")
    if not holdings:
        problems.append("no holdings: pass --holding CODE:WEIGHT at least once")
    codes = [c for c, _ in holdings]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        problems.append(f"codes listed twice: {', '.join(dupes)}")
    bad_w = [f"{c}:{w}" for c, w in holdings if not (0 < w <= 1)]
    if bad_w:
        problems.append(f"weights must be in (0, 1]: {', '.join(bad_w)}")
    total = sum(w for _, w in holdings)
    if holdings and abs(total - 1.0) > WEIGHT_TOLERANCE:
        problems.append(f"weights sum to {total:.6f}, not 1")
    known = {d["code"] for d in db[C.STOCK_BASIC_INFO].find({"code": {"$in": codes}}, {"_id": 0, "code": 1})}
    unknown = [c for c in codes if c not in known]
    if unknown:
        problems.append(f"codes not in {C.STOCK_BASIC_INFO}: {', '.join(unknown)} (run daily_sync, or check the codes)")
    bench = (benchmark or "").upper()
    if not _INDEX.match(bench):
        problems.append(f"benchmark {benchmark!r}: expected an index ts_code such as 000300.SH")
    elif bench not in MAJOR_INDICES and db[C.INDEX_DAILY].find_one({"ts_code": bench}, {"_id": 1}) is None:
        problems.append(f"benchmark {bench}: not in {C.INDEX_DAILY} (stored indices: {', '.join(MAJOR_INDICES)})")
    if problems:
        raise PortfolioError(f"portfolio {portfolio_id!r}: " + "; ".join(problems))
    return {"portfolio_id": portfolio_id, "name": name or portfolio_id, "benchmark": bench,
            "holdings": [{"symbol": c, "weight": w} for c, w in holdings]}


def upsert_portfolio(db: Database, portfolio_id: str, name: str, benchmark: str, holdings: list[tuple[str, float]]) -> dict[str, Any]:
    """Validate and upsert one portfolio (idempotent); returns the stored document."""
    doc = validate_portfolio(db, portfolio_id, name, benchmark, holdings)
    write_docs(db[C.PORTFOLIOS], [doc], timestamp_field=None, created_field="created_at", natural_ids=False)
    return db[C.PORTFOLIOS].find_one({"portfolio_id": portfolio_id}, {"_id": 0})


def list_portfolios(db: Database) -> list[dict[str, Any]]:
    return sorted(db[C.PORTFOLIOS].find({}, {"_id": 0}), key=lambda p: str(p.get("portfolio_id")))


def main(argv: list[str] | None = None, db: Database | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ta_scheduler.reports.portfolios",
                                     description="Manage the portfolios the weekly report covers.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create or replace a portfolio")
    add.add_argument("--id", required=True, dest="portfolio_id")
    add.add_argument("--name", default="")
    add.add_argument("--benchmark", default="000300.SH", help="index ts_code (default 000300.SH, CSI 300)")
    add.add_argument("--holding", action="append", default=[], metavar="CODE:WEIGHT", help="repeat per holding; weights sum to 1")
    sub.add_parser("list", help="print every portfolio as JSON lines")
    args = parser.parse_args(argv)
    if db is None:
        from ta_scheduler.storage.mongo import get_db

        db = get_db()
    try:
        if args.command == "add":
            doc = upsert_portfolio(db, args.portfolio_id, args.name, args.benchmark, [parse_holding(h) for h in args.holding])
            print(json.dumps(doc, ensure_ascii=False, default=str))
        else:
            for doc in list_portfolios(db):
                print(json.dumps(doc, ensure_ascii=False, default=str))
    except PortfolioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
