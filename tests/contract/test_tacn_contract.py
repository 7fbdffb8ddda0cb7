"""TradingAgents-CN's contract (``tacn_contract``) holds for what our DAGs write, for both providers.

A store is filled by ``airflow dags test`` of ``daily_sync``, ``intraday_prices``, ``news_sync``,
``weekly_financials`` and a research run of ``analysis_pipeline`` (LLM: the local fake), once with
the demo provider and once with tushare (the real SDK against the local fake server). Every
document of the six collections is then checked field by field (names, types, formats), unit by
unit against the synthetic market both providers serve, TradingAgents-CN's own queries must find
it, and its unique indexes must exist on our store.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime, timezone
from functools import cache

import pytest
from airflow_cli import dags_test
from ta_scheduler.providers.synthetic import TZ, SyntheticMarket
from tacn_contract import CONTRACT, CollectionContract, document_problems

#: the trading day each provider's store is filled for, and the Monday weekly_financials runs on (its
#: first run looks back 120 days); different per provider so the two stores fill without sharing a run
DAYS = {"demo": "2026-11-26", "tushare": "2026-11-27"}
FINANCIALS_AS_OF = {"demo": "2026-11-16", "tushare": "2026-11-23"}
RESEARCHED = ["600519", "000001"]
LLM_KEY = "sk-contract-test"
#: five `airflow dags test` runs per provider fill the store before the first test of a provider
pytestmark = pytest.mark.timeout(1800)
def runs(day: str, financials_as_of: str) -> list[tuple[str, str, dict]]:
    return [
        ("daily_sync", f"{day}T16:30:00+08:00", {"date": day}),
        ("intraday_prices", f"{day}T10:05:00+08:00", {}),
        ("news_sync", f"{day}T15:00:00+08:00", {}),
        ("weekly_financials", f"{financials_as_of}T02:00:00+08:00", {}),
        ("analysis_pipeline", f"{day}T17:30:00+08:00",
         {"symbols": RESEARCHED, "llm_provider": "deepseek", "research_depth": 1}),
    ]


class Truth:
    """What the synthetic market behind both providers says, per document."""

    def __init__(self, market: SyntheticMarket, day: str, financials_as_of: str, db) -> None:
        self.market, self.day, self.financials_as_of, self.db = market, day, financials_as_of, db

    @cache  # noqa: B019 - one Truth per module
    def _daily(self, day: str) -> dict:
        d = date.fromisoformat(day)
        bars = self.market.daily(d).set_index("code")
        adj = self.market.adj_factor(d).set_index("ts_code")["adj_factor"]
        basic = self.market.daily_basic(d).set_index("ts_code")
        return {"bars": bars, "adj": adj, "basic": basic}

    def bar(self, doc: dict) -> dict:
        return self._daily(doc["trade_date"])["bars"].loc[doc["code"]].to_dict()

    def adj(self, doc: dict) -> float:
        return float(self._daily(doc["trade_date"])["adj"].loc[doc["ts_code"]])

    def newest_adj(self, doc: dict) -> float:
        return float(self._daily(self.day)["adj"].loc[doc["ts_code"]])

    def basic(self, doc: dict) -> dict:
        return self._daily(self.day)["basic"].loc[doc["ts_code"]].to_dict()

    @cache  # noqa: B019
    def _stock_basic(self):
        return self.market.stock_basic().set_index("code")

    def list_date(self, doc: dict) -> str:
        return self._stock_basic().loc[doc["code"], "list_date"]

    def ts_code(self, code: str | None) -> str | None:
        return None if code is None else self._stock_basic().loc[code, "ts_code"]

    def quote(self, doc: dict) -> dict:
        return self.market.realtime(doc["quote_time"]).set_index("code").loc[doc["code"]].to_dict()

    @cache  # noqa: B019
    def _statements(self, name: str):
        frame = self.market.financial_statements(name, date(2026, 1, 1), date.fromisoformat(self.financials_as_of))
        return frame.set_index(["code", "report_period"])

    def statement(self, doc: dict, name: str) -> dict:
        period = f"{doc['report_period'][:4]}-{doc['report_period'][4:6]}-{doc['report_period'][6:]}"
        return self._statements(name).loc[(doc["code"], period)].to_dict()

    @cache  # noqa: B019
    def _newest_roe(self, data_source: str) -> dict:
        """Per code, the stored report with a roe of the newest period (from the store: what the
        financial contract above checked)."""
        newest: dict[str, dict] = {}
        fields = {"_id": 0, "symbol": 1, "report_period": 1, "roe": 1}
        for doc in self.db["stock_financial_data"].find({"data_source": data_source}, fields):
            if doc.get("roe") is not None and doc["report_period"] > newest.get(doc["symbol"], {}).get("report_period", ""):
                newest[doc["symbol"]] = doc
        return newest

    def latest_roe(self, doc: dict) -> dict:
        return self._newest_roe(doc["source"]).get(doc["code"], {"roe": None, "report_period": None})

    @staticmethod
    def wall_clock(instant: datetime) -> datetime:
        """As a tz-aware client reads a naive Beijing wall-clock time back: its digits, as UTC."""
        return instant.astimezone(TZ).replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module", params=["demo", "tushare"])
def filled(request, mongo_uri, tushare_server, tmp_path_factory):
    """(provider, store) after the DAG runs above, on a database of its own."""
    from fakes.llm_server import FakeLLMServer
    from ta_scheduler.config import MongoTarget, mongo_connection_json
    from ta_scheduler.storage.mongo import get_client

    provider = request.param
    name = f"ta_test_contract_{provider}_{uuid.uuid4().hex[:8]}"
    target = MongoTarget(mongo_uri.rstrip("/") + "/" + name, name, "test")
    with pytest.MonkeyPatch.context() as mp, FakeLLMServer(valid_keys=(LLM_KEY,)) as llm:
        mp.setenv("MONGO_URI", target.uri)
        mp.setenv("AIRFLOW_CONN_MONGO_DEFAULT", mongo_connection_json(target.uri))
        mp.setenv("TA_DATA_PROVIDER", provider)
        mp.setenv("TA_CALENDAR_DIR", str(tmp_path_factory.mktemp("calendar")))
        mp.setenv("DEEPSEEK_API_KEY", LLM_KEY)
        mp.setenv("DEEPSEEK_BASE_URL", llm.openai_base_url)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        if provider == "tushare":
            tushare_server.reset()
            tushare_server.now = datetime.fromisoformat(f"{DAYS[provider]}T10:10:00+08:00")
            mp.setenv("TUSHARE_TOKEN", tushare_server.token)
            mp.setenv("TUSHARE_API_URL", tushare_server.url)
            mp.setenv("TA_TUSHARE_RATE_LIMITS", '{"*": 100000}')
        else:
            mp.delenv("TUSHARE_TOKEN", raising=False)
        for dag_id, logical_date, conf in runs(DAYS[provider], FINANCIALS_AS_OF[provider]):
            started = time.monotonic()
            res = dags_test(dag_id, logical_date, conf)
            print(f"{provider}: airflow dags test {dag_id} took {time.monotonic() - started:.0f} s")
            out = res.stdout + res.stderr
            assert res.returncode == 0 and "state=success" in out, f"{dag_id} ({provider}):\n{out[-6000:]}"
        yield provider, get_client(target)[name]
    get_client(target).drop_database(name)


@pytest.fixture(scope="module")
def truth(filled):
    provider, db = filled
    return Truth(SyntheticMarket(300), DAYS[provider], FINANCIALS_AS_OF[provider], db)


@pytest.mark.parametrize("contract", CONTRACT, ids=[c.name for c in CONTRACT])
def test_every_document_meets_the_contract(filled, truth, contract: CollectionContract):
    provider, db = filled
    docs = list(db[contract.name].find(contract.filter))
    assert docs, f"{provider}: the DAGs wrote no {contract.name}"
    assert {d.get("data_source") for d in docs} == {provider}  # demo rows stay "demo"
    problems = [p for doc in docs for p in document_problems(contract, doc, truth)]
    assert problems == [], f"{len(problems)} problems, first: " + "\n".join(problems[:15])


@pytest.mark.parametrize("contract", CONTRACT, ids=[c.name for c in CONTRACT])
def test_its_queries_find_our_documents(filled, contract: CollectionContract):
    _, db = filled
    docs = list(db[contract.name].find(contract.filter).limit(20))
    for doc in docs:
        for read in contract.reads:
            query = read(doc)
            assert doc["_id"] in {d["_id"] for d in db[contract.name].find(query, {"_id": 1})}, (contract.name, query)


@pytest.mark.parametrize("contract", CONTRACT, ids=[c.name for c in CONTRACT])
def test_its_unique_indexes_exist_on_our_store(filled, contract: CollectionContract):
    _, db = filled
    unique_keys = {tuple(f for f, _ in spec["key"]) for spec in db[contract.name].index_information().values()
                   if spec.get("unique")}
    for key in contract.unique_indexes:
        assert key in unique_keys, f"{contract.name}: no unique index on {key} (have {sorted(unique_keys)})"


def test_the_day_covers_the_whole_market(filled, truth):
    """Every listed stock has its bar and its valuation: nothing was filtered to pass the contract."""
    _, db = filled
    day = truth.day
    listed = set(truth.market.daily(date.fromisoformat(day))["code"])
    assert {d["symbol"] for d in db["stock_daily_quotes"].find({"trade_date": day}, {"symbol": 1})} == listed
    assert {d["code"] for d in db["stock_basic_info"].find({"valuation_date": day.replace("-", "")}, {"code": 1})} == listed
    assert {d["stock_symbol"] for d in db["analysis_reports"].find({}, {"stock_symbol": 1})} == set(RESEARCHED)
    reported = {d["symbol"] for d in db["stock_financial_data"].find({"roe": {"$ne": None}}, {"symbol": 1})}
    assert reported, "weekly_financials stored no report with a roe"
    assert {d["code"] for d in db["stock_basic_info"].find({"roe": {"$exists": True}}, {"code": 1})} == reported & listed


def _reformatted(value):
    """The same value in another format a careless change could produce."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(hour=(value.hour + 8) % 24)  # UTC instead of wall-clock
    if isinstance(value, str) and re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value.replace("-", "")
    if isinstance(value, bool):
        return "H" if value else "N"
    if isinstance(value, (int, float)):
        return value * 10_000  # another unit
    return None


@pytest.mark.parametrize("contract", CONTRACT, ids=[c.name for c in CONTRACT])
def test_a_renamed_or_reformatted_field_breaks_the_contract(filled, truth, contract: CollectionContract):
    """The checks above can fail: each of its fields renamed, and each reformatted, is reported."""
    _, db = filled
    optional = [n for n, f in {**contract.fields, **contract.ours}.items() if f.optional]
    doc = db[contract.name].find_one({**contract.filter, **{n: {"$exists": True} for n in optional}})
    assert doc is not None, f"{contract.name}: no document holds all of {optional}"
    assert document_problems(contract, doc, truth) == []
    for name in contract.fields:
        renamed = {(f"{k}_v2" if k == name else k): v for k, v in doc.items()}
        assert document_problems(contract, renamed, truth), f"{contract.name}: renaming {name} went unnoticed"
    checked = {u.field for u in contract.units} | {n for n, f in contract.fields.items() if f.pattern or f.values}
    for name in sorted(checked & set(contract.fields)):
        changed = _reformatted(doc[name])
        if changed is None or changed == doc[name]:
            continue
        assert document_problems(contract, dict(doc, **{name: changed}), truth), (
            f"{contract.name}: {name} {doc[name]!r} -> {changed!r} went unnoticed")
