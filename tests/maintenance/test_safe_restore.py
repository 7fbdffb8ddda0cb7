"""Replacing live data from a backup cannot lose it: a pre-restore backup first, staging and
verification, then a swap that is undone on failure. A corrupt data file, an unverified backup, or
a failure injected while staging or in the middle of the swap leaves the live database byte for
byte as it was."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from bson import Int64
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance import backup as backup_module
from ta_scheduler.maintenance.backup import (
    BackupVerificationError,
    RestoreRefused,
    backup_database,
    replace_from_backup,
    restore_backup,
)
from ta_scheduler.storage import writes
from ta_scheduler.storage.mongo import ensure_indexes

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
LATER = NOW + dt.timedelta(hours=2)
PROJECT_DIR = Path(__file__).resolve().parents[2]


def _seed(db, n: int = 30):
    ensure_indexes(db, [C.STOCK_DAILY_QUOTES, C.STOCK_NEWS])
    db[C.STOCK_DAILY_QUOTES].insert_many([
        {"symbol": f"{600000 + i:06d}", "trade_date": "2026-11-27", "data_source": "demo", "period": "daily",
         "close": 10.5 + i, "volume": Int64(10**10 + i), "updated_at": dt.datetime(2026, 11, 27, 8, 30, tzinfo=UTC)}
        for i in range(n)
    ])
    db[C.STOCK_NEWS].insert_many([{"news_id": f"n{i}", "title": "平安银行", "symbols": ["000001"]} for i in range(5)])
    db["portfolios"].insert_one({"portfolio_id": "p1", "holdings": [{"code": "600519", "weight": 0.5}]})


def _raw_state(db) -> dict:
    """Every collection: its documents' raw BSON bytes (by _id) and its index definitions."""
    raw = backup_module._raw_coll
    return {
        name: (sorted(doc.raw for doc in raw(db, name).find()), backup_module._index_specs(db, name))
        for name in sorted(db.list_collection_names())
    }


@pytest.fixture
def live(mongo_db, tmp_path):
    """A live database with a verified backup, then changed after it (what a restore would undo)."""
    _seed(mongo_db)
    backup_dir = Path(backup_database(mongo_db, tmp_path / "backups", now=NOW)["backup_dir"])
    backed_up = _raw_state(mongo_db)
    mongo_db[C.STOCK_NEWS].insert_one({"news_id": "after the backup"})
    mongo_db[C.STOCK_DAILY_QUOTES].delete_one({"symbol": "600003"})
    mongo_db["scratchpad"].insert_one({"note": "not in the backup"})
    return mongo_db, backup_dir, backed_up, _raw_state(mongo_db)


def _no_leftovers(db):
    assert [n for n in db.list_collection_names() if n.startswith(("_restore_", "_prerestore_"))] == []


def test_replace_restores_the_backup_after_a_pre_restore_backup(live, tmp_path):
    db, backup_dir, backed_up, before = live
    result = replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER)

    after = _raw_state(db)
    assert after == {**backed_up, "scratchpad": before["scratchpad"]}  # collections not in the backup stay
    _no_leftovers(db)
    # the pre-restore backup holds the live data as it was just before
    copy = db.name + "_pre"
    try:
        restore_backup(db.client, result["pre_restore_backup"], copy)
        assert _raw_state(db.client[copy]) == before
    finally:
        db.client.drop_database(copy)


def _rewrite(path: Path, data: bytes, backup_dir: Path, coll: str) -> None:
    """Replace a data file and record its new sha256 in the manifest (a file that passes the
    checksum check and fails only when read)."""
    path.write_bytes(data)
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    manifest["collections"][coll]["file_sha256"] = hashlib.sha256(data).hexdigest()
    (backup_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("how", ["truncated", "garbage-with-matching-sha", "missing-document-with-matching-sha"])
def test_a_corrupt_data_file_leaves_the_live_database_byte_for_byte(live, tmp_path, how):
    db, backup_dir, _, before = live
    path = backup_dir / f"{C.STOCK_NEWS}.bson.gz"
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif how == "garbage-with-matching-sha":
        _rewrite(path, gzip.compress(b"\x30\x00\x00\x00not bson at all" * 8), backup_dir, C.STOCK_NEWS)
    else:
        with gzip.open(path) as f:
            data = f.read()
        first_len = int.from_bytes(data[:4], "little")
        _rewrite(path, gzip.compress(data[first_len:]), backup_dir, C.STOCK_NEWS)

    with pytest.raises((BackupVerificationError, RestoreRefused)):
        replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER,
                            force_unverified=True)
    assert _raw_state(db) == before
    _no_leftovers(db)


def test_an_unverified_backup_is_refused_unless_forced(live, tmp_path):
    db, backup_dir, backed_up, before = live
    (backup_dir / "verification.json").unlink()
    with pytest.raises(RestoreRefused, match="never verified"):
        replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER)
    assert _raw_state(db) == before
    replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER,
                        force_unverified=True)
    assert _raw_state(db) == {**backed_up, "scratchpad": before["scratchpad"]}


def test_a_failure_while_staging_leaves_the_live_database_byte_for_byte(live, tmp_path, monkeypatch):
    db, backup_dir, _, before = live
    real, calls = backup_module._iter_file, []

    def failing(path):
        if path.parent == backup_dir:  # not the pre-restore backup's own verification
            calls.append(path)
        if path.parent == backup_dir and path.name == f"{C.STOCK_DAILY_QUOTES}.bson.gz":  # after 2 documents
            for i, raw in enumerate(real(path)):
                if i == 2:
                    raise OSError("disk read error (injected)")
                yield raw
        else:
            yield from real(path)

    monkeypatch.setattr(backup_module, "_iter_file", failing)
    with pytest.raises(BackupVerificationError, match="injected"):
        replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER)
    assert [p.name for p in calls] == ["portfolios.bson.gz", f"{C.STOCK_DAILY_QUOTES}.bson.gz"]  # failed in the 2nd
    assert _raw_state(db) == before
    _no_leftovers(db)


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5])
def test_a_failure_in_the_middle_of_the_swap_is_undone(live, tmp_path, monkeypatch, fail_at):
    """The swap renames 2 collections per backup collection; fail at each of the first renames."""
    db, backup_dir, _, before = live
    real, calls = writes.rename_collection, []

    def failing(database, old, new):
        calls.append((old, new))
        if len(calls) == fail_at:
            raise ConnectionError("connection lost (injected)")
        real(database, old, new)

    monkeypatch.setattr(writes, "rename_collection", failing)
    with pytest.raises(ConnectionError, match="injected"):
        replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER)
    assert _raw_state(db) == before
    _no_leftovers(db)


def test_leftovers_of_an_interrupted_replace_are_refused(live, tmp_path):
    db, backup_dir, _, _ = live
    db["_prerestore_20261129t170000z_stock_news"].insert_one({"x": 1})
    with pytest.raises(RestoreRefused, match="interrupted restore"):
        replace_from_backup(db.client, backup_dir, db.name, pre_restore_root=tmp_path / "pre", now=LATER)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROJECT_DIR / "scripts" / "restore-backup"), *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def test_the_command_needs_a_target_or_a_typed_confirmation(live, tmp_path):
    db, backup_dir, backed_up, before = live
    env_uri = os.environ.get("MONGO_URI")
    assert env_uri and env_uri.endswith("/" + db.name)  # the command's store is this test's database
    no_target = _cli(str(backup_dir))
    assert no_target.returncode == 2 and f"--replace --confirm {db.name}" in no_target.stderr
    wrong = _cli(str(backup_dir), "--replace", "--confirm", "tradingagents")
    assert wrong.returncode == 2 and f"needs --confirm {db.name}" in wrong.stderr
    assert _raw_state(db) == before
    done = _cli(str(backup_dir.parent), "--replace", "--confirm", db.name, "--pre-restore-dir", str(tmp_path / "pre"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pre_restore_backup"].startswith(str(tmp_path / "pre"))
    assert _raw_state(db) == {**backed_up, "scratchpad": before["scratchpad"]}
