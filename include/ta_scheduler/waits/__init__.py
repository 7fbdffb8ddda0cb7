"""Deferrable waits: a task that waits for something to exist, not for the clock.

Each wait has the same shape. Its operator (:mod:`.operators`) checks once on the worker; when
what it waits for is not there yet it defers to a trigger (:mod:`.triggers`) and frees its
worker slot. The trigger polls ``check()`` (blocking I/O, run in a thread) until it returns
None or the deadline passes, and fires one event::

    {"status": "ready", "checks": n, **event_fields()}
    {"status": "timeout", "checks": n, "detail": <what is still missing>, **event_fields()}

The operator's ``execute_complete`` then returns, or fails without retries naming what is
missing (a retry would only wait again).

The waits:

- ``daily_sync``'s ``wait_for_vendor``: has tushare published the day's bars for the market?
  (the counts: :mod:`.vendor`)
- ``reports``' ``wait_for_analysis``: is the day's analysis stored?
  (the check: :mod:`ta_scheduler.reports.readiness`)

DAG files import :mod:`.operators`, which imports only the Task SDK at top level; the triggers
(Airflow's trigger base) load in ``execute`` and in the triggerer.
"""
