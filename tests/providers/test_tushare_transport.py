"""The tushare token's transport: a plain-HTTP endpoint beyond this machine is called out in the log."""

from __future__ import annotations

import logging

import pytest
from ta_scheduler.providers.tushare_pro import DEFAULT_URL, TushareProvider, warn_if_plain_http


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        (DEFAULT_URL, True),
        ("http://api.tushare.pro", True),
        ("https://tushare-proxy.example.com/dataapi", False),
        ("http://127.0.0.1:8999/dataapi", False),
        ("http://localhost/dataapi", False),
        ("http://[::1", False),
    ],
)
def test_plain_http_beyond_localhost_is_warned(url, warned):
    assert warn_if_plain_http(url) is warned


def test_the_provider_warns_about_the_default_endpoint_without_logging_the_token(caplog):
    with caplog.at_level(logging.WARNING, logger="ta_scheduler.providers.tushare_pro"):
        TushareProvider("SECRET-TOKEN-123", DEFAULT_URL)
    assert not [r for r in caplog.records if "SECRET-TOKEN-123" in r.getMessage()]
    # ours only: the first test of a process to resolve a connection also hears Airflow's secrets
    # masker ("Skipping masking for a secret as it's too short")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("ta_scheduler")]
    assert messages == ["tushare: http://api.waditu.com is plain HTTP; the token is sent unencrypted with every "
                        "request (set TUSHARE_API_URL to an https:// endpoint you trust to avoid it)"]
