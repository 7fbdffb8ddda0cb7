"""Delivery by email (a real local SMTP server) and Slack (a local webhook), and failures that
leave the stored report intact and recorded."""

from __future__ import annotations

import pytest
from fakes import free_port
from fakes.http_sink import HttpSink
from fakes.smtp_sink import SmtpSink, airflow_smtp_connection
from report_seed import T
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.daily import build_daily_report
from ta_scheduler.reports.delivery import deliver_report
from ta_scheduler.reports.errors import DeliveryError, ReportNotFoundError


@pytest.fixture
def built(market):
    build_daily_report(market, T)
    return market


@pytest.fixture
def smtp(monkeypatch):
    with SmtpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", sink.airflow_connection(to=["desk@example.com"]))
        yield sink


@pytest.fixture
def slack(monkeypatch):
    with HttpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_REPORTS", sink.slack_webhook_connection())
        yield sink


def _doc(db):
    return db[C.REPORTS].find_one({"kind": "daily", "report_date": T}, {"_id": 0})


def test_email_arrives_with_the_html_body_and_attachment(built, smtp, reports_dir):
    assert deliver_report(built, "daily", T, channels=("email",)) == {"kind": "daily", "report_date": T, "email": "sent"}
    msg = smtp.wait_for(1)[0]
    assert msg["To"] == "desk@example.com" and msg["Subject"] == f"每日市场报告 {T}"
    parts = list(msg.walk())
    html_body = next(p for p in parts if p.get_content_type() == "text/html" and p.get_filename() is None)
    assert "每日市场报告" in html_body.get_content()
    attachment = next(p for p in parts if p.get_filename() == f"{T}.html")
    assert attachment.get_payload(decode=True).decode("utf-8") == _doc(built)["html"]
    status = _doc(built)["delivery"]["email"]
    assert status["status"] == "sent" and status["conn_id"] == "smtp_reports" and status["recipients"] == ["desk@example.com"]


def test_slack_gets_the_digest_and_a_link(built, slack, monkeypatch):
    monkeypatch.setenv("TA_REPORTS_BASE_URL", "https://reports.example.com/ta/")
    assert deliver_report(built, "daily", T, channels=("slack",))["slack"] == "sent"
    req = slack.wait_for(1)[0]
    text = req.json()["text"]
    sentiment = built[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    assert req.path == "/services/T000/B000/XXXX"
    assert f"每日市场报告 {T}" in text and f"上涨 {sentiment['advancers']} / 下跌 {sentiment['decliners']}" in text
    doc = _doc(built)
    assert text == "\n".join([f"*{doc['title']}*", *[f"• {line}" for line in doc["digest"]],
                              f"<https://reports.example.com/ta/daily/{T}.html|完整报告>"])


def test_unconfigured_channels_are_skipped_and_recorded(built):
    assert deliver_report(built, "daily", T) == {"kind": "daily", "report_date": T, "email": "skipped", "slack": "skipped",
                                                 "dingtalk": "skipped", "feishu": "skipped", "wecom": "skipped"}
    assert _doc(built)["delivery"]["email"]["reason"] == "no connection smtp_reports/smtp_alerts"
    assert _doc(built)["delivery"]["wecom"]["reason"] == "no connection wecom_reports/wecom_alerts with a webhook token"


def test_group_robots_get_the_digest_and_link_signed(built, monkeypatch):
    from fakes.robots import RobotSink

    monkeypatch.setenv("TA_REPORTS_BASE_URL", "https://reports.example.com/ta/")
    sinks = {"dingtalk": RobotSink("dingtalk", "dt", "SECx"), "feishu": RobotSink("feishu", "fs", "fsx"),
             "wecom": RobotSink("wecom", "wc")}
    for service, sink in sinks.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{service.upper()}_REPORTS", sink.start().connection())
    try:
        result = deliver_report(built, "daily", T, channels=("dingtalk", "feishu", "wecom"))
        assert result == {"kind": "daily", "report_date": T, "dingtalk": "sent", "feishu": "sent", "wecom": "sent"}
        doc = _doc(built)
        link = f"https://reports.example.com/ta/daily/{T}.html"
        markdown = "\n".join([f"### {doc['title']}", *[f"- {line}" for line in doc["digest"]], f"[完整报告]({link})"])
        assert sinks["dingtalk"].accepted[0].json() == {"msgtype": "markdown", "markdown": {"title": doc["title"], "text": markdown},
                                                        "at": {"atMobiles": None, "isAtAll": False}}
        assert sinks["wecom"].accepted[0].json() == {"msgtype": "markdown", "markdown": {"content": markdown}}
        feishu = sinks["feishu"].accepted[0].json()
        assert feishu["content"]["post"]["zh_cn"]["title"] == doc["title"]
        lines = [seg[0]["text"] for seg in feishu["content"]["post"]["zh_cn"]["content"]]
        assert lines == [*[f"• {line}" for line in doc["digest"]], f"完整报告：{link}"]
        assert doc["delivery"]["feishu"]["status"] == "sent" and doc["delivery"]["feishu"]["conn_id"] == "feishu_reports"
        # a retry sends nothing twice
        again = deliver_report(built, "daily", T, channels=("dingtalk", "feishu", "wecom"))
        assert set(again.values()) - {"daily", T} == {"already_sent"}
        assert all(len(s.requests) == 1 for s in sinks.values())
    finally:
        for sink in sinks.values():
            sink.stop()


def test_smtp_down_records_the_failure_and_keeps_the_report(built, monkeypatch, reports_dir, slack):
    port = free_port()  # nothing listens here
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", airflow_smtp_connection("127.0.0.1", port, ["desk@example.com"]))
    before = _doc(built)
    with pytest.raises(DeliveryError, match=rf"daily report {T}: delivery failed — email via smtp_reports: .*Connection ?refused"):
        deliver_report(built, "daily", T)
    after = _doc(built)
    for key in ("html", "markdown", "summary", "files", "content_sha256", "created_at", "title"):
        assert after[key] == before[key], key
    assert (reports_dir / "daily" / f"{T}.html").read_text(encoding="utf-8") == before["html"]
    assert after["delivery"]["email"]["status"] == "failed" and after["delivery"]["email"]["attempts"] == 1
    assert "refused" in after["delivery"]["email"]["error"].lower()
    assert after["delivery"]["slack"]["status"] == "sent"  # the other channel still went out

    # the retry once the server is up sends only what failed
    with SmtpSink(port=port) as smtp:
        assert deliver_report(built, "daily", T, channels=("email", "slack")) == {
            "kind": "daily", "report_date": T, "email": "sent", "slack": "already_sent"}
        assert len(smtp.wait_for(1)) == 1
    assert len(slack.requests) == 1
    email = _doc(built)["delivery"]["email"]
    assert email["status"] == "sent" and email["attempts"] == 2 and email["error"] is None


def test_delivering_a_report_that_was_never_built_says_so(mongo_db, reports_dir):
    with pytest.raises(ReportNotFoundError, match=f"no daily report for {T} in reports; build it first"):
        deliver_report(mongo_db, "daily", T)
