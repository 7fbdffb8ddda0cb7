"""The Jinja templates of the report pages and the alert bodies, and the one environment that renders them.

Templates live beside this module and ship as package data (``pyproject.toml``). Autoescape is on
for ``*.html.j2`` (every value is HTML-escaped unless it is :class:`markupsafe.Markup`) and off for
the Markdown and plain-text templates, whose readers show the characters as they are.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    """The shared environment (built once per process; undefined names raise)."""
    env = Environment(
        loader=PackageLoader("ta_scheduler", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals["zip"] = zip
    env.filters["md_cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    return env


def render(name: str, **context: Any) -> str:
    """Render template ``name`` (e.g. ``"report.html.j2"``) with ``context``."""
    return environment().get_template(name).render(**context)
