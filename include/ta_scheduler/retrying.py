"""The one retry policy for calls to outside services (tushare, DashScope, DeepSeek), on tenacity.

Two layers, sized together:

* **In the task** (this module): a call is tried at most ``attempts`` times (tushare 4,
  ``TushareProvider(max_attempts=)``; LLMs 4, ``TA_LLM_MAX_ATTEMPTS``). Between tries it waits what
  the service asked for (tushare's per-minute limit: 61 s; an LLM's ``Retry-After``, at most
  ``TA_LLM_RETRY_HINT_MAX`` = 120 s), else an exponential backoff (tushare 2, 4, 8 s; LLMs 2, 4, 8 s
  with half jitter, at most ``TA_LLM_RETRY_MAX_DELAY`` = 30 s). This absorbs blips of seconds to a
  minute without losing the work a task already did.
* **Airflow's task retries** (``dag_defaults.default_args``): 3 more task attempts, 1 min then
  doubling (jittered) up to 15 min, for outages longer than the in-task budget.

The in-task budget of one call stays far below a task's ``execution_timeout`` (30 min): at most
3 × 61 s = 183 s for tushare and 3 × 120 s = 360 s for an LLM (:func:`worst_case_wait`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

log = logging.getLogger(__name__)

T = TypeVar("T")


def call_with_retries(
    fn: Callable[[], T],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    attempts: int,
    wait: Callable[[int, BaseException], float],
    sleep: Callable[[float], None] = time.sleep,
    describe_wait: Callable[[BaseException], str] = lambda exc: "",
) -> T:
    """``fn()``, retried on ``retry_on`` errors up to ``attempts`` tries in all.

    ``wait(n, exc)`` is the pause (seconds) after failed try ``n`` (1-based). Each retry is logged
    at WARNING with the error (which names the service, the input and the cause) and the wait;
    other errors propagate at once; when the tries are spent the last error is logged at ERROR and
    raised as it is.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception()
        log.warning("%s; retrying in %.2f s%s (attempt %d/%d)", exc, state.next_action.sleep,
                    describe_wait(exc), state.attempt_number + 1, attempts)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        retry=tenacity.retry_if_exception_type(retry_on),
        wait=lambda state: wait(state.attempt_number, state.outcome.exception()),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(fn)
    except retry_on as exc:
        log.error("%s; giving up after %d attempts", exc, max(1, attempts))
        raise


def worst_case_wait(attempts: int, longest_wait: float) -> float:
    """The longest a call can spend waiting between its tries (seconds)."""
    return max(0, attempts - 1) * longest_wait
