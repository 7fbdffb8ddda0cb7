"""A font with Chinese glyphs for the report charts, registered with matplotlib by file path.

matplotlib's default font (DejaVu Sans) has no CJK glyphs: Chinese labels would come out as
empty boxes ("tofu") with a "Glyph … missing from font(s)" warning. We look for a CJK font
file, register it with ``font_manager.fontManager.addfont`` and put its family first in
``font.sans-serif``. Search order:

1. env ``TA_CJK_FONT`` — a path to a ``.ttf``/``.otf``/``.ttc`` file (fails if it does not exist);
2. the files of Debian ``fonts-noto-cjk`` / ``fonts-noto-cjk-extra``, ``fonts-wqy-*``, ``fonts-arphic-*``;
3. ``fc-list :lang=zh`` (fontconfig), when the command exists.

``make up`` installs the font (``scripts/install-deps.sh runtime``: Debian ``fonts-noto-cjk``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from ta_scheduler.reports.errors import CJKFontMissingError

#: Known CJK font files, best first (Simplified Chinese faces before the JP-first collections).
CANDIDATE_FILES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora/Arch layout
)


def find_cjk_font() -> Path:
    """Path of a font file with Chinese glyphs.

    :raises CJKFontMissingError: none found (the message says how to install one)
    """
    from ta_scheduler.config import setting

    explicit = setting("TA_CJK_FONT")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise CJKFontMissingError(f"TA_CJK_FONT={explicit} is not a font file; point it at a .ttf/.otf/.ttc with Chinese glyphs")
        return path
    for name in CANDIDATE_FILES:
        if Path(name).is_file():
            return Path(name)
    found = _fontconfig_cjk_files()
    if found:
        return found[0]
    raise CJKFontMissingError(
        "no CJK font found for report charts (Chinese labels would render as boxes): install Debian "
        "fonts-noto-cjk (scripts/install-deps.sh runtime; `make up` runs it) or set TA_CJK_FONT to a font file with Chinese glyphs"
    )


def _fontconfig_cjk_files() -> list[Path]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    regular = [f for f in files if "Regular" in f] or files
    return [Path(f) for f in regular if Path(f).is_file()]


@functools.cache
def cjk_font_family() -> str:
    """Register the CJK font with matplotlib (once per process) and return its family name.

    :raises CJKFontMissingError: no CJK font installed
    """
    from matplotlib import font_manager

    path = find_cjk_font()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def chart_rc() -> dict[str, object]:
    """matplotlib rcParams for report charts: the CJK font first, a proper minus sign."""
    family = cjk_font_family()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,  # CJK fonts often lack U+2212
        "font.size": 10,
    }
