"""Archiving old Airflow task logs: verified before the originals go, safe to re-run."""

from __future__ import annotations

import datetime as dt
import json
import os
import tarfile
from pathlib import Path

import pytest
from ta_scheduler.maintenance.log_archive import ArchiveVerificationError, archive_logs, verify_archive

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def _log(log_dir: Path, run: str, task: str, attempt: int, days_old: float, text: str | None = None) -> Path:
    path = log_dir / "dag_id=daily_sync" / f"run_id={run}" / f"task_id={task}" / f"attempt={attempt}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or f"{run} {task} {attempt}\n" * 50)
    ts = (NOW - dt.timedelta(days=days_old)).timestamp()
    os.utime(path, (ts, ts))
    return path


@pytest.fixture
def dirs(tmp_path):
    log_dir, archive_dir = tmp_path / "logs", tmp_path / "archive"
    log_dir.mkdir()
    return log_dir, archive_dir


def _contents(paths, log_dir):
    return {p.relative_to(log_dir).as_posix(): p.read_bytes() for p in paths}


def test_old_logs_are_archived_per_day_verified_and_removed(dirs):
    log_dir, archive_dir = dirs
    old = [_log(log_dir, "r1", "fetch", 1, 40), _log(log_dir, "r1", "fetch", 2, 40),
           _log(log_dir, "r2", "upsert", 1, 35)]
    recent = _log(log_dir, "r3", "fetch", 1, 2)
    expected = _contents(old, log_dir)

    result = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)

    assert result["archived_files"] == 3 and result["deleted"] == 3
    assert sorted(result["parts"]) == ["logs-2026-10-20-001.tar.gz", "logs-2026-10-25-001.tar.gz"]
    assert not any(p.exists() for p in old) and recent.exists()
    assert not (log_dir / "dag_id=daily_sync" / "run_id=r1").exists()  # emptied folders pruned
    archived = {}
    for part in result["parts"]:
        manifest = verify_archive(archive_dir / part)
        with tarfile.open(archive_dir / part) as tar:
            for m in tar:
                archived[m.name] = tar.extractfile(m).read()
        assert {f["path"] for f in manifest["files"]} <= set(expected)
    assert archived == expected


def test_rerun_is_a_no_op_and_a_later_file_of_the_same_day_goes_to_a_new_part(dirs):
    log_dir, archive_dir = dirs
    _log(log_dir, "r1", "fetch", 1, 40)
    archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    first = archive_dir / "logs-2026-10-20-001.tar.gz"
    first_bytes = first.read_bytes()

    again = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    assert again["parts"] == [] and again["deleted"] == 0

    late = _log(log_dir, "r1", "fetch", 2, 40)
    third = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    assert third["parts"] == ["logs-2026-10-20-002.tar.gz"] and not late.exists()
    assert first.read_bytes() == first_bytes
    assert [f["path"] for f in verify_archive(archive_dir / third["parts"][0])["files"]] == [
        "dag_id=daily_sync/run_id=r1/task_id=fetch/attempt=2.log"]


def test_originals_left_by_a_crash_after_commit_are_deleted_without_rearchiving(dirs):
    log_dir, archive_dir = dirs
    path = _log(log_dir, "r1", "fetch", 1, 40)
    content = path.read_bytes()
    archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    restored = _log(log_dir, "r1", "fetch", 1, 40, text=content.decode())  # as if never deleted

    result = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    assert result["parts"] == [] and result["deleted"] == 1 and not restored.exists()
    assert sorted(p.name for p in archive_dir.iterdir()) == ["logs-2026-10-20-001.manifest.json",
                                                             "logs-2026-10-20-001.tar.gz"]


def test_truncated_archive_fails_verification(dirs):
    log_dir, archive_dir = dirs
    for i in range(5):
        _log(log_dir, f"r{i}", "fetch", 1, 40, text=os.urandom(20000).hex())
    part = archive_dir / archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)["parts"][0]
    manifest = json.loads((archive_dir / "logs-2026-10-20-001.manifest.json").read_text())
    manifest.pop("archive_sha256")  # make the member-by-member check do the work
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveVerificationError, match="unreadable|missing"):
        verify_archive(part, manifest)


def test_corrupted_part_is_caught_and_its_originals_kept(dirs):
    log_dir, archive_dir = dirs
    path = _log(log_dir, "r1", "fetch", 1, 40)
    content = path.read_bytes()
    part = archive_dir / archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)["parts"][0]
    _log(log_dir, "r1", "fetch", 1, 40, text=content.decode())  # original still there (crash before delete)
    data = part.read_bytes()
    part.write_bytes(data[: len(data) - 40])  # truncated

    with pytest.raises(ArchiveVerificationError, match="logs-2026-10-20-001.tar.gz"):
        archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    assert path.read_bytes() == content
    assert (archive_dir / "logs-2026-10-20-001.tar.gz.corrupt").exists()

    result = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)  # next run re-archives
    assert result["parts"] == ["logs-2026-10-20-002.tar.gz"] and not path.exists()
    with tarfile.open(archive_dir / "logs-2026-10-20-002.tar.gz") as tar:
        assert tar.extractfile(tar.getmembers()[0]).read() == content


def test_part_without_manifest_from_an_interrupted_run_is_discarded(dirs):
    log_dir, archive_dir = dirs
    path = _log(log_dir, "r1", "fetch", 1, 40)
    archive_dir.mkdir()
    (archive_dir / "logs-2026-10-20-001.tar.gz").write_bytes(b"half written")
    (archive_dir / "logs-2026-10-20-002.tar.gz.tmp").write_bytes(b"half written")
    result = archive_logs(log_dir, archive_dir, older_than_days=30, now=NOW)
    assert result["parts"] == ["logs-2026-10-20-001.tar.gz"] and not path.exists()
    verify_archive(archive_dir / "logs-2026-10-20-001.tar.gz")
    assert not (archive_dir / "logs-2026-10-20-002.tar.gz.tmp").exists()
