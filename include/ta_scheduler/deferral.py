"""Waiting in the triggerer: the shape every deferrable wait of the project shares.

A wait operator checks once on the worker; when what it waits for is not there yet it defers to
a :class:`PollUntilReadyTrigger` subclass and frees its worker slot. The trigger polls
``check()`` (blocking I/O, run in a thread) until it returns None, or the deadline passes, and
fires one event::

    {"status": "ready", "checks": n, **event_fields()}
    {"status": "timeout", "checks": n, "detail": <what is still missing>, **event_fields()}

The operator's ``execute_complete`` then returns, or fails without retries naming what is
missing. Users: the daily report's wait for the analysis (``reports.wait``/``reports.triggers``)
and ``daily_sync``'s wait for the vendor (``vendor_ready``).

Operators import this module inside ``execute`` (it loads Airflow's trigger base), so DAG
files do not pay for it at parse time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: Airflow's own deferral timeout = our deadline + this margin (our trigger answers first, clearly)
DEFERRAL_MARGIN = timedelta(minutes=10)


class PollUntilReadyTrigger(BaseTrigger):
    """Fires once, ready or at ``deadline`` (ISO 8601, timezone-aware); see the module doc.

    Subclasses implement :meth:`check`, :meth:`waiting_for` and :meth:`event_fields`, and may
    override :meth:`prepare` to open clients once before the first check.
    """

    def __init__(self, deadline: str, poll_seconds: float = 60.0):
        super().__init__()
        self.deadline = deadline
        self.poll_seconds = float(poll_seconds)

    def prepare(self) -> None:
        """Called once in the event loop before the first check (must not block)."""

    def check(self) -> str | None:  # pragma: no cover - abstract
        """None when ready, else what is missing (runs in a thread: may block)."""
        raise NotImplementedError

    def waiting_for(self) -> str:  # pragma: no cover - abstract
        """What the trigger waits for, for its log lines ("the analysis of 2026-11-27")."""
        raise NotImplementedError

    def event_fields(self) -> dict[str, Any]:
        return {}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        self.prepare()
        checks = 0
        while True:
            missing = await asyncio.to_thread(self.check)
            checks += 1
            if missing is None:
                self.log.info("%s is ready (check %d)", self.waiting_for(), checks)
                yield TriggerEvent({"status": "ready", "checks": checks, **self.event_fields()})
                return
            remaining = (deadline - datetime.now(timezone.utc)).total_seconds()
            if remaining <= 0:
                yield TriggerEvent({"status": "timeout", "checks": checks, "detail": missing, **self.event_fields()})
                return
            self.log.info("waiting for %s (%s); next check in %.0f s", self.waiting_for(), missing,
                          min(self.poll_seconds, remaining))
            await asyncio.sleep(min(self.poll_seconds, remaining))
