"""Task failure alerts: every task's ``on_failure_callback`` (see ``dag_defaults``).

Channels: Slack, email, and the DingTalk / Feishu / WeCom group robots (``notify.robots``),
each through its own connection and skipped when that connection is absent. Every channel
carries the same facts.

The callback runs in the task process on the worker (task-level, not DAG-level: a DAG-level
notifier object crashes under ``airflow dags test``, Airflow issue #64649). It names the DAG,
task, run, logical date, try number, the exception's first line and the log URL, passes the
text through Airflow's secrets masker, and never raises: a broken alert channel is logged,
it must not hide the task's own failure.
"""

from __future__ import annotations

import logging
from typing import Any

from ta_scheduler.constants import Conns
from ta_scheduler.notify.channels import email_configured, send_email, send_slack, slack_configured
from ta_scheduler.notify.robots import robot_configured, send_dingtalk, send_feishu, send_wecom
from ta_scheduler.templates import render

log = logging.getLogger(__name__)


def _first_line(exc: BaseException | str | None) -> str:
    if exc is None:
        return "(no exception recorded)"
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    if isinstance(exc, BaseException):
        line = f"{type(exc).__name__}: {line}"
    return line[:500]


def failure_facts(context: dict[str, Any]) -> dict[str, str]:
    """The facts an operator needs, from a task callback context (all strings)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    logical = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    try:
        log_url = ti.log_url if ti is not None else ""
    except Exception:  # log_url needs [api] base_url; an alert without a link is still an alert
        log_url = ""
    facts = {
        "dag_id": str(getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "?")),
        "task_id": str(getattr(ti, "task_id", "?")),
        "map_index": str(getattr(ti, "map_index", -1)),
        "run_id": str(getattr(ti, "run_id", None) or getattr(dag_run, "run_id", "?")),
        "logical_date": logical.isoformat() if hasattr(logical, "isoformat") else str(logical),
        "try_number": str(getattr(ti, "try_number", "?")),
        "error": _first_line(context.get("exception")),
        "log_url": log_url,
    }
    try:
        from airflow.sdk.log import redact

        facts = {k: str(redact(v)) for k, v in facts.items()}
    except ImportError:  # pragma: no cover
        pass
    return facts


def _task(f: dict[str, str]) -> str:
    return f["task_id"] if f["map_index"] in ("-1", "None") else f"{f['task_id']}[{f['map_index']}]"


def format_text(f: dict[str, str]) -> str:
    """The facts as a Slack message (``templates/alert.slack.j2``)."""
    return render("alert.slack.j2", f=f, task=_task(f))


def format_html(f: dict[str, str]) -> str:
    """The facts as an email body, every value HTML-escaped (``templates/alert.html.j2``)."""
    return render("alert.html.j2", f=f)


def alert_title(f: dict[str, str]) -> str:
    return f"Airflow task failed: {f['dag_id']}.{f['task_id']} (try {f['try_number']})"


def format_markdown(f: dict[str, str]) -> str:
    """The facts as Markdown (DingTalk and WeCom render it; ``templates/alert.md.j2``)."""
    return render("alert.md.j2", f=f, task=_task(f))


def format_plain(f: dict[str, str]) -> str:
    """The facts as plain text (Feishu; ``templates/alert.txt.j2``)."""
    return render("alert.txt.j2", f=f, task=_task(f))


def _send_robots(facts: dict[str, str], sent: list[str]) -> None:
    senders = (
        ("dingtalk", Conns.DINGTALK_ALERTS, lambda c: send_dingtalk(c, alert_title(facts), format_markdown(facts))),
        ("feishu", Conns.FEISHU_ALERTS, lambda c: send_feishu(c, alert_title(facts), format_plain(facts))),
        ("wecom", Conns.WECOM_ALERTS, lambda c: send_wecom(c, format_markdown(facts))),
    )
    for name, conn_id, send in senders:
        if not robot_configured(conn_id):
            continue
        try:
            send(conn_id)
            sent.append(name)
        except Exception:
            log.exception("failure alert: %s delivery through %s failed", name, conn_id)


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` for every task: every configured channel."""
    facts = failure_facts(context)
    sent: list[str] = []
    if slack_configured(Conns.SLACK_ALERTS):
        try:
            send_slack(Conns.SLACK_ALERTS, format_text(facts))
            sent.append("slack")
        except Exception:
            log.exception("failure alert: Slack delivery through %s failed", Conns.SLACK_ALERTS)
    if email_configured(Conns.SMTP_ALERTS):
        subject = f"[Airflow] {facts['dag_id']}.{facts['task_id']} failed (try {facts['try_number']})"
        try:
            send_email(Conns.SMTP_ALERTS, subject, format_html(facts))
            sent.append("email")
        except Exception:
            log.exception("failure alert: email delivery through %s failed", Conns.SMTP_ALERTS)
    _send_robots(facts, sent)
    log.info("failure alert for %s.%s: %s", facts["dag_id"], facts["task_id"], ", ".join(sent) or "no channel configured")
