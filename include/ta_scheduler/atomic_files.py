"""Writing a file so that readers see the old one or the new one, never half of one.

Every file the project writes for others to read (the synced calendar, reports, backup and log
archive records, the password file) goes through :func:`write_atomic`: a temporary file in the
same directory, fsync, rename over the target, fsync the directory (so the rename survives a
crash). Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (``str`` is written as UTF-8) in one step; ``mode``: the
    file's permission bits (set before it appears under its name), else the umask's default."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json_atomic(path: Path, doc: Mapping[str, Any], *, indent: int = 1, mode: int | None = None) -> None:
    """:func:`write_atomic` of ``doc`` as JSON (``indent``, keys in their order, a final newline)."""
    write_atomic(path, json.dumps(doc, indent=indent, ensure_ascii=True) + "\n", mode=mode)
