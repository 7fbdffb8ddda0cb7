"""Report charts: plain data in, PNG bytes out (matplotlib, Agg canvas, CJK font).

No pyplot: each chart is a ``matplotlib.figure.Figure`` drawn on an Agg canvas, so charts are
thread-safe and leave no global state. Colours follow the A-share convention: **red = up,
green = down**. matplotlib is imported inside the functions (it is heavy; DAG files must not
pay for it).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ta_scheduler.reports.errors import CJKFontMissingError
from ta_scheduler.reports.fonts import chart_rc

if TYPE_CHECKING:
    from matplotlib.figure import Figure

UP = "#d9363e"
DOWN = "#2b9348"
FLAT = "#8d99ae"
LINE = "#1d4e89"
BENCH = "#f08c00"
DPI = 110

_MISSING = re.compile(r"Glyph (\d+) .*missing from font")


def new_figure(width: float, height: float, **subplots) -> tuple[Figure, object]:
    """A figure on an Agg canvas with the report style and CJK font (``subplots`` kwargs pass through)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(chart_rc()):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(**subplots) if subplots else fig.subplots()
    return fig, axes


def figure_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes.

    :raises CJKFontMissingError: a label used a character the font lacks (it would be a box)
    """
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(chart_rc()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    missing = sorted({chr(int(m.group(1))) for w in caught if (m := _MISSING.search(str(w.message)))})
    if missing:
        raise CJKFontMissingError(f"chart font lacks glyphs for {''.join(missing)!r}; set TA_CJK_FONT to a fuller CJK font")
    return buf.getvalue()


def _signed_colours(values: Sequence[float]) -> list[str]:
    return [UP if v > 0 else DOWN if v < 0 else FLAT for v in values]


def index_panels(series: Sequence[tuple[str, Sequence[str], Sequence[float]]]) -> bytes:
    """Close-price lines, one small panel per index: ``[(label, dates, closes), …]`` (≤ 4)."""
    import matplotlib

    with matplotlib.rc_context(chart_rc()):
        fig, axes = new_figure(10, 5.6, nrows=2, ncols=2, squeeze=False)
        for ax, item in zip(axes.flat, list(series) + [None] * (4 - len(series)), strict=False):
            if item is None or not item[1]:
                label = item[0] if item else ""
                ax.set_title(f"{label}（无数据）")
                ax.set_axis_off()
                continue
            label, dates, closes = item
            colour = UP if closes[-1] >= closes[0] else DOWN
            x = range(len(dates))
            ax.plot(x, closes, color=colour, linewidth=1.6)
            ax.fill_between(x, closes, min(closes), color=colour, alpha=0.12)
            ax.set_title(f"{label}  {closes[-1]:,.2f}")
            step = max(len(dates) // 4, 1)
            ax.set_xticks(list(x)[::step], [d[5:] for d in dates][::step])
            ax.grid(alpha=0.3)
        return figure_png(fig)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    unit: str = "",
    horizontal: bool = False,
    colours: Sequence[str] | None = None,
    mean_line: Sequence[float] | None = None,
    mean_label: str = "",
) -> bytes:
    """Bars coloured by sign (red up / green down) unless ``colours`` is given.

    ``mean_line`` (same length as ``values``) draws a line over vertical bars, e.g. a rolling mean.
    """
    import matplotlib

    n = len(values)
    colours = list(colours) if colours is not None else _signed_colours(values)
    with matplotlib.rc_context(chart_rc()):
        if horizontal:
            fig, ax = new_figure(9, max(2.2, 0.32 * n + 1.0))
            y = range(n)
            ax.barh(y, values, color=colours)
            ax.set_yticks(list(y), labels)
            ax.invert_yaxis()
            ax.axvline(0, color="#444", linewidth=0.8)
            ax.set_xlabel(unit)
            ax.grid(axis="x", alpha=0.3)
        else:
            fig, ax = new_figure(10, 3.8)
            x = range(n)
            ax.bar(x, values, color=colours)
            if mean_line is not None:
                ax.plot(x, mean_line, color=LINE, linewidth=1.6, label=mean_label)
                ax.legend(loc="upper left")
            step = max(n // 12, 1)
            ax.set_xticks(list(x)[::step], list(labels)[::step], rotation=0)
            ax.set_ylabel(unit)
            ax.grid(axis="y", alpha=0.3)
        ax.set_title(title)
        return figure_png(fig)


def nav_and_drawdown(
    dates: Sequence[str],
    nav: Sequence[float],
    bench: Sequence[float] | None,
    *,
    title: str,
    bench_label: str,
) -> bytes:
    """NAV vs benchmark (both starting at 1) above the portfolio's drawdown from its running peak (%)."""
    import matplotlib
    import numpy as np

    nav_a = np.asarray(nav, dtype=float)
    peak = np.fmax.accumulate(nav_a)
    dd = (nav_a / peak - 1.0) * 100
    with matplotlib.rc_context(chart_rc()):
        fig, (ax1, ax2) = new_figure(10, 5.4, nrows=2, sharex=True, height_ratios=[2.2, 1])
        x = np.arange(len(dates))
        ax1.plot(x, nav_a, color=LINE, linewidth=1.8, label="组合净值")
        if bench is not None:
            ax1.plot(x, bench, color=BENCH, linewidth=1.4, label=bench_label)
        ax1.axhline(1.0, color="#999", linewidth=0.8, linestyle="--")
        ax1.legend(loc="upper left")
        ax1.set_title(title)
        ax1.grid(alpha=0.3)
        ax2.fill_between(x, dd, 0, color=DOWN, alpha=0.45)
        ax2.plot(x, dd, color=DOWN, linewidth=1.0)
        ax2.set_ylabel("回撤 %")
        ax2.grid(alpha=0.3)
        step = max(len(dates) // 8, 1)
        ax2.set_xticks(list(x)[::step], [d[5:] for d in dates][::step])
        return figure_png(fig)
