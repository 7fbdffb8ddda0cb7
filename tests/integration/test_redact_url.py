"""``redact_url``: no credentials ever survive, and it never raises (replica sets, odd passwords)."""

from __future__ import annotations

import pytest
from ta_scheduler.config import MongoTarget, redact_url

CASES = [
    ("mongodb://u:p@h1,h2/db?replicaSet=rs0", "mongodb://h1,h2/db"),
    ("mongodb://app:s3cret@m1:27017,m2:27018,m3:27019/tradingagents?replicaSet=rs0&authSource=admin",
     "mongodb://m1:27017,m2:27018,m3:27019/tradingagents"),
    ("mongodb://u:p@ss/w?rd#x@host:27017/db", "mongodb://host:27017/db"),
    ("mongodb://u:pa:ss@[::1]:27017/", "mongodb://[::1]:27017/"),
    ("mongodb://user:p%40ss@host/db", "mongodb://host/db"),
    ("mongodb+srv://u:p@cluster0.example.net/db?retryWrites=true", "mongodb+srv://cluster0.example.net/db"),
    ("redis://:hunter2@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("redis://127.0.0.1:notaport/0", "redis://127.0.0.1:notaport/0"),
    ("postgresql://airflow:pw@db:5432/airflow", "postgresql://db:5432/airflow"),
    ("http://[::1", "http://[::1"),
    ("u:secret@host", "host"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize("secret", ["s3cret", "hunter2", "p@ss/w?rd#x", "pa:ss", "p%40ss"])
def test_no_password_survives(secret):
    urls = [url for url, _ in CASES if f":{secret}@" in url]
    assert urls
    assert [u for u in urls if secret in redact_url(u) or "@" in redact_url(u)] == []


def test_not_a_string_is_not_an_error():
    assert redact_url(None) == "None"
    assert redact_url(b"mongodb://u:p@h/db") == "b'mongodb://h/db'"
    assert MongoTarget("mongodb://u:p@h1,h2/db?replicaSet=rs0", "db", "test").redacted_uri == "mongodb://h1,h2/db"
