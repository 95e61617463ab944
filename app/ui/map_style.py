"""How the order map looks: its colour scale, English province names and the legend that explains them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen

# Province short names in English (the map's labels in English mode); keyed by the Chinese short name.
ENGLISH = {
    "北京": "Beijing", "天津": "Tianjin", "河北": "Hebei", "山西": "Shanxi", "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning", "吉林": "Jilin", "黑龙江": "Heilongjiang", "上海": "Shanghai", "江苏": "Jiangsu",
    "浙江": "Zhejiang", "安徽": "Anhui", "福建": "Fujian", "江西": "Jiangxi", "山东": "Shandong",
    "河南": "Henan", "湖北": "Hubei", "湖南": "Hunan", "广东": "Guangdong", "广西": "Guangxi",
    "海南": "Hainan", "重庆": "Chongqing", "四川": "Sichuan", "贵州": "Guizhou", "云南": "Yunnan",
    "西藏": "Xizang", "陕西": "Shaanxi", "甘肃": "Gansu", "青海": "Qinghai", "宁夏": "Ningxia",
    "新疆": "Xinjiang", "台湾": "Taiwan", "香港": "Hong Kong", "澳门": "Macao",
}
EMPTY = QColor("#eef2f7")  # a province without orders
COURIER = QColor(230, 126, 34, 210)  # parcels on the road: orange
CLUSTER_CELL = 26.0  # px: parcels closer than this share a bubble
PARCELS_CAPTION = ("在途包裹（数字为聚合件数）", "Parcels on the road (bubble = count)")


def shade(t: float) -> QColor:
    """The colour scale, 0..1 (light to dark blue); the same in every language and mode."""
    t = max(0.0, min(1.0, t))
    return QColor.fromRgbF(0.86 - 0.70 * t, 0.91 - 0.55 * t, 0.98 - 0.30 * t)


def draw_legend(painter: QPainter, rect: QRectF, title: str, top: float, fmt: Callable[[float], str],
                empty_caption: str, parcels_caption: str) -> None:
    """The colour bar from nothing to ``top`` (square-root scale, as the provinces are shaded), the
    "no orders" swatch and the parcel dot, in the painter's current font."""
    fm = painter.fontMetrics()
    line = fm.height()
    painter.setPen(QPen(QColor("#b8c2cc"), 1))
    painter.setBrush(QColor(255, 255, 255, 225))
    painter.drawRoundedRect(rect, 4, 4)
    x, y = rect.left() + 8, rect.top() + 6
    painter.setPen(QColor("#1f2d3d"))
    painter.drawText(QRectF(x, y, rect.width() - 16, line), Qt.AlignmentFlag.AlignLeft, title)
    y += line + 2
    bar = QRectF(x, y, rect.width() - 16, 10)
    gradient = QLinearGradient(bar.topLeft(), bar.topRight())
    for i in range(11):
        gradient.setColorAt(i / 10, shade(i / 10))
    painter.fillRect(bar, gradient)
    painter.setPen(QPen(QColor("#5b6b7f"), 0.8))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(bar)
    y += 12
    painter.setPen(QColor("#1f2d3d"))
    ticks = QRectF(x, y, bar.width(), line)
    painter.drawText(ticks, Qt.AlignmentFlag.AlignLeft, fmt(0) if top else "—")
    mid = fmt(top / 4)  # sqrt scale: a quarter of the top sits mid-bar
    if top and mid not in (fmt(0), fmt(top)):
        painter.drawText(ticks, Qt.AlignmentFlag.AlignHCenter, mid)
    painter.drawText(ticks, Qt.AlignmentFlag.AlignRight, fmt(top) if top else "")
    y += line + 2
    painter.fillRect(QRectF(x, y + 2, 14, line - 4), EMPTY)
    painter.drawRect(QRectF(x, y + 2, 14, line - 4))
    painter.drawText(QRectF(x + 20, y, bar.width() - 20, line), Qt.AlignmentFlag.AlignLeft, empty_caption)
    y += line
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(COURIER)
    painter.drawEllipse(QPointF(x + 7, y + line / 2), 5, 5)
    painter.setPen(QColor("#1f2d3d"))
    painter.drawText(QRectF(x + 20, y, bar.width() - 20, line), Qt.AlignmentFlag.AlignLeft,
                     parcels_caption)
