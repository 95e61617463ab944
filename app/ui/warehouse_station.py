"""仓库工作台: waves, the current pick driven by the scanner, change notices, the picker's day, the printer.

Scans come from anywhere in the station (the application-wide :class:`KeyboardScanFilter`, or a
serial scanner) and are answered one after another by a :class:`ScanWorker` thread, so a burst of
scans waits in a queue instead of freezing the window; each answer paints the big banner at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label, label
from app.domain.messages import render
from app.services import change_notices, pick_slips, picking, waves
from app.services.change_notices import NoticeView
from app.services.picking import Progress, ScanResult
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork
from app.sync.held_scans import HeldScans
from app.ui.pick_view import PickPanel
from app.ui.scanner import KeyboardScanFilter, ScannerSettings, ScanWorker, SerialScanReader

UowFactory = Callable[[], UnitOfWork]
WAVE_COLUMNS = ("wave_no", "status", "order_count", "piece_count", "zones", "earliest_ship_by")


class SlipPrinting(Protocol):
    """What the station needs from the printers side (wired in by the composition root)."""

    def print_wave(self, wave_no: str, actor: Actor) -> str: ...  # a business-language answer

    def reprint(self, order_no: str, actor: Actor, reason: str) -> str: ...

    def status_text(self, lang: Lang) -> str: ...  # the printer and its queue, in plain words

    def retry(self) -> None: ...  # the printer is fixed: try the waiting slips now

    @property
    def has_problem(self) -> bool: ...  # something holds the queue up (shown loud)


class WarehouseStation(QWidget):
    """The warehouse workspace for 拣货员 and 仓管班长."""

    scan_answered = Signal(object)  # a ScanResult, emitted after the screen shows it
    waves_changed = Signal()

    def __init__(self, uow: UowFactory, actor: Actor, *, role: str = "picker", lang: Lang = "zh",
                 scanner: ScannerSettings | None = None, printing: SlipPrinting | None = None,
                 listen_keyboard: bool = True, serial_port: str | None = None, held_path: Any = None,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._role, self._lang, self._printing = uow, actor, role, lang, printing
        # Scans taken while the database is away wait here (on disk) and go out in order when it is back.
        self.held = HeldScans(held_path)
        self._replays: dict[int, int] = {}  # worker seq → held seq
        self._replaying = False
        zh = lang == "zh"
        self.notices: list[NoticeView] = []
        self.day: Progress | None = None
        self.last_result: ScanResult | None = None

        # -- top bar: where, which box, a field for typing a code by hand ---------------------
        self.warehouse = QComboBox()
        try:
            for wh_id, code, name in waves.warehouses(uow()):
                self.warehouse.addItem(name, (wh_id, code))
        except DatabaseUnavailable:  # started offline (issue #14): scans are kept on disk until the link is back
            pass
        self.box = QLineEdit()
        self.box.setPlaceholderText("自动" if zh else "automatic")
        self.box.setMaximumWidth(120)
        self.manual = QLineEdit()
        self.manual.setPlaceholderText("扫不出来时手工输入条码，回车确认" if zh else "Type a code if it will not scan, then Enter")
        self.manual.returnPressed.connect(self._manual_entered)
        self.queue_label = QLabel("")
        top = QHBoxLayout()
        for text, widget in ((label("wave", "warehouse", lang), self.warehouse), (label("pick", "box_no", lang), self.box)):
            top.addWidget(QLabel(text))
            top.addWidget(widget)
        top.addWidget(self.manual, 1)
        top.addWidget(self.queue_label)

        # -- left: waves ---------------------------------------------------------------------
        self.wave_table = QTableWidget(0, len(WAVE_COLUMNS))
        self.wave_table.setHorizontalHeaderLabels([label("wave", c, lang) for c in WAVE_COLUMNS])
        self.wave_table.verticalHeader().setVisible(False)
        self.wave_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.wave_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.wave_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wave_table.horizontalHeader().setStretchLastSection(True)
        self.max_orders = QSpinBox()
        self.max_orders.setRange(1, waves.MAX_WAVE)
        self.max_orders.setValue(30)
        self.create_button = QPushButton("创建波次" if zh else "Create wave")
        self.create_button.clicked.connect(self.create_wave)
        self.print_button = QPushButton("打印拣货单" if zh else "Print slips")
        self.print_button.clicked.connect(self.print_selected_wave)
        self.reprint_order = QLineEdit()
        self.reprint_order.setPlaceholderText(label("order", "order_no", lang))
        self.reprint_reason = QLineEdit()
        self.reprint_reason.setPlaceholderText("补打原因（必填）" if zh else "Why reprint (required)")
        self.reprint_button = QPushButton("补打" if zh else "Reprint")
        self.reprint_button.clicked.connect(self.reprint)
        self.wave_message = QLabel("")
        self.wave_message.setWordWrap(True)
        wave_box = QGroupBox("波次" if zh else "Waves")
        wl = QVBoxLayout(wave_box)
        make = QHBoxLayout()
        make.addWidget(QLabel("每波最多" if zh else "Max orders"))
        make.addWidget(self.max_orders)
        make.addWidget(self.create_button)
        make.addWidget(self.print_button)
        wl.addLayout(make)
        wl.addWidget(self.wave_table, 1)
        again = QHBoxLayout()
        again.addWidget(self.reprint_order)
        again.addWidget(self.reprint_reason)
        again.addWidget(self.reprint_button)
        wl.addLayout(again)
        wl.addWidget(self.wave_message)
        for widget in (self.create_button, self.print_button, self.max_orders):
            widget.setEnabled(role in ("wh_lead", "admin"))  # the lead makes and prints waves

        # -- centre: the pick ------------------------------------------------------------------
        self.pick_panel = PickPanel(lang)

        # -- right: notices, my day, the printer ------------------------------------------------
        self.notice_list = QListWidget()
        self.notice_list.setWordWrap(True)
        self.notice_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.ack_button = QPushButton("已知悉，确认" if zh else "Seen — acknowledge")
        self.ack_button.clicked.connect(self.acknowledge_selected)
        notice_box = QGroupBox(label("pick", "notice", lang))
        nl = QVBoxLayout(notice_box)
        nl.addWidget(self.notice_list, 1)
        nl.addWidget(self.ack_button)
        self.day_label = QLabel("")
        self.day_label.setWordWrap(True)
        self.day_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.day_button = QPushButton("刷新我的进度" if zh else "Refresh my day")
        self.day_button.clicked.connect(self.refresh_day)
        day_box = QGroupBox("我的今天" if zh else "My day")
        dl = QVBoxLayout(day_box)
        dl.addWidget(self.day_label, 1)
        dl.addWidget(self.day_button)
        self.printer_label = QLabel("")
        self.printer_label.setWordWrap(True)
        self.retry_button = QPushButton("已处理，重试打印" if zh else "Fixed — retry printing")
        self.retry_button.clicked.connect(self.retry_printing)
        self.retry_button.setEnabled(printing is not None)
        printer_box = QGroupBox("打印机" if zh else "Printer")
        pl = QVBoxLayout(printer_box)
        pl.addWidget(self.printer_label)
        pl.addWidget(self.retry_button)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(notice_box, 2)
        sl.addWidget(day_box, 1)
        sl.addWidget(printer_box)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(wave_box)
        split.addWidget(self.pick_panel)
        split.addWidget(side)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 4)
        split.setStretchFactor(2, 2)
        split.setSizes([420, 640, 320])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        # -- scanning ------------------------------------------------------------------------------
        self.worker = ScanWorker(self._answer_scan)
        self.worker.answered.connect(self._scan_answered)
        self.worker.failed.connect(self._scan_failed)
        self.filter = KeyboardScanFilter(scanner, self)
        self.filter.scanned.connect(self.submit_scan)
        if listen_keyboard:
            self.filter.install()
        self.serial: SerialScanReader | None = None
        if serial_port:  # a serial scanner feeds the same queue as the keyboard one
            self.serial = SerialScanReader(serial_port)
            self.serial.scanned.connect(self.submit_scan)
            self.serial.failed.connect(lambda text: self.pick_panel.show_error(
                (f"串口扫码枪 {serial_port} 不可用：{text}" if zh else f"Serial scanner {serial_port} unavailable: {text}")))
            self.serial.start()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(10_000)
        self.held_timer = QTimer(self)  # held scans: try the database again every 2 s
        self.held_timer.timeout.connect(self._replay_next)
        self.held_timer.start(2_000)
        self.refresh()

    def _tick(self) -> None:
        self.refresh_notices()
        self.refresh_waves()
        self.refresh_day()
        self.refresh_printer()

    # -- scanning ------------------------------------------------------------------------------
    def submit_scan(self, code: str) -> int:
        """Queue a scan for the worker (context read here, on the GUI thread).

        While earlier scans are held for the database, a new one joins the end of that line, so
        scans reach the server in the order they were made.
        """
        data = self.warehouse.currentData()
        box, wh_id = self.box.text().strip() or None, data[0] if data else None
        if self.held.count():
            self._say_held(code, self.held.add(code, box, wh_id))
            self._replay_next()
            return 0
        seq = self.worker.submit(code, (box, wh_id))
        self._show_queue()
        return seq

    def _replay_next(self) -> None:
        """Send the oldest held scan (one at a time: the next waits for its answer)."""
        if self._replaying:
            return
        first = self.held.first()
        if first is None:
            return
        self._replaying = True
        self._replays[self.worker.submit(first.code, (first.box_no, first.warehouse_id))] = first.seq

    def _say_held(self, code: str, count: int) -> None:
        self.pick_panel.show_held(render("SCAN_HELD", self._lang, scan=code, count=count))
        self._show_queue()

    def _answer_scan(self, code: str, context: Any) -> ScanResult:  # on the worker thread
        box_no, _ = context
        return picking.scan(self._uow(), code, self._actor, box_no=box_no)

    def _scan_answered(self, seq: int, code: str, result: ScanResult) -> None:
        held_seq = self._replays.pop(seq, None)
        if not result.ok and result.code == "DATABASE_UNAVAILABLE":
            # Not an answer: the database is away. Keep the scan (once) and try again later.
            self._replaying = False
            if held_seq is None:
                data = self.warehouse.currentData()
                self._say_held(code, self.held.add(code, self.box.text().strip() or None, data[0] if data else None))
            else:
                self._say_held(code, self.held.count())
            return
        if held_seq is not None:
            self.held.drop(held_seq)
            self._replaying = False
            QTimer.singleShot(0, self._replay_next)
        self.last_result = result
        self.pick_panel.show_result(result)
        if result.progress is not None:
            self._show_day(result.progress)
        if result.kind in ("opened", "resumed", "stopped", "confirmed", "shipped") or (
                result.pick is not None and result.pick.notice is not None):
            self.refresh_notices()
        if result.kind in ("opened", "confirmed", "shipped", "stopped"):
            self.refresh_waves()
            if result.progress is None:
                self.refresh_day()
        self._show_queue()
        self.scan_answered.emit(result)

    def _scan_failed(self, seq: int, code: str, err: Exception) -> None:
        if self._replays.pop(seq, None) is not None:
            self._replaying = False  # kept: tried again on the next tick
        text = err.message(self._lang) if isinstance(err, BusinessError) else (
            f"扫描「{code}」未处理：{err}" if self._lang == "zh" else f"Scan “{code}” not handled: {err}")
        self.pick_panel.show_error(text)
        self._show_queue()

    def _manual_entered(self) -> None:
        code = self.manual.text().strip()
        self.manual.clear()
        if code:
            self.submit_scan(code)

    def _show_queue(self) -> None:
        waiting, held = self.worker.waiting, self.held.count()
        parts = []
        if waiting:
            parts.append(f"待处理扫描 {waiting}" if self._lang == "zh" else f"{waiting} scans waiting")
        if held:
            parts.append(f"离线待提交 {held}" if self._lang == "zh" else f"{held} held offline")
        self.queue_label.setText("　".join(parts))

    # -- waves -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_waves()
        self.refresh_notices()
        self.refresh_day()
        self.refresh_printer()
        try:
            self.pick_panel.show_pick(picking.current_pick(self._uow(), self._actor.operator))
        except BusinessError as err:
            self.pick_panel.show_error(err.message(self._lang))

    def _warehouse_code(self) -> str | None:
        data = self.warehouse.currentData()
        return data[1] if data else None

    def refresh_waves(self) -> None:
        try:
            rows = waves.list_waves(self._uow(), warehouse=self._warehouse_code(), limit=50)
        except BusinessError as err:
            self.wave_message.setText(err.message(self._lang))
            return
        self.wave_rows = rows
        self.wave_table.setRowCount(len(rows))
        for r, w in enumerate(rows):
            values = (w.wave_no, code_label("wave_status", w.status, self._lang), f"{w.done_count}/{w.order_count}",
                      str(w.piece_count), " ".join(w.zones),
                      f"{local(w.earliest_ship_by):%m-%d %H:%M}" if w.earliest_ship_by else "—")
            for c, text in enumerate(values):
                self.wave_table.setItem(r, c, QTableWidgetItem(text))
        self.wave_table.resizeColumnsToContents()

    def create_wave(self) -> bool:
        code = self._warehouse_code()
        if code is None:
            return False
        try:
            wave = waves.create_wave(self._uow(), code, self._actor, max_orders=self.max_orders.value())
        except BusinessError as err:
            self.wave_message.setText(err.message(self._lang))
            return False
        self.wave_message.setText(render("WAVE_CREATED", self._lang, wave_no=wave.wave_no, count=wave.order_count,
                                         pieces=wave.piece_count, warehouse=wave.warehouse, zones=" ".join(wave.zones)))
        self.refresh_waves()
        self.refresh_day()
        self.waves_changed.emit()
        return True

    def selected_wave(self) -> str | None:
        row = self.wave_table.currentRow()
        if row < 0 and self.wave_table.rowCount():
            row = 0
        item = self.wave_table.item(row, 0) if row >= 0 else None
        return item.text() if item else None

    def print_selected_wave(self) -> bool:
        wave_no = self.selected_wave()
        if wave_no is None:
            return False
        if self._printing is None:
            count = len(pick_slips.wave_slips(self._uow(), wave_no))
            self.wave_message.setText(render("PRINTER_NOT_SET", self._lang) + f"（{wave_no}：{count}）")
            return False
        try:
            self.wave_message.setText(self._printing.print_wave(wave_no, self._actor))
        except BusinessError as err:
            self.wave_message.setText(err.message(self._lang))
            return False
        self.refresh_waves()
        self.refresh_printer()
        return True

    def reprint(self) -> bool:
        order_no, reason = self.reprint_order.text().strip(), self.reprint_reason.text().strip()
        if self._printing is None:
            self.wave_message.setText(render("PRINTER_NOT_SET", self._lang))
            return False
        try:
            self.wave_message.setText(self._printing.reprint(order_no, self._actor, reason))
        except BusinessError as err:
            self.wave_message.setText(err.message(self._lang))
            return False
        self.refresh_printer()
        return True

    def retry_printing(self) -> None:
        if self._printing is not None:
            self._printing.retry()
            self.refresh_printer()

    def refresh_printer(self) -> None:
        self.printer_label.setText(self._printing.status_text(self._lang) if self._printing is not None
                                   else render("PRINTER_NOT_SET", self._lang))
        loud = self._printing is None or self._printing.has_problem
        self.printer_label.setStyleSheet("color:#b3261e; font-weight:bold;" if loud else "color:#1e8e3e;")

    # -- notices and my day -------------------------------------------------------------------------
    def refresh_notices(self) -> None:
        try:
            if self._role == "picker":
                self.notices = change_notices.open_notices(self._uow(), picker=self._actor.operator)
            else:
                data = self.warehouse.currentData()
                self.notices = change_notices.open_notices(self._uow(), warehouse_id=data[0] if data else None)
        except BusinessError as err:
            self.ack_button.setText(err.message(self._lang))
            return
        self.notice_list.clear()
        for n in self.notices:
            head = f"{'⛔' if 'cancel' in n.kinds else '⚠'} {label('order', 'order_no', self._lang)} {n.order_no}"
            body = "\n".join((n.summary(self._lang), *n.details(self._lang)))
            who = f"{label('pick', 'picker', self._lang)}：{n.picker}" if n.picker else ""
            item = QListWidgetItem(f"{head}\n{body}\n{who}".strip())
            item.setData(Qt.ItemDataRole.UserRole, n.order_no)
            if n.interception:
                item.setForeground(Qt.GlobalColor.darkRed)
            bold = QFont(self.font())
            bold.setBold(True)
            item.setFont(bold)
            self.notice_list.addItem(item)
        if self.notices and self.notice_list.currentRow() < 0:
            self.notice_list.setCurrentRow(0)

    def acknowledge_selected(self) -> bool:
        item = self.notice_list.currentItem()
        if item is None:
            return False
        order_no = item.data(Qt.ItemDataRole.UserRole)
        try:
            notice = change_notices.acknowledge(self._uow(), order_no, self._actor)
        except BusinessError as err:
            self.pick_panel.show_error(err.message(self._lang))
            return False
        self.refresh_notices()
        self.pick_panel.show_pick(picking.current_pick(self._uow(), self._actor.operator))
        text = render("NOTICE_ACKNOWLEDGED", self._lang, order_no=order_no, count=notice.change_count)
        if notice.put_back:
            self.pick_panel.show_error(text + "\n" + render("NOTICE_PUT_BACK", self._lang, count=notice.put_back))
        else:
            self.pick_panel.banner.setText(text)
        return True

    def refresh_day(self) -> None:
        try:
            self._show_day(picking.progress(self._uow(), self._actor.operator))
        except BusinessError as err:
            self.day_label.setText(err.message(self._lang))

    def _show_day(self, day: Progress) -> None:
        self.day = day
        zh = self._lang == "zh"
        notes = "\n".join(f"· {n}" for n in day.notes) or ("（今天还没有客户留言）" if zh else "(no customer notes yet)")
        self.day_label.setText(render("PROGRESS_DAY", self._lang, picker=day.picker, done=day.done, waiting=day.waiting)
                               + ("\n最近的客户留言：\n" if zh else "\nLatest customer notes:\n") + notes)

    def shutdown(self) -> None:
        """Stop listening and let the scan worker finish (no database work may outlive the window)."""
        self.timer.stop()
        self.held_timer.stop()
        self.filter.uninstall()
        if self.serial is not None:
            self.serial.stop()
        self.worker.shutdown()
