"""Backups of the store: dump, prove by restoring, keep the last N, restore for operators."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path

import bson
import pytest
from bson import Binary, Int64, ObjectId
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.backup import (
    LATEST_GOOD,
    BackupVerificationError,
    RestoreRefused,
    backup_database,
    latest_good,
    mark_latest_good,
    replace_from_backup,
    restore_backup,
    verify_backup,
)
from ta_scheduler.storage.mongo import ensure_indexes

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
PROJECT_DIR = Path(__file__).resolve().parents[2]


def _seed(db):
    ensure_indexes(db, [C.STOCK_DAILY_QUOTES, C.STOCK_NEWS, C.MARKET_QUOTES])
    db[C.STOCK_DAILY_QUOTES].insert_many([
        {"symbol": f"{600000 + i:06d}", "trade_date": f"2026-11-{d:02d}", "data_source": "demo", "period": "daily",
         "close": 10.5 + i, "volume": Int64(10**10 + i),
         "updated_at": dt.datetime(2026, 11, d, 8, 30, 0, 123000, tzinfo=UTC)}
        for i in range(20) for d in (26, 27)
    ])
    db[C.STOCK_NEWS].insert_many([
        {"news_id": f"n{i}", "title": "平安银行 年报", "symbols": ["000001", "600000"], "score": None,
         "publish_time": dt.datetime(2026, 11, 27, i, tzinfo=UTC), "meta": {"z": 1, "a": {"nested": [1, 2.5]}},
         "raw": Binary(bytes(range(16)))}
        for i in range(10)
    ])
    db[C.MARKET_QUOTES].insert_one({"code": "600000", "price": 10.2, "ref": ObjectId()})
    db.create_collection("empty_but_indexed")
    db["empty_but_indexed"].create_index([("k", 1), ("t", -1)], unique=True, name="uniq_k_t")


def _snapshot(db):
    return {n: (sorted(db[n].find(), key=lambda d: str(d["_id"])),
                sorted((dict(i) for i in db[n].list_indexes()), key=lambda i: i["name"]))
            for n in sorted(db.list_collection_names())}


def test_backup_is_verified_marked_and_restores_every_collection_exactly(mongo_db, tmp_path):
    _seed(mongo_db)
    before = _snapshot(mongo_db)
    result = backup_database(mongo_db, tmp_path, keep=3, now=NOW)
    backup_dir = Path(result["backup_dir"])
    assert result["verified"] and latest_good(tmp_path) == backup_dir
    assert result["collections"] == {C.MARKET_QUOTES: 1, C.STOCK_DAILY_QUOTES: 40, C.STOCK_NEWS: 10,
                                     "empty_but_indexed": 0}
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["collections"][C.STOCK_NEWS]["count"] == 10
    assert len(manifest["collections"][C.STOCK_NEWS]["file_sha256"]) == 64
    assert mongo_db.name + "_verify" not in " ".join(mongo_db.client.list_database_names())  # scratch dropped

    for name in mongo_db.list_collection_names():
        mongo_db.drop_collection(name)
    restored = restore_backup(mongo_db.client, backup_dir, mongo_db.name)
    assert restored["documents"] == 51
    assert _snapshot(mongo_db) == before


def test_restore_refuses_to_overwrite_and_replace_does_it(mongo_db, tmp_path):
    _seed(mongo_db)
    backup_dir = Path(backup_database(mongo_db, tmp_path, now=NOW)["backup_dir"])
    mongo_db[C.STOCK_NEWS].insert_one({"news_id": "added after the backup"})
    with pytest.raises(RestoreRefused, match="--replace --confirm"):
        restore_backup(mongo_db.client, backup_dir, mongo_db.name)
    replace_from_backup(mongo_db.client, backup_dir, mongo_db.name, pre_restore_root=tmp_path / "pre", now=NOW)
    assert mongo_db[C.STOCK_NEWS].count_documents({}) == 10


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_corrupted_backup_file_fails_verification_and_is_never_latest_good(mongo_db, tmp_path):
    _seed(mongo_db)
    good = Path(backup_database(mongo_db, tmp_path, now=NOW)["backup_dir"])
    bad = Path(backup_database(mongo_db, tmp_path, now=NOW + dt.timedelta(hours=1), verify=False)["backup_dir"])
    _truncate(bad / f"{C.STOCK_DAILY_QUOTES}.bson.gz")

    with pytest.raises(BackupVerificationError, match=f"{C.STOCK_DAILY_QUOTES}.bson.gz"):
        verify_backup(mongo_db.client, bad, mongo_db.name + "_scratch")
    with pytest.raises(BackupVerificationError, match="not verified"):
        mark_latest_good(tmp_path, bad)
    assert (tmp_path / LATEST_GOOD).read_text().strip() == good.name


def test_backup_whose_content_differs_from_its_manifest_fails_after_restore(mongo_db, tmp_path):
    """A file rewritten consistently with its recorded sha256 but missing a document."""
    _seed(mongo_db)
    bad = Path(backup_database(mongo_db, tmp_path, now=NOW, verify=False)["backup_dir"])
    path = bad / f"{C.STOCK_NEWS}.bson.gz"
    with gzip.open(path) as f:
        docs = list(bson.decode_file_iter(f))
    with gzip.open(path, "wb") as f:
        for doc in docs[1:]:
            f.write(bson.encode(doc))
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["collections"][C.STOCK_NEWS]["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (bad / "manifest.json").write_text(json.dumps(manifest))

    scratch = mongo_db.name + "_scratch"
    with pytest.raises(BackupVerificationError, match="9 documents"):
        verify_backup(mongo_db.client, bad, scratch)
    assert scratch not in mongo_db.client.list_database_names()
    assert latest_good(tmp_path) is None


def test_only_the_last_n_backups_are_kept(mongo_db, tmp_path):
    mongo_db[C.PORTFOLIOS].insert_one({"portfolio_id": "p1"})
    names = [Path(backup_database(mongo_db, tmp_path, keep=2, now=NOW + dt.timedelta(days=i))["backup_dir"]).name
             for i in range(4)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == names[-2:]
    assert latest_good(tmp_path).name == names[-1]


def test_restore_command_restores_the_latest_good_backup(mongo_db, tmp_path):
    _seed(mongo_db)
    backup_database(mongo_db, tmp_path, now=NOW)
    target = mongo_db.name + "_restored"
    cmd = [str(PROJECT_DIR / "scripts" / "restore-backup"), str(tmp_path), "--target-db", target]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["collections"][C.STOCK_DAILY_QUOTES] == 40
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert again.returncode == 1 and "--replace --confirm" in again.stderr
    finally:
        mongo_db.client.drop_database(target)
