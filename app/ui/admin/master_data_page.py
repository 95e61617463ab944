"""配置 · 仓库与库位: import warehouses, bins and SKUs from Excel/CSV with a preview; nothing is written until 确认导入."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout,
                               QWidget)

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, FIELDS, Lang, code_label, label
from app.domain.master_data import ENTITY, SHEETS
from app.domain.messages import render
from app.services import master_data
from app.services.master_data import ImportPreview, problem_text
from app.services.unit_of_work import UnitOfWork
from app.ui.admin.common import Background, fill, message_label, say, table

SHOWN_ROWS = 2000  # preview rows put on screen; every refused row is always among them


def _shown(kind: str, key: str, value: Any, lang: Lang) -> str:
    """A value as people read it: coded values by their business name, yes/no in words."""
    if value is None:
        return ""
    fd = FIELDS[ENTITY[kind]][key]
    if fd.kind == "code" and fd.codes:
        return code_label(fd.codes, value, lang)
    if fd.kind == "bool":
        return render("YES" if value else "NO", lang)
    return str(value)


class MasterDataPage(QWidget):
    """Choose what to import, get the template, pick a file, read the preview, confirm."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        zh = lang == "zh"
        self.preview: ImportPreview | None = None
        self.kind = QComboBox()
        for code in CODE_LISTS["import_kind"]:
            self.kind.addItem(code_label("import_kind", code, lang), code)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.template_button = QPushButton("下载导入模板…" if zh else "Download template…")
        self.open_button = QPushButton("选择 Excel / CSV 文件…" if zh else "Choose an Excel / CSV file…")
        self.confirm_button = QPushButton("确认导入" if zh else "Import")
        self.confirm_button.setEnabled(False)
        self.template_button.clicked.connect(self._ask_template)
        self.open_button.clicked.connect(self._ask_file)
        self.confirm_button.clicked.connect(self.confirm)
        top = QHBoxLayout()
        top.addWidget(QLabel("导入内容" if zh else "Import"))
        top.addWidget(self.kind)
        for b in (self.template_button, self.open_button, self.confirm_button):
            top.addWidget(b)
        top.addStretch(1)
        self.file_problems = QLabel()
        self.file_problems.setWordWrap(True)
        self.summary = message_label(2)
        self.summary.setText("先下载模板填写，或直接选择文件；预览无误后再确认导入，确认前不会写入任何数据。"
                             if zh else "Fill in the template or choose a file; nothing is written until you confirm.")
        self.preview_table = table([])
        self.preview_table.setWordWrap(True)
        self.current_table = table([])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview_table, "导入预览" if zh else "Preview")
        self.tabs.addTab(self.current_table, "现有数据" if zh else "Current records")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.file_problems)
        layout.addWidget(self.tabs, 1)
        self._checking, self._importing = Background(self), Background(self)
        self._checking.finished.connect(self._checked)
        self._importing.finished.connect(self._imported)
        self._kind_changed()

    @property
    def kind_code(self) -> str:
        return self.kind.currentData()

    def _kind_changed(self) -> None:
        self.preview = None
        self.confirm_button.setEnabled(False)
        self.file_problems.clear()
        self.preview_table.setColumnCount(0)
        self.preview_table.setRowCount(0)
        self.show_current()

    def show_current(self) -> None:
        kind = self.kind_code
        keys = [k for k, _, _ in SHEETS[kind] if not (kind == "skus" and k in ("warehouse", "bin"))]
        try:
            records = master_data.current(self._uow(), kind)
        except BusinessError as err:
            say(self.file_problems, err.message(self._lang), ok=False)
            return
        self.current_table.setColumnCount(len(keys))
        self.current_table.setHorizontalHeaderLabels([label(ENTITY[kind], k, self._lang) for k in keys])
        fill(self.current_table, [[_shown(kind, k, r.get(k), self._lang) for k in keys] for r in records])

    # -- template and file ---------------------------------------------------------------------------------------
    def _ask_template(self) -> None:
        name = code_label("import_kind", self.kind_code, self._lang)
        path, _ = QFileDialog.getSaveFileName(self, self.template_button.text(), f"{name}导入模板.xlsx", "Excel (*.xlsx)")
        if path:
            self.save_template(Path(path))

    def save_template(self, path: Path) -> None:
        path.write_bytes(master_data.template(self.kind_code, self._lang))
        say(self.summary, ("模板已保存：" if self._lang == "zh" else "Template saved: ") + str(path), ok=True)

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.open_button.text(), "",
                                              "Excel / CSV (*.xlsx *.csv *.txt);;* (*)")
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> bool:
        """Read the file and check it on a worker (a big sheet takes seconds); the preview follows.

        Returns False at once when the file cannot even be opened. Writes nothing.
        """
        self.preview = None
        self.confirm_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.file_problems.clear()
        try:
            content = path.read_bytes()
        except OSError as err:
            say(self.summary, render("IMPORT_UNREADABLE", self._lang, file=path.name, reason=err.strerror or ""), ok=False)
            self._clear_preview()
            self.open_button.setEnabled(True)
            return False
        say(self.summary, ("正在检查 " if self._lang == "zh" else "Checking ") + path.name + "…", ok=True)
        kind, uow, actor = self.kind_code, self._uow, self._actor
        self._checking.run(lambda: master_data.preview(uow(), kind, content, path.name, actor))
        return True

    def _checked(self, generation: int, result: Any) -> None:
        if generation != self._checking.generation:
            return
        self.open_button.setEnabled(True)
        if isinstance(result, BusinessError):
            say(self.summary, result.message(self._lang), ok=False)
            self._clear_preview()
            return
        self.preview = result
        self._show_preview(result)
        self.confirm_button.setEnabled(result.can_import)

    def _clear_preview(self) -> None:
        self.preview_table.setRowCount(0)
        self.tabs.setCurrentWidget(self.preview_table)

    def _show_preview(self, shown: ImportPreview) -> None:
        lang, kind = self._lang, shown.kind
        keys = [k for k, _, _ in SHEETS[kind]]
        headers = [label("import", "line", lang), label("import", "action", lang),
                   *[label(ENTITY[kind], k, lang) for k in keys], label("import", "problems", lang)]
        self.preview_table.setColumnCount(len(headers))
        self.preview_table.setHorizontalHeaderLabels(headers)
        sep = "；" if lang == "zh" else "; "
        # every refused row, and good rows up to the limit: a person reads errors, not 10,000 good rows
        room, rows = max(SHOWN_ROWS - shown.refused, 0), []
        for r in shown.rows:
            if r.action == "refused" or room > 0:
                rows.append(r)
                room -= r.action != "refused"
        fill(self.preview_table, [[r.line, code_label("import_action", r.action, lang),
                                   *[_shown(kind, k, r.values.get(k), lang) for k in keys],
                                   sep.join(problem_text(p, lang) for p in r.problems)] for r in rows],
             marked=[r.action == "refused" for r in rows])
        self.tabs.setCurrentWidget(self.preview_table)
        lines = [problem_text(p, lang) for p in shown.problems] + [problem_text(p, lang) for p in shown.notes]
        if len(rows) < len(shown.rows):
            lines.append(render("IMPORT_ROWS_SHOWN", lang, shown=len(rows), rows=len(shown.rows)))
        self.file_problems.setText("\n".join(lines))
        self.file_problems.setStyleSheet("color: #b71c1c;" if shown.problems else "color: #555;")
        say(self.summary, f"{shown.file_name}：{shown.summary(lang)}" if lang == "zh" else
            f"{shown.file_name}: {shown.summary(lang)}", ok=shown.can_import)

    def confirm(self) -> bool:
        """Write the previewed file, all rows or none (on the worker); the answer follows."""
        if self.preview is None:
            return False
        if not self.preview.can_import:  # the button is off; said again for whoever calls this anyway
            say(self.summary, render("IMPORT_HAS_ERRORS", self._lang, count=max(self.preview.refused, 1)), ok=False)
            return False
        shown, uow, actor = self.preview, self._uow, self._actor
        self.preview = None
        self.confirm_button.setEnabled(False)
        say(self.summary, "正在导入…" if self._lang == "zh" else "Importing…", ok=True)
        self._importing.run(lambda: master_data.confirm(uow(), shown, actor))
        return True

    def _imported(self, generation: int, result: Any) -> None:
        if generation != self._importing.generation:
            return
        if isinstance(result, BusinessError):
            say(self.summary, result.message(self._lang), ok=False)
            return
        say(self.summary, result.message(self._lang), ok=True)
        self.show_current()
        self.tabs.setCurrentWidget(self.current_table)

    def shutdown(self) -> None:
        self._checking.wait()
        self._importing.wait()
