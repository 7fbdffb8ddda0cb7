"""Apply ``airflow_settings.yaml`` (Astro CLI format) to an Airflow metadata DB, idempotently.

    python -m ta_scheduler.settings_loader airflow_settings.yaml [--dry-run]

Creates or updates connections, pools and variables; running it twice changes nothing.
Fields absent from the file are left as they are, so a password set in the UI survives.
``${VAR}`` and ``${VAR:-default}`` are expanded from the environment. The file is translated
into the JSON that Airflow's ``connections`` / ``pools`` / ``variables`` ``import`` commands
read, and those commands write it (see :func:`apply_settings`). Works with any Airflow 3.3
installation (it uses the metadata DB configured for the current process), not only Astro.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ta_scheduler.config import environment_value, sql_alchemy_conn

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


def _parsed(text: Any) -> Any:
    """JSON text decoded (an extra, a variable's value); anything else as it is."""
    try:
        return json.loads(text) if isinstance(text, str) and text else text
    except ValueError:
        return text


def plan_imports(settings: dict[str, list[dict]], current: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """What to import so that the metadata DB holds ``settings`` (pure).

    ``current`` is what Airflow's export commands wrote: ``{"connections": …, "pools": …,
    "variables": …}``. Returns the three import files' contents (only entries that change; a
    connection carries its current fields, so a password set in the UI survives) and one line
    per change.
    """
    changes: list[str] = []
    imports: dict[str, dict] = {"connections": {}, "pools": {}, "variables": {}}
    for item in settings["connections"]:
        conn_id, values = item["conn_id"], _conn_values(item)
        conn = current["connections"].get(conn_id)
        if conn is None:
            changes.append(f"connection {conn_id}: created")
            imports["connections"][conn_id] = values
            continue
        diff = sorted(a for a, v in values.items() if _parsed(conn.get(a)) != _parsed(v))
        if diff:
            changes.append(f"connection {conn_id}: updated {', '.join(diff)}")
            imports["connections"][conn_id] = {**conn, **values}
    for item in settings["pools"]:
        name, slots, desc = item["pool_name"], item["pool_slot"], item.get("pool_description") or ""
        pool = current["pools"].get(name)
        if pool is None or pool["slots"] != slots or (pool.get("description") or "") != desc:
            changes.append(f"pool {name}: {'created' if pool is None else 'updated'} ({slots} slots)")
            imports["pools"][name] = {"slots": slots, "description": desc,
                                      "include_deferred": bool(item.get("include_deferred", False))}
    for item in settings["variables"]:
        key, value = item["variable_name"], item.get("variable_value")
        value = value if isinstance(value, str) else json.dumps(value)  # stored as text: import keeps it as given
        known, now = key in current["variables"], current["variables"].get(key)
        now_value, now_desc = (now["value"], now.get("description")) if isinstance(now, dict) and "value" in now else (now, None)
        if not known or _parsed(now_value) != _parsed(value):
            changes.append(f"variable {key}: {'created' if not known else 'updated'}")
            imports["variables"][key] = {"value": value, "description": item.get("description") or now_desc}
    return imports, changes


def _airflow(*argv: str) -> str:
    """Run one ``airflow`` CLI command in this process; its printed output is returned.

    :raises SettingsError: the command exited with an error
    """
    import contextlib
    import io

    from airflow.cli.cli_parser import get_parser
    from cryptography.fernet import InvalidToken

    out = io.StringIO()
    args = get_parser().parse_args(list(argv))
    try:
        with contextlib.redirect_stdout(out):
            args.func(args)
    except SystemExit as exc:
        raise SettingsError(f"airflow {' '.join(argv[:2])}: {exc} {out.getvalue().strip()}".strip()) from None
    except InvalidToken:
        raise SettingsError(FERNET_MISMATCH.format(db=_metadata_db_name())) from None
    return out.getvalue()


def _metadata_db_name() -> str:
    """The metadata database's name, as Airflow's ``sql_alchemy_conn`` names it."""
    from sqlalchemy.engine import make_url

    return make_url(sql_alchemy_conn() or "postgresql:///airflow").database or "airflow"


FERNET_MISMATCH = (
    "the metadata DB '{db}' holds connections or variables encrypted with another Fernet key than "
    "AIRFLOW__CORE__FERNET_KEY (its secrets.env was made again while the PostgreSQL cluster was kept). "
    "Put the key that made them back into secrets.env, or, to start the metadata afresh (run history "
    "and UI-made connections are lost; the store is not touched): make down, then drop the database "
    "'{db}' of the local PostgreSQL (psql -h 127.0.0.1 -p $TA_PG_PORT -U airflow -d postgres -c "
    "'DROP DATABASE \"{db}\"', password TA_PG_PASSWORD in secrets.env), then make up"
)


def apply_settings(settings: dict[str, list[dict]], *, dry_run: bool = False) -> list[str]:
    """Create/update everything in ``settings``; returns one line per change (empty if none).

    Airflow's own commands do the reading and writing: ``airflow connections export`` /
    ``pools export`` / ``variables export`` give the current state, and ``airflow connections
    import --overwrite`` / ``pools import`` / ``variables import`` write the entries that change.
    They run in this process (the same argparse entry points the ``airflow`` command uses)
    rather than as subprocesses: each ``airflow`` subprocess pays Airflow's import and
    configuration, measured at 8–9 s here for ``airflow pools import`` against the whole loader's
    9 s in one process, and the scripts run the loader on every ``make test`` / ``make up``.
    The files pass through a private temporary directory (mode 0700) that is removed at once.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ta-settings-") as tmp:
        current: dict[str, dict] = {}
        for kind in ("connections", "pools", "variables"):
            path = Path(tmp, f"current-{kind}.json")
            _airflow(kind, "export", str(path))
            current[kind] = json.loads(path.read_text(encoding="utf-8") or "{}")
        imports, changes = plan_imports(settings, current)
        if dry_run:
            return changes
        for kind, extra_args in (("connections", ["--overwrite"]), ("pools", []),
                                 ("variables", ["--action-on-existing-key", "overwrite"])):
            if not imports[kind]:
                continue
            path = Path(tmp, f"import-{kind}.json")
            path.write_text(json.dumps(imports[kind]), encoding="utf-8")
            printed = _airflow(kind, "import", str(path), *extra_args)
            failed = [line for line in printed.splitlines() if line.startswith(("Could not import", "Variable import failed"))]
            if failed:
                raise SettingsError(f"airflow {kind} import: {'; '.join(failed)}")
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default="airflow_settings.yaml")
    parser.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.path)
        changes = apply_settings(settings, dry_run=args.dry_run)
    except (OSError, SettingsError) as exc:
        print(f"settings: {args.path}: {exc}", file=sys.stderr)
        return 2
    prefix = "would apply" if args.dry_run else "applied"
    for line in changes:
        print(f"settings: {prefix}: {line}")
    if not changes:
        print(f"settings: {args.path}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
