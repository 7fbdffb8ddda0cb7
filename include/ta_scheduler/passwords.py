"""Passwords for Airflow's SimpleAuthManager users, kept in a file that is never committed.

    python -m ta_scheduler.passwords FILE          # add a random password for any missing user
    python -m ta_scheduler.passwords --show FILE   # print "user / password (role)" for the login hint

Users and roles come from ``[core] simple_auth_manager_users`` (env
``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``, default ``admin:admin,viewer:viewer``). Existing
passwords are kept, so operators can edit the file (the api-server re-reads it at each login).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from ta_scheduler.atomic_files import write_json_atomic

DEFAULT_USERS = "admin:admin,viewer:viewer"


def configured_users() -> list[tuple[str, str]]:
    from ta_scheduler.config import simple_auth_users

    raw = simple_auth_users() or DEFAULT_USERS
    users = []
    for item in raw.split(","):
        name, _, role = item.strip().partition(":")
        if name:
            users.append((name, role.split(":")[0] or "viewer"))
    return users


def ensure_passwords(path: Path) -> dict[str, str]:
    """Create/extend the JSON password file (mode 0600) and return its contents."""
    current: dict[str, str] = {}
    if path.exists() and path.read_text().strip():
        current = json.loads(path.read_text())
    changed = False
    for name, _role in configured_users():
        if name not in current:
            current[name] = secrets.token_urlsafe(12)
            changed = True
    if changed or not path.exists():
        write_json_atomic(path, current, indent=2, mode=0o600)
    return current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args(argv)
    passwords = ensure_passwords(args.path)
    if args.show:
        print(", ".join(f"{u} / {passwords[u]} ({role})" for u, role in configured_users()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
