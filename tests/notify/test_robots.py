"""Failure alerts and report delivery through DingTalk, Feishu and WeCom group robots: local
robots that check signatures and message shape the way the services do, the same facts in
every channel, secrets masked, absent channels skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from fakes.robots import RobotSink
from ta_scheduler.notify import alerts
from ta_scheduler.notify.robots import RobotError, dingtalk_sign, feishu_sign, send_dingtalk, send_feishu, send_wecom

CONN_ENV = {"dingtalk": "AIRFLOW_CONN_DINGTALK_ALERTS", "feishu": "AIRFLOW_CONN_FEISHU_ALERTS",
            "wecom": "AIRFLOW_CONN_WECOM_ALERTS"}
TOKENS = {"dingtalk": "dt-token-1", "feishu": "fs-hook-2", "wecom": "wc-key-3"}
SECRETS = {"dingtalk": "SECdingtalk-secret", "feishu": "feishu-secret", "wecom": None}


@pytest.fixture(autouse=True)
def no_other_channels(monkeypatch):
    for name in ("SLACK_ALERTS", "SMTP_ALERTS", *(e.removeprefix("AIRFLOW_CONN_") for e in CONN_ENV.values())):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)


@pytest.fixture
def robots(monkeypatch):
    sinks = {s: RobotSink(s, TOKENS[s], SECRETS[s]).start() for s in CONN_ENV}
    for service, sink in sinks.items():
        monkeypatch.setenv(CONN_ENV[service], sink.connection())
    yield sinks
    for sink in sinks.values():
        sink.stop()


@dataclass
class TaskInstance:
    dag_id: str = "daily_sync"
    task_id: str = "fetch_daily_bars"
    run_id: str = "scheduled__2026-11-27T08:30:00+00:00"
    map_index: int = -1
    try_number: int = 2
    log_url: str = "http://localhost:8080/dags/daily_sync/runs/scheduled__2026-11-27T08%3A30%3A00%2B00%3A00/tasks/fetch_daily_bars?try_number=2"


def _context(exc: BaseException) -> dict:
    return {"ti": TaskInstance(), "logical_date": datetime(2026, 11, 27, 8, 30, tzinfo=timezone.utc), "exception": exc}


FACTS = ["daily_sync.fetch_daily_bars", "scheduled__2026-11-27T08:30:00+00:00", "2026-11-27T08:30:00+00:00",
         "try: 2", "TushareError: tushare daily 2026-11-27: rate limit (500/min)", TaskInstance.log_url]


def test_signatures_match_the_services_published_examples():
    # computed with the Python snippets in DingTalk's ("加签") and Feishu's ("签名校验") robot docs
    assert dingtalk_sign("SEC000", 1700000000000) == "ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA%3D"
    assert feishu_sign("demo", 1599360473) == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


def test_failure_alert_reaches_all_three_robots_with_the_same_facts(robots):
    alerts.on_task_failure(_context(RuntimeError("TushareError: tushare daily 2026-11-27: rate limit (500/min)\nTraceback ...")))
    texts = {}
    for service, sink in robots.items():
        req = sink.wait_for(1)[0]
        assert sink.accepted == [req], sink.replies
        body = req.json()
        texts[service] = {"dingtalk": lambda b=body: b["markdown"]["text"],
                          "wecom": lambda b=body: b["markdown"]["content"],
                          "feishu": lambda b=body: json.dumps(b["content"], ensure_ascii=False)}[service]()
    for service, text in texts.items():
        for fact in FACTS[:-1]:
            assert fact.replace("TushareError: ", "RuntimeError: TushareError: ") in text or fact in text, (service, fact)
        assert TaskInstance.log_url in text, service
        assert "Traceback" not in text  # only the error's first line
    assert robots["dingtalk"].requests[0].json()["markdown"]["title"] == "Airflow task failed: daily_sync.fetch_daily_bars (try 2)"
    post = robots["feishu"].requests[0].json()["content"]["post"]["zh_cn"]
    assert post["title"] == "Airflow task failed: daily_sync.fetch_daily_bars (try 2)"


def test_secrets_in_the_error_are_masked_in_every_robot_message(robots):
    from airflow.sdk.log import mask_secret

    mask_secret("hunter2-db-password")
    alerts.on_task_failure(_context(ValueError("login to mongodb://ta:hunter2-db-password@db failed")))
    for service, sink in robots.items():
        raw = sink.wait_for(1)[0].body.decode("utf-8")
        assert "hunter2" not in raw, service
        assert "***" in raw, service


def test_a_wrong_secret_is_refused_by_the_robot_and_the_alert_does_not_raise(robots, monkeypatch, caplog):
    monkeypatch.setenv(CONN_ENV["dingtalk"], robots["dingtalk"].connection(secret="SECwrong"))
    monkeypatch.setenv(CONN_ENV["feishu"], robots["feishu"].connection(secret="wrong"))
    alerts.on_task_failure(_context(RuntimeError("boom")))  # a broken channel never hides the task's failure
    assert robots["dingtalk"].replies == [{"errcode": 310000, "errmsg": "sign not match"}]
    assert robots["feishu"].replies[0]["code"] == 19021
    assert len(robots["wecom"].accepted) == 1
    with pytest.raises(RobotError, match="DingTalk via dingtalk_alerts: refused with code 310000: sign not match"):
        send_dingtalk("dingtalk_alerts", "t", "x")
    with pytest.raises(RobotError, match="Feishu via feishu_alerts: refused with code 19021"):
        send_feishu("feishu_alerts", "t", "x")


def test_wecom_wrong_key_is_reported_without_the_key(robots, monkeypatch):
    monkeypatch.setenv(CONN_ENV["wecom"], robots["wecom"].connection(token="not-the-key"))
    with pytest.raises(RobotError) as err:
        send_wecom("wecom_alerts", "x")
    assert str(err.value) == "WeCom via wecom_alerts: refused with code 93000: invalid webhook url"


def test_long_messages_are_cut_to_the_services_limits(robots):
    send_wecom("wecom_alerts", "行情" * 3000)  # 18000 bytes; WeCom takes 4096
    content = robots["wecom"].wait_for(1)[0].json()["markdown"]["content"]
    assert robots["wecom"].replies == [{"errcode": 0, "errmsg": "ok"}]
    assert len(content.encode("utf-8")) <= 4096 and content.endswith("…") and content.startswith("行情行情")


def test_robots_without_a_connection_or_token_are_skipped(monkeypatch, caplog):
    with RobotSink("wecom", "k") as sink:
        monkeypatch.setenv(CONN_ENV["wecom"], json.dumps({"conn_type": "http", "host": sink.url}))  # no key
        with caplog.at_level("INFO", logger="ta_scheduler.notify.alerts"):
            alerts.on_task_failure(_context(RuntimeError("boom")))
        assert sink.requests == []
    assert "no channel configured" in caplog.text
