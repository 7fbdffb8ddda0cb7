"""Run a two-day backfill of daily bars and die (SIGKILL) at a chosen write to the store.

Fault injection for ``test_crash_points.py``: every pymongo write call of this process is
counted; at call number ``CRASH_AT`` the process kills itself — ``after`` the call was
executed, or with ``half`` after sending only the first half of an ``insert_many`` (the
server applied part of a batch when the client died). ``CRASH_AT=0`` runs to the end and
prints the write calls, one JSON line each.

Usage: ``python crash_sync.py <tushare url> <token> <day> <day>`` with ``MONGO_URI`` set.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from pymongo.collection import Collection

WRITES = ("insert_one", "insert_many", "bulk_write", "replace_one", "update_one", "update_many", "delete_one",
          "delete_many")
CRASH_AT = int(os.environ.get("CRASH_AT", "0"))
MODE = os.environ.get("CRASH_MODE", "after")
calls: list[dict] = []


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(name: str) -> None:
    original = getattr(Collection, name)

    def write(self, *args, **kwargs):
        size = len(args[0]) if name in ("insert_many", "bulk_write") else 1
        calls.append({"n": len(calls) + 1, "call": name, "collection": self.name, "size": size})
        if len(calls) != CRASH_AT:
            return original(self, *args, **kwargs)
        if MODE == "half" and name == "insert_many" and len(args[0]) > 1:
            docs = list(args[0])
            original(self, docs[: len(docs) // 2], *args[1:], **kwargs)
        else:
            original(self, *args, **kwargs)
        _die()

    setattr(Collection, name, write)


def main() -> None:
    url, token, *days = sys.argv[1:]
    for name in WRITES:
        _wrap(name)
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider
    from ta_scheduler.storage.mongo import get_db
    from ta_scheduler.sync import backfill_daily

    provider = TushareProvider(token, url, limiter=RateLimiter({"*": 10_000}))
    backfill_daily(provider, get_db(), days)
    for call in calls:
        print(json.dumps(call))


if __name__ == "__main__":
    main()
