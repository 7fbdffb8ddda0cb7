"""Run a backfill of daily bars in a forked child that dies (SIGKILL) right after a chosen write.

Fault injection for ``test_crash_points.py`` through pymongo's public command-monitoring API (no
patching): every write command the child sends (insert, update, delete) is counted, and when the
server has acknowledged write number ``crash_at`` the child kills itself — as if the worker died
at that instant. ``crash_at=0`` runs to the end and reports the write commands.

The child is forked from the test process after the imports (a fresh interpreter per kill point
would spend most of its time importing): it makes its own store client, with the listener, and
its own tushare client; nothing of the parent's is used in it, and it ends with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

from pymongo import monitoring

WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}


class KillAfterWrite(monitoring.CommandListener):
    def __init__(self, crash_at: int) -> None:
        self.crash_at = crash_at
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
        if write["n"] == self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.pending.pop(event.request_id, None)


def backfill_in_child(target, url: str, token: str, days: list[str], chunk_size: int, crash_at: int) -> tuple[int, list[dict]]:
    """Fork; the child backfills ``days`` into ``target`` with ``chunk_size`` documents per write
    batch and is killed after write ``crash_at``. Returns the child's wait status (as
    ``subprocess`` gives it: minus the signal that ended it) and the writes it reported (crash_at=0)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_end)
            listener = KillAfterWrite(crash_at)
            monitoring.register(listener)  # applies to the clients made from here on
            from ta_scheduler.providers.ratelimit import RateLimiter
            from ta_scheduler.providers.tushare_pro import TushareProvider
            from ta_scheduler.storage import mongo, writes
            from ta_scheduler.sync import backfill_daily

            mongo._clients.clear()  # the parent's clients (forked copies) stay unused: a client of our own
            writes.CHUNK_SIZE = chunk_size
            provider = TushareProvider(token, url, limiter=RateLimiter({"*": 10_000}))
            backfill_daily(provider, mongo.get_db(target), days)
            with os.fdopen(write_end, "w") as out:
                out.write(json.dumps(listener.done))
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent through stderr and the exit code
            traceback.print_exc(file=sys.stderr)
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        reported = reader.read()
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, json.loads(reported) if reported else []
