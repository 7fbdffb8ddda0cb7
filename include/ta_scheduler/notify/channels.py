"""Slack (incoming webhook) and email (SMTP) delivery, each through its Airflow connection.

A channel is *configured* when its connection exists (``slack_alerts`` of type
``slackwebhook``; ``smtp_alerts`` of type ``smtp``); an unconfigured channel is skipped, a
configured one that fails raises, so the caller's retry policy applies.

Email recipients: the connection extra ``to`` (list or comma-separated), else env
``TA_ALERT_EMAILS``. Sender: extra ``from_email``, else ``airflow@localhost``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ta_scheduler.config import airflow_connection, setting

log = logging.getLogger(__name__)


def slack_configured(conn_id: str) -> bool:
    return airflow_connection(conn_id) is not None


def send_slack(conn_id: str, text: str, blocks: list[dict] | None = None) -> None:
    """Post ``text`` to the webhook of connection ``conn_id`` (raises on a non-200 reply)."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    hook = SlackWebhookHook(slack_webhook_conn_id=conn_id)
    hook.send(text=text, blocks=blocks)
    log.info("slack message sent through connection %s", conn_id)


def email_recipients(conn_id: str) -> list[str]:
    """Recipients for connection ``conn_id``: extra ``to``, else env ``TA_ALERT_EMAILS``."""
    conn = airflow_connection(conn_id)
    raw: str | Sequence[str] = ""
    if conn is not None:
        raw = conn.extra_dejson.get("to") or ""
    raw = raw or setting("TA_ALERT_EMAILS") or ""
    if isinstance(raw, str):
        raw = raw.split(",")
    return [addr.strip() for addr in raw if addr and addr.strip()]


def email_configured(conn_id: str) -> bool:
    return airflow_connection(conn_id) is not None and bool(email_recipients(conn_id))


def send_email(
    conn_id: str,
    subject: str,
    html: str,
    *,
    to: Sequence[str] | None = None,
    files: Sequence[str] | None = None,
) -> None:
    """Send an HTML email (with optional attachments) through the SMTP connection ``conn_id``."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn = airflow_connection(conn_id)
    recipients = list(to or email_recipients(conn_id))
    if not recipients:
        raise ValueError(f"email via {conn_id}: no recipients (set extra 'to' or TA_ALERT_EMAILS)")
    sender = (conn.extra_dejson.get("from_email") if conn else None) or "airflow@localhost"
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=recipients, subject=subject, html_content=html, from_email=sender, files=list(files or [])
        )
    log.info("email '%s' sent to %d recipient(s) through connection %s", subject, len(recipients), conn_id)
