"""Cluster policy of the end-to-end deployment only (put on its components' ``PYTHONPATH``).

Airflow applies ``task_policy`` to every task when it parses a DAG file: here retries come after
seconds instead of the DAGs' minutes, so the crash-recovery tests watch Airflow's own retry
(the same scheduler, the same backoff) without waiting out production delays.
"""

from __future__ import annotations

from datetime import timedelta

RETRY_DELAY = timedelta(seconds=10)
MAX_RETRY_DELAY = timedelta(seconds=30)


def task_policy(task) -> None:
    if task.retries:
        task.retry_delay = RETRY_DELAY
        task.max_retry_delay = MAX_RETRY_DELAY
