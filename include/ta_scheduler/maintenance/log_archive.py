"""Archive old Airflow task logs into dated, verified tar.gz parts; delete originals only after.

Layout of ``archive_dir`` (day = the file's mtime date in Asia/Shanghai)::

    logs-2026-11-20-001.tar.gz          members named by their path relative to the log folder
    logs-2026-11-20-001.manifest.json   {"files": [{path, size, sha256, mtime}], archive_sha256, ...}
    logs-2026-11-20-002.tar.gz          a later run's files of the same day: a new part, never an append

Order of operations, so that no crash loses a log: write ``*.tar.gz.tmp`` → re-read it and check
every member against the manifest (size, sha256, complete gzip stream) → rename → write the
manifest (the commit marker) → delete each original whose size, mtime and sha256 are still those
archived. A part without a manifest is an interrupted run and is removed; its originals are still in
place. Re-running skips files already in a part whose archive verifies, deleting those originals
(a crash between the manifest and the deletes); if that part fails verification, the bad part is
renamed ``*.corrupt``, the run fails, and its originals are kept (the next run archives them anew).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ta_scheduler.atomic_files import write_json_atomic
from ta_scheduler.maintenance import sha256_file
from ta_scheduler.market import TZ

log = logging.getLogger(__name__)

_PART_RE = re.compile(r"^logs-(\d{4}-\d{2}-\d{2})-(\d{3})\.tar\.gz$")


class ArchiveVerificationError(RuntimeError):
    """An archive does not match its manifest (truncated, corrupted or incomplete)."""


class _HashingReader:
    """Reads at most ``size`` bytes of a file, hashing what tarfile copies into the archive."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.hash.update(data)
        return data


def _manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name[: -len(".tar.gz")] + ".manifest.json")


def verify_archive(archive: Path, manifest: dict[str, Any] | Path | None = None) -> dict[str, Any]:
    """Check ``archive`` against its manifest: file sha256 (when recorded), every listed member
    present as a regular file with the recorded size and sha256, and a gzip stream readable to its
    end (CRC checked). Returns the manifest. Raises ``ArchiveVerificationError`` naming the
    archive and the first mismatch.
    """
    archive = Path(archive)
    if manifest is None:
        manifest = _manifest_path(archive)
    if isinstance(manifest, Path):
        try:
            manifest = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise ArchiveVerificationError(f"{archive}: manifest {manifest} unreadable: {exc}") from exc
    expected = {f["path"]: f for f in manifest["files"]}
    recorded = manifest.get("archive_sha256")
    if recorded and sha256_file(archive) != recorded:
        raise ArchiveVerificationError(f"{archive}: file sha256 differs from the manifest (corrupted or truncated)")
    seen: set[str] = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                want = expected.get(member.name)
                if want is None:
                    raise ArchiveVerificationError(f"{archive}: member {member.name} is not in the manifest")
                if not member.isfile() or member.size != want["size"]:
                    raise ArchiveVerificationError(
                        f"{archive}: member {member.name} has size {member.size}, manifest says {want['size']}"
                    )
                if hashlib.file_digest(tar.extractfile(member), "sha256").hexdigest() != want["sha256"]:
                    raise ArchiveVerificationError(f"{archive}: member {member.name} sha256 differs from the manifest")
                seen.add(member.name)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveVerificationError(f"{archive}: unreadable ({type(exc).__name__}: {exc})") from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveVerificationError(f"{archive}: {len(missing)} files of the manifest missing, e.g. {missing[0]}")
    return manifest


def _candidates(log_dir: Path, archive_dir: Path, cutoff_ts: float) -> Iterator[tuple[Path, os.stat_result]]:
    archive_dir = archive_dir.resolve()
    for root, dirs, files in os.walk(log_dir):
        root_path = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not (root_path / d).is_symlink() and (root_path / d).resolve() != archive_dir
        )
        for name in sorted(files):
            path = root_path / name
            if path.is_symlink():
                continue
            st = path.stat()
            if st.st_mtime < cutoff_ts:
                yield path, st


def _archived_index(archive_dir: Path) -> dict[str, dict[str, Path]]:
    """relative path → {sha256 → part already holding that content}."""
    index: dict[str, dict[str, Path]] = {}
    for manifest_path in sorted(archive_dir.glob("logs-*.manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        archive = archive_dir / manifest["archive"]
        for f in manifest["files"]:
            index.setdefault(f["path"], {})[f["sha256"]] = archive
    return index


def _next_part(archive_dir: Path, day: str) -> Path:
    numbers = [
        int(m.group(2))
        for p in archive_dir.iterdir()
        if (m := _PART_RE.match(p.name.removesuffix(".corrupt"))) and m.group(1) == day
    ]
    return archive_dir / f"logs-{day}-{max(numbers, default=0) + 1:03d}.tar.gz"


def _remove_uncommitted(archive_dir: Path) -> list[str]:
    """Delete parts without a manifest and temp files: leftovers of an interrupted run."""
    removed = []
    for p in archive_dir.iterdir():
        if p.name.endswith(".tmp") or (_PART_RE.match(p.name) and not _manifest_path(p).exists()):
            p.unlink()
            removed.append(p.name)
    if removed:
        log.warning("removed uncommitted archive parts from an interrupted run: %s", removed)
    return removed


def _write_part(
    log_dir: Path, archive: Path, day: str, files: list[tuple[Path, os.stat_result]], now: dt.datetime
) -> dict[str, Any]:
    tmp = archive.with_name(archive.name + ".tmp")
    entries = []
    with tarfile.open(tmp, "w:gz") as tar:
        for path, st in files:
            rel = path.relative_to(log_dir).as_posix()
            info = tarfile.TarInfo(rel)
            info.size = st.st_size
            info.mtime = int(st.st_mtime)
            info.mode = 0o644
            with path.open("rb") as f:
                reader = _HashingReader(f)
                tar.addfile(info, reader)  # copies exactly st_size bytes; raises if the file shrank
            entries.append({"path": rel, "size": st.st_size, "sha256": reader.hash.hexdigest(), "mtime": st.st_mtime})
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    manifest = {
        "format": 1,
        "day": day,
        "archive": archive.name,
        "archive_sha256": sha256_file(tmp),
        "archive_size": tmp.stat().st_size,
        "created_at": now.isoformat(),
        "log_dir": str(log_dir),
        "files": entries,
    }
    verify_archive(tmp, manifest)
    os.replace(tmp, archive)
    write_json_atomic(_manifest_path(archive), manifest)
    return manifest


def _delete_if_unchanged(path: Path, st: os.stat_result, sha256: str) -> bool:
    try:
        now_st = path.stat()
    except FileNotFoundError:
        return False
    if now_st.st_size != st.st_size or now_st.st_mtime != st.st_mtime or sha256_file(path) != sha256:
        log.warning("%s changed after it was archived; kept for the next run", path)
        return False
    path.unlink()
    return True


def _prune_empty_dirs(log_dir: Path, dirs: set[Path]) -> None:
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        while d != log_dir and log_dir in d.parents:
            try:
                d.rmdir()
            except OSError:
                break
            d = d.parent


def archive_logs(
    log_dir: str | Path, archive_dir: str | Path, *, older_than_days: int, now: dt.datetime
) -> dict[str, Any]:
    """Archive files under ``log_dir`` last modified more than ``older_than_days`` days before
    ``now``, one new part per mtime day, and delete the originals once their part verifies.

    Returns counts (files and bytes archived, originals deleted, files kept), the parts written
    and any corrupt parts found. Raises ``ArchiveVerificationError`` after finishing the rest of
    the work when an existing part failed verification; the originals it held are kept.
    """
    if now.tzinfo is None:
        raise ValueError(f"archive_logs needs an aware 'now' (got naive {now!r})")
    if older_than_days < 1:
        raise ValueError(f"older_than_days must be >= 1, got {older_than_days}")
    log_dir, archive_dir = Path(log_dir).resolve(), Path(archive_dir).resolve()
    if not log_dir.is_dir():
        raise FileNotFoundError(f"log folder {log_dir} does not exist")
    archive_dir.mkdir(parents=True, exist_ok=True)
    _remove_uncommitted(archive_dir)
    cutoff = now - dt.timedelta(days=older_than_days)

    index = _archived_index(archive_dir)
    part_ok: dict[Path, bool] = {}
    corrupt: list[str] = []
    by_day: dict[str, list[tuple[Path, os.stat_result]]] = {}
    already: list[tuple[Path, os.stat_result, str]] = []  # in a part that verifies: delete only
    kept_for_corrupt: list[Path] = []  # in a part that fails: left alone this run
    for path, st in _candidates(log_dir, archive_dir, cutoff.timestamp()):
        rel = path.relative_to(log_dir).as_posix()
        sha = sha256_file(path) if rel in index else ""
        part = index.get(rel, {}).get(sha)
        if part is not None and part not in part_ok:
            try:
                verify_archive(part)
                part_ok[part] = True
            except ArchiveVerificationError as exc:
                log.error("%s; its originals are kept", exc)
                part_ok[part] = False
                corrupt.append(part.name)
        if part is not None and part_ok[part]:
            already.append((path, st, sha))
        elif part is not None:
            kept_for_corrupt.append(path)
        else:
            day = dt.datetime.fromtimestamp(st.st_mtime, TZ).date().isoformat()
            by_day.setdefault(day, []).append((path, st))

    for name in corrupt:
        bad = archive_dir / name
        os.replace(bad, bad.with_name(bad.name + ".corrupt"))
        os.replace(_manifest_path(bad), _manifest_path(bad).with_name(_manifest_path(bad).name + ".corrupt"))

    result: dict[str, Any] = {"archived_files": 0, "archived_bytes": 0, "deleted": 0, "kept": len(kept_for_corrupt),
                              "parts": [], "corrupt_parts": corrupt, "cutoff": cutoff.isoformat()}
    touched: set[Path] = set()
    for path, st, sha in already:
        if _delete_if_unchanged(path, st, sha):
            result["deleted"] += 1
            touched.add(path.parent)
        else:
            result["kept"] += 1
    for day in sorted(by_day):
        files = by_day[day]
        archive = _next_part(archive_dir, day)
        manifest = _write_part(log_dir, archive, day, files, now)
        result["parts"].append(archive.name)
        result["archived_files"] += len(files)
        result["archived_bytes"] += sum(st.st_size for _, st in files)
        for (path, st), entry in zip(files, manifest["files"], strict=True):
            if _delete_if_unchanged(path, st, entry["sha256"]):
                result["deleted"] += 1
                touched.add(path.parent)
            else:
                result["kept"] += 1
        log.info("archived %d log files of %s into %s", len(files), day, archive.name)
    _prune_empty_dirs(log_dir, touched)
    if corrupt:
        raise ArchiveVerificationError(
            f"log archive parts failed verification and were renamed *.corrupt: {corrupt}; "
            f"{len(kept_for_corrupt)} originals they held are kept and will be archived again by the "
            f"next run ({result})"
        )
    return result
