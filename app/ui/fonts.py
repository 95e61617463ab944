"""Registers the bundled CJK font at start, so Chinese renders on a machine that has none."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

FONTS = Path(__file__).resolve().parents[2] / "resources" / "fonts"


def install(app: QApplication, point_size: int = 10) -> str:
    """Load resources/fonts/*.otf and make the first family the application font; returns its name."""
    families: list[str] = []
    for path in sorted(FONTS.glob("*.otf")):
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id >= 0:
            families.extend(QFontDatabase.applicationFontFamilies(font_id))
    if not families:
        raise RuntimeError(f"没有找到中文字体（{FONTS}），界面会显示方框")
    app.setFont(QFont(families[0], point_size))
    return families[0]
