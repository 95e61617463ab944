"""Renders the 客服 workspace and the order map at a display scale or font scale in its own process (QT_SCALE_FACTOR is read at start).

Run by tests/ui/test_high_dpi.py: python scaled_station.py DATABASE_URL DATA_DIR SHOTS_DIR TAG LANG FONT_SCALE
Prints one JSON line: the widgets whose text does not fit (should be none) and the sizes saved.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (QAbstractButton, QApplication, QComboBox, QLabel, QStyle,  # noqa: E402
                               QStyleOptionComboBox, QWidget)

from app.bootstrap import bootstrap  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.ui import fonts  # noqa: E402
from app.ui.cs_workspace import CustomerServiceWorkspace  # noqa: E402
from app.ui.order_map import OrderMap, geometry  # noqa: E402


def clipped(root: QWidget) -> list[str]:
    """Visible labels, buttons and combo boxes narrower than their text needs (what a person sees cut off)."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisible():
            continue
        fm = w.fontMetrics()
        if isinstance(w, QLabel) and w.text() and not w.wordWrap():
            need = max(fm.horizontalAdvance(line) for line in w.text().splitlines())
            if w.width() + 1 < need:
                out.append(f"label {w.text()!r}: {w.width()} < {need}")
        elif isinstance(w, QAbstractButton) and w.text():
            if w.width() < fm.horizontalAdvance(w.text().replace("&", "")) + 8:
                out.append(f"button {w.text()!r}: {w.width()}")
        elif isinstance(w, QComboBox) and w.currentText():
            opt = QStyleOptionComboBox()
            opt.initFrom(w)
            field = w.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, w)
            if field.width() < fm.horizontalAdvance(w.currentText()):
                out.append(f"combo {w.currentText()!r}: {field.width()} < {fm.horizontalAdvance(w.currentText())}")
    header = getattr(root, "table", None)
    if header is not None:
        h = header.horizontalHeader()
        for i in range(h.count() - 1):  # the last section stretches
            text = header.model().headerData(i, Qt.Orientation.Horizontal)
            if h.sectionSize(i) < h.fontMetrics().horizontalAdvance(text):
                out.append(f"column {text!r}: {h.sectionSize(i)}")
    return out


def main() -> None:
    url, data_dir, shots, tag, lang, font_scale = sys.argv[1:7]
    app = QApplication([])
    fonts.install(app, point_size=round(10 * float(font_scale)))
    hub = bootstrap(Settings(database_url=url, data_dir=Path(data_dir), station_name="测试工作站"), upgrade=False)
    ws = CustomerServiceWorkspace(hub.uow, lang)  # type: ignore[arg-type]
    ws.resize(1400, 800)
    ws.show()
    app.processEvents()
    ws.wait_for_map()
    app.processEvents()
    problems = clipped(ws)
    ws.grab().save(str(Path(shots) / f"cs-{tag}-{lang}.png"))
    rng = random.Random(20)
    m = OrderMap(lang=lang)  # type: ignore[arg-type]
    counts = {p.name: rng.randint(1, 900) for p in geometry().provinces}
    m.set_counts(counts, rates={k: rng.random() * 0.2 for k in counts})
    m.set_couriers([(121 + rng.uniform(-1, 1), 31 + rng.uniform(-1, 1)) for _ in range(120)])
    m.resize(900, 700)
    m.show()
    app.processEvents()
    map_image = m.grab()
    map_image.save(str(Path(shots) / f"map-{tag}-{lang}.png"))
    placement, _ = m.placement()
    legend = m.legend_rect()
    problems += [f"legend outside the map: {legend}"] if not m.rect().toRectF().contains(legend) else []
    problems += drill_down_and_flows(hub, shots, tag, lang)
    print(json.dumps({"clipped": problems, "dpr": ws.devicePixelRatioF(), "labels_placed": len(placement.placed),
                      "grab": [map_image.width(), map_image.height()]}, ensure_ascii=False))
    ws.shutdown()
    hub.close()


def drill_down_and_flows(hub, shots: str, tag: str, lang: str) -> list[str]:
    """Issue #20's screens at this scale: the drill-down's parcel timeline and the flow editor's forms and diagram."""
    import sqlalchemy as sa

    from app.domain.actor import Actor
    from app.ui.flow_editor import FlowEditor
    from app.ui.order_drill_down import OrderDrillDown

    app = QApplication.instance()
    with hub.engine.connect() as conn:
        order_no = conn.scalar(sa.text(
            "SELECT o.order_no FROM orders o WHERE EXISTS (SELECT 1 FROM shipments sh JOIN tracking_events t ON"
            " t.shipment_id = sh.id WHERE sh.order_id = o.id AND t.courier_name IS NOT NULL) ORDER BY o.id LIMIT 1"))
    view = OrderDrillDown(hub.uow, Actor("xiaomei", "客服工作台-01"), lang=lang)  # type: ignore[arg-type]
    view.resize(1280, 900)
    view.show_order(order_no)
    view.show()
    view.layers.setCurrentIndex(0)
    app.processEvents()
    problems = [f"drill-down {p}" for p in clipped(view)]
    view.grab().save(str(Path(shots) / f"drill-down-{tag}-{lang}.png"))
    editor = FlowEditor(hub.uow, Actor("liu.gong", "配置工作站-01"), lang=lang)  # type: ignore[arg-type]
    editor.resize(1280, 860)
    editor.show()
    editor.flow.setCurrentIndex(editor.flow.findData("return_refund"))
    app.processEvents()
    problems += [f"flow editor {p}" for p in clipped(editor)]
    editor.grab().save(str(Path(shots) / f"flow-editor-{tag}-{lang}.png"))
    return problems


if __name__ == "__main__":
    main()
