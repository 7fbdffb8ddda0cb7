"""Arguments every DAG and task shares: owner, retries with exponential backoff, timeouts,
failure alerts. Parse-safe (standard library and pendulum only).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from ta_scheduler.constants import TIMEZONE

OWNER = "tradingagents"

#: All DAGs start here; timezone-aware in exchange time.
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)


def _on_failure(context: dict[str, Any]) -> None:
    # Imported lazily: the alert module pulls provider hooks only when a task actually fails.
    from ta_scheduler.notify.alerts import on_task_failure

    on_task_failure(context)


def default_args(
    *,
    queue: str,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=1),
    max_retry_delay: timedelta = timedelta(minutes=15),
    execution_timeout: timedelta = timedelta(minutes=30),
) -> dict[str, Any]:
    """``default_args`` for a DAG whose tasks run on Celery queue ``queue``.

    Retries back off exponentially (delay doubles each try, jittered, capped at
    ``max_retry_delay``); every task fails after ``execution_timeout``; failures alert.
    """
    return {
        "owner": OWNER,
        "queue": queue,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": _on_failure,
    }
