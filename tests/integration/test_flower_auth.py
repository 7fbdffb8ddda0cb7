"""`make up-cluster`'s Flower listens on 127.0.0.1 only and asks for the generated password
(its task view shows the tasks' Execution-API tokens)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import urllib.error
import urllib.request

from e2e.cluster import wait_until
from fakes import free_port
from paths import PROJECT_DIR


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(addr)
    return found


def _get(url: str, auth: str | None = None) -> int:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def test_flower_is_on_localhost_behind_basic_auth(tmp_path):
    port = free_port()
    env = {**os.environ, "TA_FLOWER_PORT": str(port)}
    env.pop("FLOWER_BASIC_AUTH", None)  # scripts/env.sh sets it, as for `make up-cluster`
    log = open(tmp_path / "flower.log", "wb")
    proc = subprocess.Popen([str(PROJECT_DIR / "scripts" / "airflow"), "celery", "flower", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(lambda: _get(url) != 0 or proc.poll() is not None, 90, "Flower answering")
        assert proc.poll() is None, (tmp_path / "flower.log").read_text()[-3000:]
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        assert _get(url) == 401
        assert _get(url, "flower:wrong") == 401
        secrets_file = os.path.join(os.environ["TA_STATE_DIR"], "secrets.env")
        secrets = dict(line.split("=", 1) for line in open(secrets_file).read().split())
        assert _get(url, f"flower:{secrets['TA_FLOWER_PASSWORD']}") == 200
        cmdline = open(f"/proc/{proc.pid}/cmdline", "rb").read()
        assert secrets["TA_FLOWER_PASSWORD"].encode() not in cmdline
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
