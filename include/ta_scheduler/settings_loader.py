"""Apply ``airflow_settings.yaml`` (Astro CLI format) to an Airflow metadata DB, idempotently.

    python -m ta_scheduler.settings_loader airflow_settings.yaml [--dry-run]

Creates or updates connections, pools and variables; running it twice changes nothing.
Fields absent from the file are left as they are, so a password set in the UI survives.
``${VAR}`` and ``${VAR:-default}`` are expanded from the environment. Works with any Airflow
3.3 installation (it uses the metadata DB configured for the current process), not only Astro.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ta_scheduler.config import environment_value

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Astro field name -> Connection attribute
_CONN_FIELDS = {
    "conn_type": "conn_type",
    "conn_host": "host",
    "conn_login": "login",
    "conn_password": "password",
    "conn_schema": "schema",
    "conn_port": "port",
    "description": "description",
}


class SettingsError(ValueError):
    """The settings file is malformed; the message names the entry."""


def expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string of a parsed YAML tree."""
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if (found := environment_value(name)) is not None:
                return found
            if default is None:
                raise SettingsError(f"environment variable {name} is not set and has no default")
            return default

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def load_settings(path: str | Path) -> dict[str, list[dict]]:
    """Parse and validate the file: ``{"connections": [...], "pools": [...], "variables": [...]}``."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    section = expand_env(raw.get("airflow") or {})
    out: dict[str, list[dict]] = {}
    for name, key in (("connections", "conn_id"), ("pools", "pool_name"), ("variables", "variable_name")):
        items = section.get(name) or []
        if not isinstance(items, list):
            raise SettingsError(f"airflow.{name} must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not item.get(key):
                raise SettingsError(f"airflow.{name}[{i}] needs a '{key}'")
        out[name] = items
    for pool in out["pools"]:
        try:
            pool["pool_slot"] = int(pool.get("pool_slot", 1))
        except (TypeError, ValueError):
            raise SettingsError(f"pool {pool['pool_name']}: pool_slot must be an integer") from None
    return out


def _conn_values(item: dict) -> dict[str, Any]:
    values = {attr: item[field] for field, attr in _CONN_FIELDS.items() if item.get(field) not in (None, "")}
    if "port" in values:
        values["port"] = int(values["port"])
    if "conn_extra" in item and item["conn_extra"] is not None:
        extra = item["conn_extra"]
        values["extra"] = extra if isinstance(extra, str) else json.dumps(extra, sort_keys=True)
    return values


def apply_settings(settings: dict[str, list[dict]], *, dry_run: bool = False) -> list[str]:
    """Create/update everything in ``settings``; returns one line per change (empty if none)."""
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    changes: list[str] = []
    with create_session() as session:
        for item in settings["connections"]:
            conn_id = item["conn_id"]
            values = _conn_values(item)
            conn = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
            if conn is None:
                changes.append(f"connection {conn_id}: created")
                if not dry_run:
                    session.add(Connection(conn_id=conn_id, **values))
                continue
            current = {attr: getattr(conn, attr) for attr in values if attr != "extra"}
            if "extra" in values:
                current["extra"] = json.dumps(conn.extra_dejson, sort_keys=True) if conn.extra else None
            diff = sorted(a for a, v in values.items() if current.get(a) != v)
            if diff:
                changes.append(f"connection {conn_id}: updated {', '.join(diff)}")
                if not dry_run:
                    for attr in diff:
                        setattr(conn, attr, values[attr])
        for item in settings["pools"]:
            name, slots = item["pool_name"], item["pool_slot"]
            desc = item.get("pool_description") or ""
            pool = session.query(Pool).filter(Pool.pool == name).one_or_none()
            if pool is None or pool.slots != slots or (pool.description or "") != desc:
                changes.append(f"pool {name}: {'created' if pool is None else 'updated'} ({slots} slots)")
                if not dry_run:
                    Pool.create_or_update_pool(name, slots, desc, bool(item.get("include_deferred", False)), session=session)
        for item in settings["variables"]:
            key, value = item["variable_name"], item.get("variable_value")
            value = value if isinstance(value, str) else json.dumps(value)
            var = session.query(Variable).filter(Variable.key == key).one_or_none()
            if var is None or var.val != value:
                changes.append(f"variable {key}: {'created' if var is None else 'updated'}")
                if not dry_run:
                    if var is None:
                        session.add(Variable(key=key, val=value, description=item.get("description")))
                    else:
                        var.set_val(value)
        if dry_run:
            session.rollback()
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default="airflow_settings.yaml")
    parser.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.path)
    except (OSError, SettingsError) as exc:
        print(f"settings: {args.path}: {exc}", file=sys.stderr)
        return 2
    changes = apply_settings(settings, dry_run=args.dry_run)
    prefix = "would apply" if args.dry_run else "applied"
    for line in changes:
        print(f"settings: {prefix}: {line}")
    if not changes:
        print(f"settings: {args.path}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
