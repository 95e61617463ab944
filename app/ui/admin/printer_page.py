"""配置 · 打印机设置: this station's slip printer (connection, address, paper), saved to its config, and a test slip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.services import printer_setup
from app.services.printer_setup import DEFAULT_ADDRESS, PrinterChoice, PrintTrial
from app.services.unit_of_work import UnitOfWork
from app.settings import Settings
from app.ui.admin.common import Background, attempt, message_label, say

HINTS = {
    "network": ("IP 地址:端口，例如 192.168.1.50:9100", "IP:port, e.g. 192.168.1.50:9100"),
    "usb": ("厂商ID:产品ID，例如 0x0416:0x5011（见打印机说明书或设备管理器）", "vendor:product, e.g. 0x0416:0x5011"),
    "serial": ("端口:波特率，例如 COM3:9600 或 /dev/ttyUSB0:9600", "port:baud, e.g. COM3:9600"),
    "file": ("文件路径（仅用于测试，不会真正打印）", "a file path (testing only; nothing prints)"),
}


class PrinterPage(QWidget):
    """Choose how the printer is connected and its paper; 保存到本工作站 and 打印测试页."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, settings: Settings, config_path: Path, *,
                 lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang, self._config = uow, actor, lang, config_path
        zh = lang == "zh"
        self.backend = QComboBox()
        for code in CODE_LISTS["printer_backend"]:
            self.backend.addItem(code_label("printer_backend", code, lang), code)
        self.address = QLineEdit()
        self.paper = QComboBox()
        for code in CODE_LISTS["slip_profile"]:
            self.paper.addItem(code_label("slip_profile", code, lang), code)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        now = printer_setup.current(settings)
        if now is not None and now.backend in CODE_LISTS["printer_backend"]:
            self.backend.setCurrentIndex(self.backend.findData(now.backend))
            self.address.setText(now.address)
        if settings.slip_profile in CODE_LISTS["slip_profile"]:
            self.paper.setCurrentIndex(self.paper.findData(settings.slip_profile))
        self.backend.currentIndexChanged.connect(self._backend_changed)
        self._backend_changed()
        form = QFormLayout()
        form.addRow(label("printer", "backend", lang), self.backend)
        form.addRow(label("printer", "address", lang), self.address)
        form.addRow("", self.hint)
        form.addRow(label("printer", "paper", lang), self.paper)
        self.save_button = QPushButton("保存到本工作站" if zh else "Save for this station")
        self.test_button = QPushButton("打印测试页" if zh else "Print a test slip")
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.print_test)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        self.station = QLabel(("工作站：" if zh else "Station: ") + actor.station)
        self.message = message_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.station)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self._worker = Background(self)
        self._worker.finished.connect(self._printed)
        self.last_trial: PrintTrial | None = None

    def _backend_changed(self) -> None:
        code = self.backend.currentData()
        self.hint.setText(HINTS[code][0 if self._lang == "zh" else 1])
        self.address.setPlaceholderText(DEFAULT_ADDRESS[code])

    def choice(self) -> PrinterChoice:
        return PrinterChoice(self.backend.currentData(), self.address.text(), self.paper.currentData())

    def save(self) -> bool:
        choice = self.choice()
        return attempt(self.message, self._lang,
                       lambda: printer_setup.save_printer(self._uow(), self._config, choice, self._actor, lang=self._lang))

    def print_test(self) -> None:
        """Send one test slip off the GUI thread; the answer (printed, or what the printer said) in words."""
        choice = self.choice()
        self.test_button.setEnabled(False)
        say(self.message, "正在打印测试页…" if self._lang == "zh" else "Printing a test slip…", ok=True)
        self._worker.run(lambda: printer_setup.print_test_slip(self._uow(), choice, self._actor, lang=self._lang))

    def _printed(self, generation: int, result: Any) -> None:
        if generation != self._worker.generation:
            return
        self.test_button.setEnabled(True)
        if isinstance(result, BusinessError):
            say(self.message, result.message(self._lang), ok=False)
            return
        self.last_trial = result
        say(self.message, result.message, ok=result.printed)

    def shutdown(self) -> None:
        self._worker.wait()
