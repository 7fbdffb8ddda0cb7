"""Deliver a stored report by email, Slack and the Chinese group robots, recording each channel's outcome in the document.

Channels and their Airflow connections (first one that exists wins):

* email: ``smtp_reports``, else ``smtp_alerts`` (type ``smtp``). Recipients: env
  ``TA_REPORT_EMAILS`` (comma-separated), else the connection's extra ``to``, else
  ``TA_ALERT_EMAILS``. The body is the report's HTML; the HTML file is attached.
* Slack: ``slack_reports``, else ``slack_alerts`` (type ``slackwebhook``). The message is the
  report's digest plus a link: ``TA_REPORTS_BASE_URL`` + ``/daily/2026-11-27.html`` when set,
  else the file's path on the worker.
* DingTalk / Feishu / WeCom group robots (``notify.robots``): ``dingtalk_reports``, else
  ``dingtalk_alerts`` (type ``dingding``); ``feishu_reports``, else ``feishu_alerts``;
  ``wecom_reports``, else ``wecom_alerts`` (type ``http``). A robot connection counts only
  when it carries its webhook token. The message is the Slack one in the robot's format: the
  title, the digest and the link.

An unconfigured channel is recorded as ``skipped``. A channel already ``sent`` with the same
content (``content_sha256``) is not sent again, so a retry after a partial failure only
re-sends what failed. A failure is recorded (``status: failed``, ``error``, ``attempts``) and
then :class:`DeliveryError` is raised so the task's retry policy applies; the stored report
itself (HTML, Markdown, files) is never modified here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Conns
from ta_scheduler.notify.channels import email_recipients, send_email, send_slack
from ta_scheduler.notify.robots import robot_configured, send_dingtalk, send_feishu, send_wecom
from ta_scheduler.reports.errors import DeliveryError
from ta_scheduler.reports.store import load_report, record_delivery, relative_path, report_file
from ta_scheduler.templates import render

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

SMTP_REPORTS = "smtp_reports"
SLACK_REPORTS = "slack_reports"
EMAIL_CONNS = (SMTP_REPORTS, Conns.SMTP_ALERTS)
SLACK_CONNS = (SLACK_REPORTS, Conns.SLACK_ALERTS)
ROBOT_CONNS = {
    "dingtalk": ("dingtalk_reports", Conns.DINGTALK_ALERTS),
    "feishu": ("feishu_reports", Conns.FEISHU_ALERTS),
    "wecom": ("wecom_reports", Conns.WECOM_ALERTS),
}
CHANNEL_CONNS: dict[str, tuple[str, ...]] = {"email": EMAIL_CONNS, "slack": SLACK_CONNS, **ROBOT_CONNS}
CHANNELS = tuple(CHANNEL_CONNS)


def _first_connection(channel: str) -> str | None:
    from ta_scheduler.config import airflow_connection

    conn_ids = CHANNEL_CONNS[channel]
    if channel in ROBOT_CONNS:
        return next((c for c in conn_ids if robot_configured(c)), None)
    return next((c for c in conn_ids if airflow_connection(c) is not None), None)


def report_recipients(conn_id: str) -> list[str]:
    """``TA_REPORT_EMAILS`` if set, else the connection's recipients (see ``notify.channels``)."""
    from ta_scheduler.config import setting_list

    return setting_list("TA_REPORT_EMAILS") or email_recipients(conn_id)


def report_link(doc: dict[str, Any]) -> str:
    """Where a reader opens the HTML report: ``TA_REPORTS_BASE_URL``/path, else the local file."""
    rel = relative_path(doc["kind"], doc["report_date"], "html")
    from ta_scheduler.config import setting

    base = (setting("TA_REPORTS_BASE_URL") or "").strip()
    if base:
        return base.rstrip("/") + "/" + rel
    return str(report_file(doc, "html").resolve())


def slack_text(doc: dict[str, Any]) -> str:
    """The Slack message: title, digest lines, link to the full report (``templates/delivery.slack.j2``)."""
    return render("delivery.slack.j2", doc=doc, link=report_link(doc))


def robot_markdown(doc: dict[str, Any]) -> str:
    """The robots' message: title, digest lines, link (Markdown for DingTalk and WeCom; ``templates/delivery.md.j2``)."""
    return render("delivery.md.j2", doc=doc, link=report_link(doc))


def robot_text(doc: dict[str, Any]) -> str:
    """Feishu's message body (its title is the report's title): digest lines and the link (``templates/delivery.txt.j2``)."""
    return render("delivery.txt.j2", doc=doc, link=report_link(doc))


def _send(channel: str, conn_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    if channel == "email":
        to = report_recipients(conn_id)
        if not to:
            raise ValueError(f"email via {conn_id}: no recipients (set TA_REPORT_EMAILS or the connection extra 'to')")
        send_email(conn_id, doc["title"], doc["html"], to=to, files=[str(report_file(doc, "html"))])
        return {"recipients": to}
    if channel == "slack":
        send_slack(conn_id, slack_text(doc))
    elif channel == "dingtalk":
        send_dingtalk(conn_id, doc["title"], robot_markdown(doc))
    elif channel == "feishu":
        send_feishu(conn_id, doc["title"], robot_text(doc))
    else:
        send_wecom(conn_id, robot_markdown(doc))
    return {"link": report_link(doc)}


def deliver_report(
    db: Database, kind: str, report_date: str, *, channels: tuple[str, ...] = CHANNELS, force: bool = False
) -> dict[str, Any]:
    """Send the stored ``kind`` report of ``report_date`` through every configured channel.

    :param force: send again even through channels that already delivered this content
    :returns: ``{"kind", "report_date", <channel>: status, ...}`` for each of ``channels``, status one of
        ``sent``, ``already_sent``, ``skipped`` (no connection)
    :raises ReportNotFoundError: the report is not stored (build it first)
    :raises DeliveryError: a configured channel failed (recorded in ``delivery.<channel>``)
    """
    doc = load_report(db, kind, report_date)
    result: dict[str, Any] = {"kind": kind, "report_date": report_date}
    failures: list[str] = []
    for channel in channels:
        if channel not in CHANNELS:
            raise ValueError(f"unknown delivery channel {channel!r}; expected one of {CHANNELS}")
        previous = (doc.get("delivery") or {}).get(channel) or {}
        conn_id = _first_connection(channel)
        now = datetime.now(timezone.utc)
        if conn_id is None:
            names = "/".join(CHANNEL_CONNS[channel]) + (" with a webhook token" if channel in ROBOT_CONNS else "")
            skipped = {"status": "skipped", "reason": f"no connection {names}"}
            if {k: previous.get(k) for k in skipped} != skipped:  # a re-run finding the same keeps the record
                record_delivery(db, kind, report_date, channel, {**skipped, "at": now})
            result[channel] = "skipped"
            continue
        if not force and previous.get("status") == "sent" and previous.get("content_sha256") == doc.get("content_sha256"):
            result[channel] = "already_sent"
            continue
        attempts = int(previous.get("attempts") or 0) + 1
        status: dict[str, Any] = {"conn_id": conn_id, "at": now, "attempts": attempts, "content_sha256": doc.get("content_sha256")}
        try:
            details = _send(channel, conn_id, doc)
        except Exception as exc:  # recorded, then re-raised below as DeliveryError for the task's retries
            error = f"{type(exc).__name__}: {exc}"
            record_delivery(db, kind, report_date, channel, {**status, "status": "failed", "error": error[:500]})
            log.error("%s report %s: %s delivery via %s failed (attempt %s): %s", kind, report_date, channel, conn_id, attempts, error)
            failures.append(f"{channel} via {conn_id}: {error}")
            result[channel] = "failed"
            continue
        record_delivery(db, kind, report_date, channel, {**status, "status": "sent", "sent_at": now, "error": None, **details})
        log.info("%s report %s sent by %s via %s", kind, report_date, channel, conn_id)
        result[channel] = "sent"
    if failures:
        raise DeliveryError(f"{kind} report {report_date}: delivery failed — {'; '.join(failures)}; "
                            "the report is stored, retry the delivery task")
    return result
