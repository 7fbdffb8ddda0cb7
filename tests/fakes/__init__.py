"""Local fakes of outside services, speaking their real wire protocols."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
