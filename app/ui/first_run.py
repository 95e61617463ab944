"""First start of a station: pick IT's provisioning file, see what it will set, save, then try the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QLibraryInfo, Qt, QTranslator
from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout)

from app.domain.errors import BusinessError
from app.domain.fields import Lang
from app.domain.messages import render
from app.settings import ProvisionError, describe_provisioning, read_provisioning, write_config
from app.ui.admin.common import Background

Check = Callable[[], BusinessError | None]
"""Tries the database the saved settings name; the refusal in words, or None when it answered."""

_RED, _GREEN = "color: #b3261e;", "color: #1b5e20;"


def _note(style: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _qt_chinese() -> QTranslator | None:
    """Qt's own Chinese (shipped with PySide6), installed while the file dialog is open; None if missing."""
    translator = QTranslator(QCoreApplication.instance())
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load("qtbase_zh_CN", folder):
        return None
    QCoreApplication.installTranslator(translator)
    return translator


class FirstRunDialog(QDialog):
    """The provisioning file's path (typed, or chosen with 浏览…), a preview of what it sets, and its errors.

    Nothing is written until 保存: a file that cannot be used says why next to the path, in business
    language. After saving, the database is tried off the GUI thread; if it cannot be reached the
    settings stay saved and the person can retry or start offline (``offline`` is then True).
    """

    def __init__(self, check: Check, config_path: Path, lang: Lang = "zh", parent: Any = None, *,
                 start_dir: Path | None = None, default_station: str = "") -> None:
        super().__init__(parent)
        self._check, self._config_path, self._lang = check, Path(config_path), lang
        self._start_dir, self._default_station = start_dir, default_station
        self.values: dict[str, object] | None = None
        self.saved, self.connected, self.offline = False, False, False
        self.file_dialog: QFileDialog | None = None
        self._worker = Background(self)
        self._worker.finished.connect(self._checked)
        zh = lang == "zh"
        self.setWindowTitle("首次启动：导入工作站配置" if zh else "First start: import the station settings")
        layout = QVBoxLayout(self)
        intro = QLabel("请选择 IT 提供的工作站配置文件（.toml）。确认下面将要设置的内容后点「保存」，然后会连接数据库。"
                       if zh else "Choose the station provisioning file IT gave you (.toml). Check what it will set "
                       "below, then Save; the database is tried next.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("配置文件路径，如 D:/OrderHub/仓库工作台.toml" if zh
                                     else "the file's path, e.g. D:/OrderHub/warehouse.toml")
        self.path.editingFinished.connect(lambda: self.load(self.path.text()) if self.path.text().strip() else None)
        self.browse = QPushButton("浏览…" if zh else "Browse…")
        self.browse.clicked.connect(self.choose_file)
        row.addWidget(QLabel("配置文件" if zh else "File"))
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        layout.addLayout(row)
        self.file_error = _note(_RED)
        layout.addWidget(self.file_error)
        self.preview_box = QGroupBox("将要设置的内容" if zh else "What will be set")
        self.preview = QFormLayout(self.preview_box)
        self.preview.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.rows: dict[str, QLabel] = {}
        self.database_error = _note(_RED)
        self.database_error.setMinimumWidth(460)  # a wrapped label sized for its real width: no empty lines
        self.preview_box.hide()
        layout.addWidget(self.preview_box)
        self.status = _note(_GREEN)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.skip = QPushButton("跳过，使用本机内置数据库" if zh else "Skip: use the built-in database")
        self.skip.clicked.connect(self.skip_setup)
        self.save = QPushButton("保存" if zh else "Save")
        self.save.setEnabled(False)
        self.save.setDefault(True)
        self.save.clicked.connect(self.save_and_check)
        self.retry = QPushButton("重试连接" if zh else "Retry the database")
        self.retry.clicked.connect(self.check_database)
        self.retry.hide()
        self.go_offline = QPushButton("先离线启动" if zh else "Start offline")
        self.go_offline.clicked.connect(self.start_offline)
        self.go_offline.hide()
        self.cancel = QPushButton("取消" if zh else "Cancel")
        self.cancel.clicked.connect(self.reject)
        buttons.addWidget(self.skip)
        buttons.addStretch(1)
        for button in (self.retry, self.go_offline, self.save, self.cancel):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.setMinimumWidth(640)

    # --- choosing and reading the file ------------------------------------------------------------
    def choose_file(self) -> QFileDialog:
        """Qt's own file dialog (not the system's), so it looks the same everywhere and tests can drive it."""
        zh = self._lang == "zh"
        translator = _qt_chinese() if zh else None  # Qt's own words in the dialog (查找范围、打开、文件名…)
        dialog = QFileDialog(self, "选择工作站配置文件" if zh else "Choose the station provisioning file",
                             str(self._start_dir or Path.home()),
                             "工作站配置文件 (*.toml);;所有文件 (*)" if zh else "Provisioning files (*.toml);;All files (*)")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.resize(860, 500)  # room for the size, type and date columns
        dialog.fileSelected.connect(self.load)
        self.file_dialog = dialog
        if translator is not None:
            dialog.finished.connect(lambda _result: QCoreApplication.removeTranslator(translator))
        dialog.open()
        return dialog

    def load(self, path: str) -> bool:
        """Read ``path``; show what it sets, or why it cannot be used (next to the path)."""
        self.path.setText(path)
        self.status.hide()
        try:
            values = read_provisioning(Path(path.strip()))
        except ProvisionError as err:
            self.values = None
            self.file_error.setText(BusinessError(err.code, **err.params).message(self._lang))
            self.file_error.show()
            self.preview_box.hide()
            self.save.setEnabled(False)
            return False
        self.values = values
        self.file_error.hide()
        self._show_preview(values)
        self.save.setEnabled(True)
        return True

    def _show_preview(self, values: dict[str, object]) -> None:
        while self.preview.rowCount():  # rebuilt per file; the database error label is kept for the next
            taken = self.preview.takeRow(0)
            for item in (taken.labelItem, taken.fieldItem):
                widget = item.widget() if item is not None else None
                if widget is not None and widget is not self.database_error:
                    widget.deleteLater()
        self.rows = {}
        for key, label, shown in describe_provisioning(values, self._lang):
            value = QLabel(shown)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.rows[key] = value
            self.preview.addRow(QLabel(label), value)
            if key == "database":
                self.preview.addRow("", self.database_error)  # its error sits right under it
        self.database_error.hide()
        self.preview_box.show()

    # --- saving and trying the database -----------------------------------------------------------
    def save_and_check(self) -> None:
        """Write the settings into this station's config file, then try the database."""
        if self.values is None:
            return
        written = write_config(self.values, config_file=self._config_path)
        self.saved = True
        zh = self._lang == "zh"
        self.status.setText(f"已保存到 {written}" if zh else f"Saved to {written}")
        self.status.show()
        self.save.setEnabled(False)
        self.check_database()

    def check_database(self) -> None:
        zh = self._lang == "zh"
        self.retry.setEnabled(False)
        self.database_error.hide()
        self.status.setText("正在连接数据库…" if zh else "Connecting to the database…")
        self.status.show()
        self._worker.run(self._check)

    def _checked(self, generation: int, result: object) -> None:
        if generation != self._worker.generation:
            return
        self.retry.setEnabled(True)
        if result is None:
            self.connected = True
            self.status.setText("数据库连接正常" if self._lang == "zh" else "The database answered")
            self.accept()
            return
        error = result if isinstance(result, BusinessError) else BusinessError("DATABASE_UNAVAILABLE", detail=str(result))
        if error.code == "DATABASE_UNAVAILABLE":  # the driver's words go to the tooltip, for IT
            where = self.rows["database"].text() if "database" in self.rows else "-"
            text = render("PROVISION_DATABASE_AWAY", self._lang, where=where)
        else:  # a TLS refusal already says what to check
            text = error.message(self._lang) + ("\n" if self._lang == "zh" else " ") + render(
                "PROVISION_DATABASE_LATER", self._lang)
        self.database_error.setText(text)
        self.database_error.setToolTip(error.message(self._lang))
        self.database_error.show()
        self.status.hide()
        self.retry.show()
        self.go_offline.show()

    def start_offline(self) -> None:
        """The settings are saved; the station opens from its cache and keeps trying the database."""
        self.offline = True
        self.accept()

    def skip_setup(self) -> None:
        """No provisioning file: this computer keeps its own database; remembered so the question is not asked again."""
        write_config({"station_name": self._default_station} if self._default_station else {"language": self._lang},
                     config_file=self._config_path)
        self.accept()

    def wait(self) -> None:
        """Let a database check still running finish (closing the station, tests)."""
        self._worker.wait()
