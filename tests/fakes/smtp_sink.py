"""A local SMTP server (aiosmtpd) that keeps every message it receives, for delivery tests.

    with SmtpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", sink.airflow_connection(to=["ops@example.com"]))
        ...
        msg = sink.wait_for(1)[0]          # email.message.EmailMessage

Plain SMTP on 127.0.0.1 (no TLS, no auth): the connection JSON sets ``disable_tls`` and
``disable_ssl``. ``port`` is chosen free at start.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage

from fakes import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.sink._lock:
            self.sink.messages.append(msg)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on 127.0.0.1 collecting messages in ``messages`` (parsed, newest last)."""

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, data_size_limit=50_000_000)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def airflow_connection(self, to: Sequence[str] = ("ops@example.com",), from_email: str = "reports@example.com") -> str:
        """The ``AIRFLOW_CONN_<ID>`` JSON of an ``smtp`` connection to this server."""
        return airflow_smtp_connection(self.host, self.port, to, from_email)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived (AssertionError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"SMTP sink got {len(self.messages)} message(s), expected {count} within {timeout} s")


def airflow_smtp_connection(host: str, port: int, to: Sequence[str] = ("ops@example.com",), from_email: str = "reports@example.com") -> str:
    """``AIRFLOW_CONN_<ID>`` JSON for a plain (no TLS/SSL) SMTP server, with a short timeout and no retries."""
    return json.dumps({
        "conn_type": "smtp", "host": host, "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": from_email, "to": list(to), "timeout": 5, "retry_limit": 0},
    })
