"""The human approval of a research batch estimated above its budget (Airflow human-in-the-loop).

:class:`ResearchBudgetApproval` is the standard provider's ``ApprovalOperator`` (options Approve /
Reject) with three run-time decisions taken from the ``estimate_research`` XCom
(``llm.budget.plan_batch``):

- within budget → the task is *skipped* at once ("no approval needed"): the research runs
  without waiting (always the case for the ``offline`` provider, whose estimate is 0);
- above budget → the request shows the estimate, the limits and today's spend (``body``), and the
  task waits in Airflow 3.3's ``awaiting_input`` state — no worker slot, no triggerer — for an
  answer in the UI (Required actions) or through the REST API
  ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve_research/-1/hitlDetails``
  with ``{"chosen_options": ["Approve"]}``;
- no answer within ``approval_timeout_minutes`` (param, else setting) → the scheduler applies the
  default, **Reject**: the research tasks are skipped.

Parse-safe: imports only Airflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator


class ResearchBudgetApproval(ApprovalOperator):
    """Approve or reject a research batch above budget; skipped when the batch is within budget.

    :param estimate_task_id: the task whose return value is ``llm.budget.plan_batch``'s result
    """

    def __init__(self, *, estimate_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("subject", "LLM research above budget: approve?")
        kwargs.setdefault("response_timeout", timedelta(hours=1))  # replaced at run time by the batch's setting
        super().__init__(defaults=ApprovalOperator.REJECT, **kwargs)
        self.estimate_task_id = estimate_task_id

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        batch = context["ti"].xcom_pull(task_ids=self.estimate_task_id)
        if not batch or not batch.get("symbols"):
            raise AirflowSkipException("no research in this run: no approval needed")
        if not batch["needs_approval"]:
            raise AirflowSkipException(
                f"within budget ({batch['tokens']:,} tokens / {batch['yuan']:.4f} 元 estimated): no approval needed"
            )
        self.subject = (
            f"LLM research above budget: {batch['symbols']} symbols, depth {batch['research_depth']}, "
            f"{batch['provider']} ≈ {batch['yuan']:.4f} 元"
        )
        self.body = batch["approval_text"]
        minutes = batch["approval_timeout_minutes"]
        self.response_timeout = timedelta(minutes=float(minutes)) if minutes else None  # null: wait for an answer
        self.log.info("waiting up to %s for approval: %s", self.response_timeout, "; ".join(batch["reasons"]))
        return super().execute(context)
