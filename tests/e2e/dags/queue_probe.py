"""
### queue_probe (test-only DAG)

One task per Celery queue; each returns the queue its worker was started for, so the
end-to-end test can prove every task ran on a worker of its own queue and nowhere else.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from ta_scheduler.constants import Queues
from ta_scheduler.dag_defaults import START_DATE, default_args


@dag(schedule=None, start_date=START_DATE, catchup=False, doc_md=__doc__, tags=["maintenance"],
     default_args=default_args(queue=Queues.DEFAULT, retries=0))
def queue_probe():
    for queue in Queues.ALL:

        @task(task_id=f"on_{queue}", queue=queue)
        def report_worker() -> dict:
            import os
            import socket

            return {"worker_queue": os.environ.get("TA_WORKER_QUEUE"), "host": socket.gethostname()}

        report_worker()


queue_probe()
