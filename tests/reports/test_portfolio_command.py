"""The operator command that defines portfolios: validates, upserts idempotently, lists."""

from __future__ import annotations

import json

import pytest
from report_seed import seed_market
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.portfolios import main

ADD = ["add", "--id", "core", "--name", "核心组合", "--benchmark", "000300.SH", "--holding", "600000:0.4", "--holding", "300750.SZ:0.6"]


@pytest.fixture
def store(mongo_db, reports_dir):
    seed_market(mongo_db, with_analysis=False)
    return mongo_db


def test_add_stores_the_portfolio_once(store, capsys):
    assert main(ADD, db=store) == 0
    created = store[C.PORTFOLIOS].find_one({"portfolio_id": "core"})["created_at"]
    assert main(ADD[:-1] + ["300750:0.6"], db=store) == 0
    docs = list(store[C.PORTFOLIOS].find({}, {"_id": 0}))
    assert len(docs) == 1 and docs[0]["created_at"] == created
    assert docs[0]["holdings"] == [{"symbol": "600000", "weight": 0.4}, {"symbol": "300750", "weight": 0.6}]
    assert docs[0]["name"] == "核心组合" and docs[0]["benchmark"] == "000300.SH"
    capsys.readouterr()
    assert main(["list"], db=store) == 0
    assert json.loads(capsys.readouterr().out)["portfolio_id"] == "core"


@pytest.mark.parametrize(("holdings", "message"), [
    (["600000:0.4", "300750:0.5"], "weights sum to 0.900000, not 1"),
    (["999999:1"], "codes not in stock_basic_info: 999999"),
    (["600000:0.5", "600000:0.5"], "codes listed twice: 600000"),
    (["600000=1"], "expected CODE:WEIGHT"),
])
def test_add_refuses_invalid_holdings(store, capsys, holdings, message):
    args = ["add", "--id", "bad", "--benchmark", "000300.SH"] + [x for h in holdings for x in ("--holding", h)]
    assert main(args, db=store) == 2
    assert message in capsys.readouterr().err
    assert store[C.PORTFOLIOS].count_documents({}) == 0


def test_add_refuses_an_unknown_benchmark(store, capsys):
    assert main(["add", "--id", "x", "--benchmark", "000905.SH", "--holding", "600000:1"], db=store) == 2
    assert "benchmark 000905.SH: not in index_daily_quotes" in capsys.readouterr().err
