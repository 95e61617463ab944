"""A picture of an electronic invoice (数电票) as customer service knows it, drawn from the invoice's own data.

The hub keeps the invoice's facts, not the tax system's PDF, so the thumbnail is drawn: the 数电票
layout (title, number, date, buyer, amounts, 价税合计 in capital numerals), a red 「红字」 mark and
the flushed blue number on a red invoice, 「待重开」 on one to be re-issued. Click to see it large.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cn2an
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from app.domain.clock import local
from app.services.drill_down import InvoiceLine

WIDTH, HEIGHT = 600, 380
INK = QColor("#8b4513")  # the brown-red of the 数电票 frame and title
RED = QColor("#c0392b")


def capital_yuan(amount: Decimal) -> str:
    """价税合计（大写）: ¥329.00 → 叁佰贰拾玖元整; a red invoice's negative amount reads (负数)…"""
    words = cn2an.an2cn(f"{abs(amount):.2f}", "rmb")
    return f"（负数）{words}" if amount < 0 else words


def paint_invoice(inv: InvoiceLine, seller: str, *, scale: float = 1.0) -> QPixmap:
    """The invoice drawn at ``scale`` (1.0 = 600×380 px)."""
    pixmap = QPixmap(int(WIDTH * scale), int(HEIGHT * scale))
    pixmap.fill(QColor("#fffdf7"))
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(scale, scale)
    red = inv.kind == "red"
    frame = QPen(INK, 1.5)
    p.setPen(frame)
    p.setFont(_font(20, bold=True))
    p.drawText(QRectF(0, 8, WIDTH, 34), Qt.AlignmentFlag.AlignCenter, "电子发票（普通发票）")
    p.drawLine(200, 44, 400, 44)
    p.drawLine(200, 48, 400, 48)
    p.setFont(_font(9))
    p.setPen(QColor("#333333"))
    p.drawText(QRectF(330, 52, 250, 16), Qt.AlignmentFlag.AlignRight, f"发票号码：{inv.invoice_no}")
    p.drawText(QRectF(330, 68, 250, 16), Qt.AlignmentFlag.AlignRight, f"开票日期：{local(inv.issued_at):%Y年%m月%d日}")
    p.setPen(frame)
    p.drawRect(QRectF(20, 88, WIDTH - 40, HEIGHT - 100))
    # buyer / seller columns
    p.drawLine(20, 150, WIDTH - 20, 150)
    p.drawLine(WIDTH // 2, 88, WIDTH // 2, 150)
    p.setFont(_font(10))
    p.setPen(QColor("#333333"))
    p.drawText(QRectF(28, 92, 270, 18), Qt.AlignmentFlag.AlignLeft, "购买方信息")
    p.drawText(QRectF(28, 110, 270, 18), Qt.AlignmentFlag.AlignLeft, f"名称：{inv.title}")
    p.drawText(QRectF(28, 128, 270, 18), Qt.AlignmentFlag.AlignLeft, f"纳税人识别号：{inv.buyer_tax_no or ''}")
    p.drawText(QRectF(WIDTH // 2 + 8, 92, 270, 18), Qt.AlignmentFlag.AlignLeft, "销售方信息")
    p.drawText(QRectF(WIDTH // 2 + 8, 110, 270, 18), Qt.AlignmentFlag.AlignLeft, f"名称：{seller}")
    # lines and totals
    tax = inv.tax_amount if inv.tax_amount is not None else Decimal("0.00")
    p.drawText(QRectF(28, 158, 200, 18), Qt.AlignmentFlag.AlignLeft, "项目名称")
    p.drawText(QRectF(330, 158, 100, 18), Qt.AlignmentFlag.AlignRight, "金额")
    p.drawText(QRectF(460, 158, 100, 18), Qt.AlignmentFlag.AlignRight, "税额")
    p.drawText(QRectF(28, 180, 280, 18), Qt.AlignmentFlag.AlignLeft, "*服装*童装")
    p.drawText(QRectF(330, 180, 100, 18), Qt.AlignmentFlag.AlignRight, f"{inv.amount - tax:,.2f}")
    p.drawText(QRectF(460, 180, 100, 18), Qt.AlignmentFlag.AlignRight, f"{tax:,.2f}")
    p.setPen(frame)
    p.drawLine(20, 262, WIDTH - 20, 262)
    p.drawLine(20, 296, WIDTH - 20, 296)
    p.setPen(QColor("#333333"))
    p.drawText(QRectF(28, 269, 380, 20), Qt.AlignmentFlag.AlignLeft, f"价税合计（大写）　{capital_yuan(inv.amount)}")
    p.drawText(QRectF(400, 269, 170, 20), Qt.AlignmentFlag.AlignRight, f"（小写）¥{inv.amount:,.2f}")
    remark = []
    if red and inv.red_flush_of:
        remark.append(f"被红冲蓝字数电票号码：{inv.red_flush_of}")
    if inv.red_confirmation_no:
        remark.append(f"红字发票信息确认单编号：{inv.red_confirmation_no}")
    p.setFont(_font(9))
    p.drawText(QRectF(28, 302, WIDTH - 56, 60), Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
               "备注：" + "；".join(remark))
    if red or inv.reissue_pending:  # a stamp across the corner: 红字 / 待重开
        p.translate(470, 228)
        p.rotate(-18)
        p.setPen(QPen(RED, 3))
        p.drawRoundedRect(QRectF(-58, -22, 116, 44), 8, 8)
        p.setFont(_font(18, bold=True))
        p.drawText(QRectF(-58, -22, 116, 44), Qt.AlignmentFlag.AlignCenter, "红字" if red else "待重开")
    p.end()
    return pixmap


def _font(points: int, *, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(bold)
    return font


class InvoiceThumbnail(QLabel):
    """A small picture of one invoice; a click opens it full size."""

    clicked = Signal()

    def __init__(self, inv: InvoiceLine, seller: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.invoice, self.seller = inv, seller
        self.setPixmap(paint_invoice(inv, seller, scale=0.3))
        self.setToolTip(f"{inv.invoice_no}（点击查看大图）")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clicked.connect(self.show_large)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        self.clicked.emit()
        super().mousePressEvent(event)

    def show_large(self, *, modal: bool = True) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle(self.invoice.invoice_no)
        big = QLabel()
        big.setPixmap(paint_invoice(self.invoice, self.seller))
        QVBoxLayout(dialog).addWidget(big)
        if modal:
            dialog.exec()
        return dialog
