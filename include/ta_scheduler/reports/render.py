"""One report, two renderings: a self-contained HTML page and a Markdown summary.

A report is a list of blocks (:class:`Metrics`, :class:`Table`, :class:`Chart`, …) grouped
into :class:`Section` s; the layout of both renderings is in ``ta_scheduler/templates/report.*.j2``
(one macro per block ``kind``). The HTML embeds every chart as a base64 PNG ``data:`` URI and carries
its own CSS, so the file opens offline in any browser and survives being emailed as an
attachment. The Markdown has the same sections, figures and tables, without the charts.
Formatting helpers turn store units into display text: percent values with a sign, amounts
in 亿元 (1e8 yuan), ``—`` for a missing value.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ta_scheduler.templates import render


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def fmt_pct(x: float | None, digits: int = 2, *, signed: bool = True) -> str:
    """A value already in percent (``1.5`` → ``+1.50%``)."""
    if _missing(x):
        return "—"
    return f"{x:+.{digits}f}%" if signed else f"{x:.{digits}f}%"


#: What a figure shows instead of a number when a day of its window is not complete.
INCOMPLETE = "窗口不完整"


def fmt_frac(x: float | None, digits: int = 2, *, signed: bool = True) -> str:
    """A fraction shown as percent (``0.015`` → ``+1.50%``)."""
    return "—" if _missing(x) else fmt_pct(x * 100, digits, signed=signed)


def fmt_yi(yuan: float | None, digits: int = 2) -> str:
    """An amount in yuan shown in 亿元 (hundred millions)."""
    return "—" if _missing(yuan) else f"{yuan / 1e8:,.{digits}f} 亿"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if _missing(x):
        return "—"
    if isinstance(x, int) or (isinstance(x, float) and digits == 0):
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def sign_class(x: float | None) -> str:
    if _missing(x) or x == 0:
        return "flat"
    return "up" if x > 0 else "down"


@dataclass
class Metric:
    label: str
    value: str
    tone: str = "flat"  # up | down | flat: red, green, grey


@dataclass
class Metrics:
    kind: ClassVar[str] = "metrics"
    items: list[Metric]


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    columns: list[str]
    rows: list[list[str]]
    tones: list[list[str]] | None = None  # per cell: up | down | flat | ""
    caption: str = ""


@dataclass
class Chart:
    kind: ClassVar[str] = "chart"
    png: bytes
    alt: str
    caption: str = ""

    @property
    def png_base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


@dataclass
class Text:
    kind: ClassVar[str] = "text"
    text: str


@dataclass
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: list[str]


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)


BLOCKS = (Metrics, Table, Chart, Text, Bullets)


def _context(title: str, subtitle: str, sections: Sequence[Section], footer: str) -> dict:
    for s in sections:
        for b in s.blocks:
            if not isinstance(b, BLOCKS):
                raise TypeError(f"unknown report block {type(b).__name__}")
    return {"title": title, "subtitle": subtitle, "sections": sections, "footer": footer}


def render_html(title: str, subtitle: str, sections: Sequence[Section], footer: str = "") -> str:
    """The self-contained HTML page (``templates/report.html.j2``: inline CSS, charts as data URIs)."""
    return render("report.html.j2", **_context(title, subtitle, sections, footer))


def render_markdown(title: str, subtitle: str, sections: Sequence[Section], footer: str = "") -> str:
    """The Markdown summary (``templates/report.md.j2``): same sections, figures and tables, charts left out."""
    return render("report.md.j2", **_context(title, subtitle, sections, footer))
