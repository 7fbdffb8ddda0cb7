"""Where reports live: one ``reports`` document per (kind, report_date), plus files on disk.

Files: ``<reports dir>/<kind>/<report_date>.html`` and ``.md``. The reports directory is env
``TA_REPORTS_DIR``, else ``$TA_STATE_DIR/reports``, else ``.local/reports`` under the current
directory. Rebuilding a report for the same date overwrites the same document and the same
files (written to a temporary name, then renamed, so a reader never sees half a file). The
document is the source of truth: :func:`report_file` rewrites a file that is missing on disk
(another worker, a cleaned volume) from the stored document.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ta_scheduler.atomic_files import write_atomic
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.errors import ReportNotFoundError
from ta_scheduler.storage.writes import set_fields, write_docs

if TYPE_CHECKING:
    from pymongo.database import Database

KINDS = ("daily", "weekly")
FILE_TYPES = {"html": "html", "md": "markdown"}  # file suffix → document field holding its text


def reports_dir() -> Path:
    """The directory report files are written to (see the module docstring)."""
    from ta_scheduler.config import state_path

    return state_path("TA_REPORTS_DIR", "reports")


def check_kind_and_date(kind: str, report_date: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"report kind must be one of {KINDS}, got {kind!r}")
    try:
        date.fromisoformat(report_date)
    except (TypeError, ValueError):
        raise ValueError(f"report date must be 'YYYY-MM-DD', got {report_date!r}") from None


def relative_path(kind: str, report_date: str, suffix: str) -> str:
    """``daily/2026-11-27.html``: the file's path under the reports directory (and under the base URL)."""
    return f"{kind}/{report_date}.{suffix}"


def bson_safe(value: Any) -> Any:
    """Plain BSON types: numpy scalars → Python, NaN/inf → None (FerretDB refuses NaN)."""
    if isinstance(value, dict):
        return {str(k): bson_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bson_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_report(db: Database, report: dict[str, Any]) -> dict[str, Any]:
    """Write the report's files and upsert its document (natural key: kind + report_date).

    ``report`` needs ``kind``, ``report_date``, ``title``, ``html``, ``markdown`` and may carry
    anything else (``summary``, ``digest``, ``as_of`` …). ``created_at`` is set when the
    document is first created, ``updated_at`` when its content changes (a re-run of the same
    report keeps both); ``delivery`` (written by the delivery job) is left as it is.
    :returns: the stored document's fields (without ``_id``)
    """
    kind, report_date = report["kind"], report["report_date"]
    check_kind_and_date(kind, report_date)
    base = reports_dir()
    files: dict[str, dict[str, Any]] = {}
    for suffix, field_name in FILE_TYPES.items():
        rel = relative_path(kind, report_date, suffix)
        text = report[field_name]
        write_atomic(base / rel, text)
        files[suffix] = {"path": rel, "bytes": len(text.encode("utf-8"))}
    doc = bson_safe({
        **report,
        "files": files,
        "reports_dir": str(base.resolve()),
        "content_sha256": hashlib.sha256(report["html"].encode("utf-8")).hexdigest(),
    })
    write_docs(db[C.REPORTS], [doc], created_field="created_at", natural_ids=False)
    if kind == "daily":  # the ledger tracks reports per trading day
        from ta_scheduler.storage import ledger

        ledger.record(db, "reports", report_date, expected=1,
                      stored=db[C.REPORTS].count_documents({"kind": kind, "report_date": report_date}),
                      data_source=report.get("data_source"))
    return load_report(db, kind, report_date)


def load_report(db: Database, kind: str, report_date: str) -> dict[str, Any]:
    """The stored report document.

    :raises ReportNotFoundError: none stored for that kind and date
    """
    check_kind_and_date(kind, report_date)
    doc = db[C.REPORTS].find_one({"kind": kind, "report_date": report_date}, {"_id": 0})
    if doc is None:
        raise ReportNotFoundError(f"no {kind} report for {report_date} in {C.REPORTS}; build it first (reports DAG)")
    return doc


def report_file(doc: dict[str, Any], suffix: str = "html") -> Path:
    """The report's file on this machine, rewritten from the document if it is missing or differs."""
    path = reports_dir() / relative_path(doc["kind"], doc["report_date"], suffix)
    text = doc[FILE_TYPES[suffix]]
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text)
    return path


def record_delivery(db: Database, kind: str, report_date: str, channel: str, status: dict[str, Any]) -> None:
    """Set ``delivery.<channel>`` on the report document (nothing else is touched)."""
    set_fields(db[C.REPORTS], [({"kind": kind, "report_date": report_date}, {f"delivery.{channel}": bson_safe(status)})],
               timestamp_field=None)
