"""Local fakes of outside services, speaking their real wire protocols."""

import os
import socket

#: The token the fakes accept and the tests send. Each pytest-xdist worker has its own, so the
#: rate limiter's Redis keys (``ta:tushare:<token hash>:*``) of one worker's tests are never
#: another's, and a worker clearing its keys between tests leaves the other's running test alone
#: (a test wanting counts of its own uses a token made for it).
TEST_TOKEN = "TESTTOKEN" + os.environ.get("PYTEST_XDIST_WORKER", "")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
