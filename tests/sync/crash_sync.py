"""Run a two-day backfill of daily bars and die (SIGKILL) right after a chosen write to the store.

Fault injection for ``test_crash_points.py`` through pymongo's public command-monitoring API (no
patching): every write command this process sends (insert, update, delete) is counted, and when
the server has acknowledged write number ``CRASH_AT`` the process kills itself — as if the worker
died at that instant. ``CRASH_AT=0`` runs to the end and prints the write commands, one JSON
line each.

Usage: ``python crash_sync.py <tushare url> <token> <day> <day> ...`` with ``MONGO_URI`` and
``CHUNK_SIZE`` (documents per write batch) set.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from pymongo import monitoring

WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}
CRASH_AT = int(os.environ.get("CRASH_AT", "0"))


class KillAfterWrite(monitoring.CommandListener):
    def __init__(self) -> None:
        self.pending: dict[int, dict] = {}
        self.done: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in WRITE_COMMANDS:
            docs = event.command.get("documents") or event.command.get("updates") or event.command.get("deletes") or []
            self.pending[event.request_id] = {"command": event.command_name, "collection": event.command[event.command_name],
                                              "statements": len(docs)}

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        write = self.pending.pop(event.request_id, None)
        if write is None:
            return
        write["n"] = len(self.done) + 1
        self.done.append(write)
        if write["n"] == CRASH_AT:
            os.kill(os.getpid(), signal.SIGKILL)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.pending.pop(event.request_id, None)


def main() -> None:
    url, token, *days = sys.argv[1:]
    listener = KillAfterWrite()
    monitoring.register(listener)  # before any client exists: applies to every client made later
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider
    from ta_scheduler.storage import writes
    from ta_scheduler.storage.mongo import get_db
    from ta_scheduler.sync import backfill_daily

    writes.CHUNK_SIZE = int(os.environ["CHUNK_SIZE"])

    provider = TushareProvider(token, url, limiter=RateLimiter({"*": 10_000}))
    backfill_daily(provider, get_db(), days)
    for write in listener.done:
        print(json.dumps(write))


if __name__ == "__main__":
    main()
