"""Task failure alerts: every task's ``on_failure_callback`` (see ``dag_defaults``).

The callback runs in the task process on the worker (task-level, not DAG-level: a DAG-level
notifier object crashes under ``airflow dags test``, Airflow issue #64649). It names the DAG,
task, run, logical date, try number, the exception's first line and the log URL, passes the
text through Airflow's secrets masker, and never raises: a broken alert channel is logged,
it must not hide the task's own failure.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from ta_scheduler.constants import Conns
from ta_scheduler.notify.channels import email_configured, send_email, send_slack, slack_configured

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


def format_text(f: dict[str, str]) -> str:
    task = f["task_id"] if f["map_index"] in ("-1", "None") else f"{f['task_id']}[{f['map_index']}]"
    return (
        f":red_circle: Airflow task failed: {f['dag_id']}.{task}\n"
        f"run: {f['run_id']}  logical date: {f['logical_date']}  try: {f['try_number']}\n"
        f"error: {f['error']}\n"
        f"log: {f['log_url']}"
    )


def format_html(f: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in f.items()
        if k != "log_url"
    )
    link = f"<p><a href='{html.escape(f['log_url'])}'>Task log</a></p>" if f["log_url"] else ""
    return f"<h3>Airflow task failed: {html.escape(f['dag_id'])}.{html.escape(f['task_id'])}</h3><table>{rows}</table>{link}"


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` for every task: Slack and email when configured."""
    facts = failure_facts(context)
    sent = []
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
    log.info("failure alert for %s.%s: %s", facts["dag_id"], facts["task_id"], ", ".join(sent) or "no channel configured")
