"""CeleryExecutor: a task routed to each queue runs on a worker of that queue, and only there."""

from __future__ import annotations

import pytest
from ta_scheduler.constants import Queues

pytestmark = pytest.mark.slow


def test_each_queue_task_runs_on_its_own_worker(cluster):
    cluster.wait_dag("queue_probe")
    status, run = cluster.trigger("queue_probe")
    assert status == 200, run
    state = cluster.wait_run("queue_probe", run["dag_run_id"], timeout=240)
    tis = cluster.task_instances("queue_probe", run["dag_run_id"])
    assert state == "success", tis
    for queue in Queues.ALL:
        ti = tis[f"on_{queue}"]
        assert ti["queue"] == queue
        assert cluster.xcom("queue_probe", run["dag_run_id"], f"on_{queue}")["worker_queue"] == queue
