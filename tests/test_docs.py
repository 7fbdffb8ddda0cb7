"""Docs the code does not contradict: what README and the DAG docs quote from the code."""

from __future__ import annotations

from paths import PROJECT_DIR

README = PROJECT_DIR / "README.md"


def test_limits_the_daily_sync_docs_quote_are_the_codes():
    from ta_scheduler.config import DEFAULT_MAX_BACKFILL_SESSIONS
    from ta_scheduler.waits.vendor import DEFAULT_DEADLINE

    doc = (PROJECT_DIR / "dags" / "daily_sync.py").read_text(encoding="utf-8")
    assert f"`TA_MAX_BACKFILL_SESSIONS` trading days a run, {DEFAULT_MAX_BACKFILL_SESSIONS} by default" in doc
    assert f"(default {DEFAULT_DEADLINE})" in doc


def test_readme_layout_names_every_test_folder():
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):text.index("## Troubleshooting")]
    folders = sorted(p.name for p in (PROJECT_DIR / "tests").iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    assert [f for f in folders if f"{f}/" not in layout] == []
