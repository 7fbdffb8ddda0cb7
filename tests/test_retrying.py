"""The one retry policy (``ta_scheduler.retrying``) and how it is sized under Airflow's retries."""

from __future__ import annotations

import inspect
import logging

import pytest
from ta_scheduler.retrying import call_with_retries, worst_case_wait


class Blip(RuntimeError):
    pass


def _flaky(failures: list[BaseException], result: str = "ok"):
    calls = []

    def fn():
        calls.append(len(calls) + 1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_a_retryable_error_is_retried_with_the_waits_asked_for(caplog):
    fn, calls = _flaky([Blip("svc x: timeout"), Blip("svc x: timeout")])
    slept = []
    with caplog.at_level(logging.WARNING, logger="ta_scheduler.retrying"):
        got = call_with_retries(fn, retry_on=Blip, attempts=4, wait=lambda n, exc: 2.0 * 2 ** (n - 1), sleep=slept.append)
    assert (got, calls, slept) == ("ok", [1, 2, 3], [2.0, 4.0])
    assert [r.getMessage() for r in caplog.records] == [
        "svc x: timeout; retrying in 2.00 s (attempt 2/4)", "svc x: timeout; retrying in 4.00 s (attempt 3/4)"]


def test_when_the_tries_are_spent_the_last_error_is_raised_and_logged(caplog):
    last = Blip("svc x: third")
    fn, calls = _flaky([Blip("first"), Blip("second"), last])
    slept = []
    with caplog.at_level(logging.ERROR, logger="ta_scheduler.retrying"), pytest.raises(Blip) as err:
        call_with_retries(fn, retry_on=Blip, attempts=3, wait=lambda n, exc: 1.0, sleep=slept.append)
    assert (err.value, calls, slept) == (last, [1, 2, 3], [1.0, 1.0])
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == ["svc x: third; giving up after 3 attempts"]


def test_other_errors_propagate_at_once():
    fn, calls = _flaky([ValueError("bad input")])
    slept = []
    with pytest.raises(ValueError, match="bad input"):
        call_with_retries(fn, retry_on=Blip, attempts=4, wait=lambda n, exc: 1.0, sleep=slept.append)
    assert (calls, slept) == ([1], [])


def test_the_in_task_budget_stays_far_below_the_task_timeout():
    """Short blips are absorbed in the task; anything longer is left to Airflow's task retries."""
    from ta_scheduler.dag_defaults import default_args
    from ta_scheduler.llm.base import RetryPolicy
    from ta_scheduler.providers.tushare_pro import TushareProvider

    tushare = inspect.signature(TushareProvider).parameters
    tushare_budget = worst_case_wait(tushare["max_attempts"].default, tushare["rate_limit_wait"].default)
    llm = RetryPolicy()
    llm_budget = worst_case_wait(llm.max_attempts, max(llm.max_delay, llm.max_hint))
    args = default_args(queue="default")
    assert (tushare_budget, llm_budget) == (183.0, 360.0)
    assert max(tushare_budget, llm_budget) * 4 < args["execution_timeout"].total_seconds()
    assert args["retries"] == 3 and args["retry_exponential_backoff"] == 2.0
