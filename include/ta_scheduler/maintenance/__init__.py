"""Housekeeping jobs and the health check of the ``maintenance`` DAG (SPEC jobs 9–13).

- ``retention``: delete store documents past their retention, and Airflow metadata retention
  (``airflow db clean``).
- ``cache_refresh``: rebuild the Redis keys the analysis and reports read, switched atomically.
- ``log_archive``: pack old Airflow task logs into verified dated archives.
- ``backup``: dump every collection with a manifest, prove it restores, keep the last N.
- ``health``: is every part the pipelines need answering, and is the data fresh and complete?

Each module is imported inside the task that uses it; nothing here runs at DAG parse time.
See docs/maintenance.md.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file (the checksum the log archive and backup manifests record)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
