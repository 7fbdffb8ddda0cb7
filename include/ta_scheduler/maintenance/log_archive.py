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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
    manifest = _read_manifest(archive, manifest)
    expected = {f["path"]: f for f in manifest["files"]}
    recorded = manifest.get("archive_sha256")
    if recorded and sha256_file(archive) != recorded:
        raise ArchiveVerificationError(f"{archive}: file sha256 differs from the manifest (corrupted or truncated)")
    seen = _verified_members(archive, expected)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveVerificationError(f"{archive}: {len(missing)} files of the manifest missing, e.g. {missing[0]}")
    return manifest


def _read_manifest(archive: Path, manifest: dict[str, Any] | Path | None) -> dict[str, Any]:
    """``manifest`` as given, or read from its file (default: the one next to ``archive``)."""
    if manifest is None:
        manifest = _manifest_path(archive)
    if isinstance(manifest, Path):
        try:
            manifest = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise ArchiveVerificationError(f"{archive}: manifest {manifest} unreadable: {exc}") from exc
    return manifest


def _verified_members(archive: Path, expected: dict[str, dict[str, Any]]) -> set[str]:
    """Read ``archive`` to its end, checking each member against ``expected`` (path → manifest
    entry); returns the names of the members read."""
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
    return seen


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


@dataclass
class _Candidates:
    """The files old enough to archive, by what this run does with them."""

    by_day: dict[str, list[tuple[Path, os.stat_result]]] = field(default_factory=dict)  # to archive, by mtime day
    already: list[tuple[Path, os.stat_result, str]] = field(default_factory=list)  # in a part that verifies: delete only
    kept_for_corrupt: list[Path] = field(default_factory=list)  # in a part that fails: left alone this run
    corrupt: list[str] = field(default_factory=list)  # the parts that failed verification


def _sort_candidates(log_dir: Path, archive_dir: Path, cutoff: dt.datetime) -> _Candidates:
    """The files under ``log_dir`` last modified before ``cutoff``, sorted by whether a part
    already holds their content and whether that part verifies (each part verified once)."""
    index = _archived_index(archive_dir)
    part_ok: dict[Path, bool] = {}
    found = _Candidates()
    for path, st in _candidates(log_dir, archive_dir, cutoff.timestamp()):
        rel = path.relative_to(log_dir).as_posix()
        sha = sha256_file(path) if rel in index else ""
        part = index.get(rel, {}).get(sha)
        if part is None:
            day = dt.datetime.fromtimestamp(st.st_mtime, TZ).date().isoformat()
            found.by_day.setdefault(day, []).append((path, st))
        elif _part_verifies(part, part_ok, found.corrupt):
            found.already.append((path, st, sha))
        else:
            found.kept_for_corrupt.append(path)
    return found


def _part_verifies(part: Path, part_ok: dict[Path, bool], corrupt: list[str]) -> bool:
    """Whether ``part`` verifies, checked on first sight (``part_ok`` remembers); a part that
    fails is logged and added to ``corrupt``."""
    if part not in part_ok:
        try:
            verify_archive(part)
            part_ok[part] = True
        except ArchiveVerificationError as exc:
            log.error("%s; its originals are kept", exc)
            part_ok[part] = False
            corrupt.append(part.name)
    return part_ok[part]


def _set_aside_corrupt(archive_dir: Path, corrupt: list[str]) -> None:
    """Rename each corrupt part and its manifest ``*.corrupt``."""
    for name in corrupt:
        bad = archive_dir / name
        os.replace(bad, bad.with_name(bad.name + ".corrupt"))
        os.replace(_manifest_path(bad), _manifest_path(bad).with_name(_manifest_path(bad).name + ".corrupt"))


def _delete_originals(archived: Iterable[tuple[Path, os.stat_result, str]], result: dict[str, Any],
                      touched: set[Path]) -> None:
    """Delete each archived original still as it was archived (counted in ``result["deleted"]``,
    its folder added to ``touched``); one that changed is counted in ``result["kept"]``."""
    for path, st, sha in archived:
        if _delete_if_unchanged(path, st, sha):
            result["deleted"] += 1
            touched.add(path.parent)
        else:
            result["kept"] += 1


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

    found = _sort_candidates(log_dir, archive_dir, cutoff)
    corrupt = found.corrupt
    _set_aside_corrupt(archive_dir, corrupt)

    result: dict[str, Any] = {"archived_files": 0, "archived_bytes": 0, "deleted": 0, "kept": len(found.kept_for_corrupt),
                              "parts": [], "corrupt_parts": corrupt, "cutoff": cutoff.isoformat()}
    touched: set[Path] = set()
    _delete_originals(found.already, result, touched)
    for day in sorted(found.by_day):
        files = found.by_day[day]
        archive = _next_part(archive_dir, day)
        manifest = _write_part(log_dir, archive, day, files, now)
        result["parts"].append(archive.name)
        result["archived_files"] += len(files)
        result["archived_bytes"] += sum(st.st_size for _, st in files)
        _delete_originals(((path, st, entry["sha256"]) for (path, st), entry in zip(files, manifest["files"], strict=True)),
                          result, touched)
        log.info("archived %d log files of %s into %s", len(files), day, archive.name)
    _prune_empty_dirs(log_dir, touched)
    if corrupt:
        raise ArchiveVerificationError(
            f"log archive parts failed verification and were renamed *.corrupt: {corrupt}; "
            f"{len(found.kept_for_corrupt)} originals they held are kept and will be archived again by the "
            f"next run ({result})"
        )
    return result
