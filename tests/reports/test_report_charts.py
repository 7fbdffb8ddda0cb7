"""Charts draw Chinese text with a real CJK font, and the HTML report renders in a real browser."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
from report_seed import T
from ta_scheduler.reports import charts
from ta_scheduler.reports.daily import build_daily_report
from ta_scheduler.reports.errors import CJKFontMissingError
from ta_scheduler.reports.fonts import find_cjk_font

LABEL = "沪深300 涨跌幅"


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _label_png(family: str | None) -> bytes:
    """A figure holding only LABEL, drawn in ``family`` (None: the report's CJK font)."""
    fig, ax = charts.new_figure(3, 1)
    ax.set_axis_off()
    fig.text(0.05, 0.4, LABEL, fontsize=20, **({"family": family} if family else {}))
    return charts.figure_png(fig)


def test_chart_labels_draw_cjk_glyphs():
    cjk = _pixels(_label_png(None))
    with pytest.raises(CJKFontMissingError, match="lacks glyphs"):
        _label_png("DejaVu Sans")  # no CJK glyphs: rendering it must be refused, not boxed
    ink = (cjk < 128).all(axis=2)
    assert ink.sum() > 500  # the glyphs were drawn, not left blank
    # every Han character has its own ink: more than 7 separate glyph columns
    columns = np.flatnonzero(ink.any(axis=0))
    runs = 1 + int((np.diff(columns) > 1).sum())
    assert runs >= 7


def test_chart_of_chinese_sector_names_renders_without_missing_glyphs():
    png = charts.bar_chart(["银行", "白酒", "半导体"], [1.2, -0.5, 0.3], title="行业平均涨跌幅（%）", unit="%", horizontal=True)
    px = _pixels(png)
    reds = ((px[..., 0] > 200) & (px[..., 1] < 80)).sum()
    greens = ((px[..., 1] > 120) & (px[..., 0] < 80)).sum()
    assert reds > 500 and greens > 200  # up bars red, down bars green


def test_missing_font_fails_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("TA_CJK_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(CJKFontMissingError, match="TA_CJK_FONT=.*none.ttf is not a font file"):
        find_cjk_font()


def _screenshot(html_path, png_path, profile) -> np.ndarray:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed: run scripts/install-deps.sh test"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         f"--screenshot={png_path}", "--window-size=1200,3000", html_path.as_uri()],
        check=True, capture_output=True, timeout=90,
    )
    return _pixels(png_path.read_bytes())


def test_html_report_renders_its_charts_in_chromium(market, reports_dir, tmp_path):
    build_daily_report(market, T)
    html_path = reports_dir / "daily" / f"{T}.html"
    shot = _screenshot(html_path, tmp_path / "report.png", tmp_path / "profile")
    # the same page with the chart images removed: what differs is what the charts drew
    blank = tmp_path / "no-charts.html"
    html = html_path.read_text(encoding="utf-8")
    blank.write_text(html.replace('src="data:image/png;base64,', 'data-x="'), encoding="utf-8")
    without = _screenshot(blank, tmp_path / "no-charts.png", tmp_path / "profile2")

    assert shot.shape == (3000, 1200, 3)
    changed = (np.abs(shot.astype(int) - without.astype(int)).sum(axis=2) > 30)
    assert changed.mean() > 0.15  # charts cover a large part of the page
    region = shot[changed]
    assert len(np.unique(region // 8, axis=0)) > 100  # lines, fills, bars, text: many colours
