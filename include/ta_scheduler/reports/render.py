"""One report, two renderings: a self-contained HTML page and a Markdown summary.

A report is a list of blocks (:class:`Metrics`, :class:`Table`, :class:`Chart`, …) grouped
into :class:`Section` s. The HTML embeds every chart as a base64 PNG ``data:`` URI and carries
its own CSS, so the file opens offline in any browser and survives being emailed as an
attachment. The Markdown has the same sections, figures and tables, without the charts.
Formatting helpers turn store units into display text: percent values with a sign, amounts
in 亿元 (1e8 yuan), ``—`` for a missing value.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def fmt_pct(x: float | None, digits: int = 2, *, signed: bool = True) -> str:
    """A value already in percent (``1.5`` → ``+1.50%``)."""
    if _missing(x):
        return "—"
    return f"{x:+.{digits}f}%" if signed else f"{x:.{digits}f}%"


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
    items: list[Metric]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    tones: list[list[str]] | None = None  # per cell: up | down | flat | ""
    caption: str = ""


@dataclass
class Chart:
    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Text:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)


CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans CJK JP","PingFang SC","Microsoft YaHei",sans-serif;
margin:0;background:#f4f6f8;color:#1f2933}
main{max-width:1100px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:26px} header p{margin:0;color:#52606d}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:18px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:19px;margin:0 0 12px;border-left:4px solid #1d4e89;padding-left:8px}
.metrics{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.metric{flex:1 1 150px;background:#f8fafc;border:1px solid #e4e7eb;border-radius:6px;padding:8px 12px}
.metric .label{font-size:12px;color:#616e7c}.metric .value{font-size:20px;font-weight:600}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}
th,td{border-bottom:1px solid #e4e7eb;padding:5px 8px;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
th{background:#f0f4f8} caption{caption-side:top;text-align:left;color:#52606d;padding:4px 0}
.up{color:#d9363e}.down{color:#2b9348}.flat{color:#52606d}
figure{margin:10px 0} figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#616e7c} footer{font-size:12px;color:#7b8794;margin-top:24px}
"""


def _html_block(block) -> str:
    e = html.escape
    if isinstance(block, Metrics):
        cards = "".join(
            f'<div class="metric"><div class="label">{e(m.label)}</div><div class="value {m.tone}">{e(m.value)}</div></div>'
            for m in block.items
        )
        return f'<div class="metrics">{cards}</div>'
    if isinstance(block, Table):
        head = "".join(f"<th>{e(c)}</th>" for c in block.columns)
        body = []
        for i, row in enumerate(block.rows):
            tones = block.tones[i] if block.tones else [""] * len(row)
            body.append("<tr>" + "".join(f'<td class="{t}">{e(v)}</td>' if t else f"<td>{e(v)}</td>" for v, t in zip(row, tones)) + "</tr>")
        cap = f"<caption>{e(block.caption)}</caption>" if block.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if isinstance(block, Chart):
        data = base64.b64encode(block.png).decode("ascii")
        cap = f"<figcaption>{e(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img alt="{e(block.alt)}" src="data:image/png;base64,{data}">{cap}</figure>'
    if isinstance(block, Text):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + "</ul>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(title: str, subtitle: str, sections: Sequence[Section], footer: str = "") -> str:
    """The self-contained HTML page (inline CSS, charts as data URIs, no external resources)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>",
    ]
    for s in sections:
        parts.append(f"<section><h2>{e(s.title)}</h2>{''.join(_html_block(b) for b in s.blocks)}</section>")
    if footer:
        parts.append(f"<footer>{e(footer)}</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _md_cell(v: str) -> str:
    return v.replace("|", "\\|").replace("\n", " ")


def _md_block(block) -> str:
    if isinstance(block, Metrics):
        return "\n".join(f"- **{m.label}**: {m.value}" for m in block.items)
    if isinstance(block, Table):
        lines = [f"*{block.caption}*", ""] if block.caption else []
        lines.append("| " + " | ".join(_md_cell(c) for c in block.columns) + " |")
        lines.append("|" + "|".join("---" for _ in block.columns) + "|")
        lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, Chart):
        return ""  # charts live in the HTML report
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(title: str, subtitle: str, sections: Sequence[Section], footer: str = "") -> str:
    """The Markdown summary: same sections, figures and tables, charts left out."""
    out = [f"# {title}", "", subtitle, ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            text = _md_block(b)
            if text:
                out += [text, ""]
    if footer:
        out += ["---", footer, ""]
    return "\n".join(out)
