"""Importing warehouses, bins and SKUs (with opening stock) from Excel or CSV: preview, then all or nothing.

Nothing is written by :func:`preview`; :func:`confirm` checks the same file again inside its own
transaction (the data may have changed since the preview) and writes every row or none, with
one audit record naming the file's fingerprint and every code it touched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import Bin, Sku, Stock, Warehouse
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label
from app.domain.master_data import SHEETS, CheckedRow, CheckedSheet, Problem, check_sheet, column_label
from app.domain.messages import Coded, render
from app.domain.rules import Named
from app.services import audit
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

Uow = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class Table:
    """A file's first sheet as cells, and how its text was decoded (for CSV)."""

    header: list[Any]
    rows: list[list[Any]]
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class PreviewRow:
    line: int
    action: str  # new | update | refused
    values: dict[str, Any]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """What confirming would do, row by row; ``problems`` are about the file as a whole."""

    kind: str
    file_name: str
    sha256: str
    content: bytes
    encoding: str | None
    problems: tuple[Problem, ...]
    notes: tuple[Problem, ...]
    rows: tuple[PreviewRow, ...]
    sheet: CheckedSheet | None = None  # the file as checked (confirm checks it again against the database)

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if r.action == "refused")

    @property
    def can_import(self) -> bool:
        return not self.problems and not self.refused and bool(self.rows)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    def summary(self, lang: Lang = "zh") -> str:
        return render("IMPORT_SUMMARY", lang, rows=len(self.rows), new=self.count("new"), updated=self.count("update"),
                      refused=self.refused)


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    new: int
    updated: int

    def message(self, lang: Lang = "zh") -> str:
        return render("IMPORT_DONE", lang, kind=Coded("import_kind", self.kind), new=self.new, updated=self.updated)


# -- reading files -----------------------------------------------------------------------------------------------

def _unreadable(file_name: str, reason: str) -> BusinessError:
    return BusinessError("IMPORT_UNREADABLE", file=file_name, reason=Named("", render(reason, "zh"), render(reason, "en")))


def read_table(content: bytes, file_name: str) -> Table:
    """The first sheet of an .xlsx, or a CSV in UTF-8 (with or without BOM), GBK/GB18030 or UTF-16.

    Excel in China saves "CSV (逗号分隔)" in GBK and "Unicode 文本" in UTF-16 with tabs; both are read.

    Raises:
        BusinessError: ``IMPORT_EMPTY`` or ``IMPORT_UNREADABLE`` saying why, never a traceback.
    """
    if not content.strip():
        raise BusinessError("IMPORT_EMPTY")
    if content[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(content, file_name)
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # the old binary .xls (OLE2) container
        raise _unreadable(file_name, "IMPORT_OLD_EXCEL")
    text, encoding = _decode(content, file_name)
    sample = text[:4096]
    first = sample.splitlines()[0] if sample.splitlines() else ""
    delimiter = max(",\t;", key=first.count) if first else ","
    try:
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:  # a NUL byte or a broken quote: not a text table at all
        raise _unreadable(file_name, "IMPORT_NOT_TABLE") from None
    rows = [r for r in rows if any(c.strip() for c in r)] if rows and not any(c.strip() for c in rows[0]) else rows
    if not rows:
        raise BusinessError("IMPORT_EMPTY")
    return Table(rows[0], rows[1:], encoding)


def _decode(content: bytes, file_name: str) -> tuple[str, str]:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16"), "UTF-16"
    try:
        return content.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "GBK"
    except UnicodeDecodeError:
        raise _unreadable(file_name, "IMPORT_ENCODING") from None


def _read_xlsx(content: bytes, file_name: str) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError):
        raise _unreadable(file_name, "IMPORT_NOT_EXCEL") from None
    try:
        sheet = book.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError):
        raise _unreadable(file_name, "IMPORT_NOT_EXCEL") from None
    finally:
        book.close()
    while rows and all(c is None or str(c).strip() == "" for c in rows[-1]):
        rows.pop()
    if not rows:
        raise BusinessError("IMPORT_EMPTY")
    return Table(rows[0], rows[1:])


def template(kind: str, lang: Lang = "zh") -> bytes:
    """An empty .xlsx with the sheet's headers (required ones marked *) for people to fill in."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = code_label("import_kind", kind, lang)
    for n, (key, required, _) in enumerate(SHEETS[kind], 1):
        cell = sheet.cell(row=1, column=n, value=column_label(kind, key, lang) + ("*" if required else ""))
        cell.font = Font(bold=True)
        if required:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")
        sheet.column_dimensions[openpyxl.utils.get_column_letter(n)].width = max(12, 2.2 * len(cell.value) + 2)
        if key == "barcode":  # keep leading zeros and long digits as typed
            for row in range(2, 1002):
                sheet.cell(row=row, column=n).number_format = "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- checking against the database -------------------------------------------------------------------------------

def _check_in(session: Session, sheet: CheckedSheet) -> list[PreviewRow]:
    """Each row's action (new or update) and the problems only the database can see."""
    wh_ids = dict(session.execute(sa.select(Warehouse.code, Warehouse.id)).all())
    out: list[PreviewRow] = []
    if sheet.kind == "warehouses":
        existing = set(wh_ids)
        for row in sheet.rows:
            out.append(_row(row, [], row.values["code"] in existing))
        return out
    if sheet.kind == "bins":
        bins = {(w, c) for w, c in session.execute(sa.select(Bin.warehouse_id, Bin.code))}
        for row in sheet.rows:
            extra: list[Problem] = []
            wh = row.values.get("warehouse")
            if wh and wh not in wh_ids:
                extra.append(Problem("IMPORT_UNKNOWN_WAREHOUSE", {"value": wh}))
            out.append(_row(row, extra, (wh_ids.get(wh), row.values.get("code")) in bins))
        return out
    skus = {code: (sid, barcode) for code, sid, barcode in session.execute(sa.select(Sku.sku_code, Sku.id, Sku.barcode))}
    owner = {barcode: code for code, (_, barcode) in skus.items()}
    bins_by = {(w, c): bid for bid, w, c in session.execute(sa.select(Bin.id, Bin.warehouse_id, Bin.code))}
    reserved = {(s, w, b): r for s, w, b, r in session.execute(
        sa.select(Stock.sku_id, Stock.warehouse_id, Stock.bin_id, Stock.reserved))}
    for row in sheet.rows:
        v, extra = row.values, []
        taken_by = owner.get(v.get("barcode"))
        if taken_by is not None and taken_by != v.get("sku_code"):
            extra.append(Problem("IMPORT_BARCODE_TAKEN", {"value": v["barcode"], "owner": taken_by}))
        wh = v.get("warehouse")
        if wh and wh not in wh_ids:
            extra.append(Problem("IMPORT_UNKNOWN_WAREHOUSE", {"value": wh}))
        elif wh and v.get("bin") and (wh_ids[wh], v["bin"]) not in bins_by:
            extra.append(Problem("IMPORT_UNKNOWN_BIN", {"value": v["bin"], "warehouse": wh}))
        elif wh and v.get("on_hand") is not None and v.get("sku_code") in skus:
            held = reserved.get((skus[v["sku_code"]][0], wh_ids[wh], bins_by.get((wh_ids[wh], v.get("bin")))), 0)
            if v["on_hand"] < held:
                extra.append(Problem("IMPORT_BELOW_RESERVED", {"value": v["on_hand"], "reserved": held}))
        out.append(_row(row, extra, v.get("sku_code") in skus))
    return out


def _row(row: CheckedRow, extra: list[Problem], exists: bool) -> PreviewRow:
    problems = row.problems + tuple(extra)
    return PreviewRow(row.line, "refused" if problems else "update" if exists else "new", row.values, problems)


def preview(uow: UnitOfWork, kind: str, content: bytes, file_name: str, actor: Actor) -> ImportPreview:
    """What importing ``content`` would do, row by row. Writes nothing (a read-only transaction).

    ``actor`` is here for the permission check (``master_data.import``); previewing is not audited.

    Raises:
        BusinessError: the file cannot be read at all (empty, not a spreadsheet, unknown encoding).
    """
    if kind not in SHEETS:
        raise BusinessError("INVALID_VALUE", field="import", value=kind, reason="warehouses / bins / skus")
    table = read_table(content, file_name)
    sheet = check_sheet(kind, table.header, table.rows)
    with uow:
        uow.session.execute(sa.text("SET TRANSACTION READ ONLY"))
        require(uow, actor, "master_data.import")
        # a file missing a column refuses every row: none of them could be written as it stands
        rows = (_check_in(uow.session, sheet) if not sheet.problems
                else [PreviewRow(r.line, "refused", r.values, r.problems) for r in sheet.rows])
    notes = sheet.notes + ((Problem("IMPORT_READ_AS", {"encoding": table.encoding}),) if table.encoding else ())
    return ImportPreview(kind, file_name, hashlib.sha256(content).hexdigest(), content, table.encoding,
                         sheet.problems, notes, tuple(rows), sheet)


def confirm(uow: UnitOfWork, shown: ImportPreview, actor: Actor) -> ImportResult:
    """Write every row of the previewed file, or none: checked again inside this one transaction.

    Permission: ``master_data.import`` (asked again here: a preview is no licence to write).

    Raises:
        BusinessError: ``IMPORT_HAS_ERRORS`` when any row is refused (nothing written);
            ``IMPORT_STALE`` when the database changed so that the preview no longer holds.
    """
    if not shown.can_import:
        raise BusinessError("IMPORT_HAS_ERRORS", count=max(shown.refused, 1))
    sheet = shown.sheet
    if sheet is None:
        table = read_table(shown.content, shown.file_name)
        sheet = check_sheet(shown.kind, table.header, table.rows)
    with uow:
        require(uow, actor, "master_data.import")
        s = uow.session
        s.execute(sa.text("LOCK TABLE warehouses, bins, skus, stock IN SHARE ROW EXCLUSIVE MODE"))
        rows = _check_in(s, sheet)
        refused = sum(1 for r in rows if r.problems)
        if refused:
            raise BusinessError("IMPORT_HAS_ERRORS", count=refused)
        if [(r.line, r.action) for r in rows] != [(r.line, r.action) for r in shown.rows]:
            raise BusinessError("IMPORT_STALE")
        write = {"warehouses": _write_warehouses, "bins": _write_bins, "skus": _write_skus}[shown.kind]
        write(s, rows)
        new, updated = sum(r.action == "new" for r in rows), sum(r.action == "update" for r in rows)
        keys = {"warehouses": ("code",), "bins": ("warehouse", "code"), "skus": ("sku_code",)}[shown.kind]
        audit.record(s, actor, "master_data.import", shown.kind, shown.file_name[:120], basis=None, before=None,
                     after={"file": shown.file_name, "sha256": shown.sha256, "new": new, "updated": updated,
                            "codes": ["/".join(str(r.values[k]) for k in keys) for r in rows]})
        uow.commit()
    return ImportResult(shown.kind, new, updated)


def _write_warehouses(s: Session, rows: list[PreviewRow]) -> None:
    existing = {w.code: w for w in s.scalars(sa.select(Warehouse))}
    for r in rows:
        v = r.values
        wh = existing.get(v["code"]) or Warehouse(code=v["code"])
        wh.name, wh.kind, wh.province, wh.city, wh.address = v["name"], v["kind"], v["province"], v["city"], v["address"]
        s.add(wh)
    s.flush()


def _write_bins(s: Session, rows: list[PreviewRow]) -> None:
    wh_ids = dict(s.execute(sa.select(Warehouse.code, Warehouse.id)).all())
    existing = {(b.warehouse_id, b.code): b for b in s.scalars(sa.select(Bin))}
    for r in rows:
        v = r.values
        wid = wh_ids[v["warehouse"]]
        b = existing.get((wid, v["code"])) or Bin(warehouse_id=wid, code=v["code"])
        b.zone, b.aisle, b.rack, b.level = v["zone"], v["aisle"], v["rack"], v["level"]
        b.x, b.y, b.pick_sequence = v["x"], v["y"], v["pick_sequence"]
        s.add(b)
    s.flush()


def _write_skus(s: Session, rows: list[PreviewRow]) -> None:
    wh_ids = dict(s.execute(sa.select(Warehouse.code, Warehouse.id)).all())
    bins_by = {(w, c): bid for bid, w, c in s.execute(sa.select(Bin.id, Bin.warehouse_id, Bin.code))}
    existing = {k.sku_code: k for k in s.scalars(sa.select(Sku))}
    # a barcode moving between two SKUs of the same file must not collide midway: clear the old ones first
    moving = [existing[r.values["sku_code"]] for r in rows if r.values["sku_code"] in existing
              and existing[r.values["sku_code"]].barcode != r.values["barcode"]]
    for k in moving:
        k.barcode = f"~{k.id}"
    s.flush()
    skus: list[Sku] = []
    for r in rows:
        v = r.values
        k = existing.get(v["sku_code"]) or Sku(sku_code=v["sku_code"])
        k.barcode, k.style_code, k.name, k.color, k.size = v["barcode"], v["style_code"], v["name"], v["color"], v["size"]
        k.price = v["price"]
        k.is_gift_item = bool(v.get("is_gift_item"))
        k.shelf_life_days = v.get("shelf_life_days")
        skus.append(k)
    s.add_all(skus)
    s.flush()  # one batch: the new SKUs get their ids
    stock = {(st.sku_id, st.warehouse_id, st.bin_id): st for st in s.scalars(sa.select(Stock))}
    for r, k in zip(rows, skus, strict=True):
        v = r.values
        if v.get("on_hand") is None or not v.get("warehouse"):
            continue
        wid = wh_ids[v["warehouse"]]
        place = (k.id, wid, bins_by.get((wid, v.get("bin"))) if v.get("bin") else None)
        if place in stock:
            stock[place].on_hand = v["on_hand"]
        else:
            stock[place] = Stock(sku_id=place[0], warehouse_id=wid, bin_id=place[2], on_hand=v["on_hand"])
            s.add(stock[place])
    s.flush()


# -- what is there now (the page's tables) -----------------------------------------------------------------------

def current(uow: UnitOfWork, kind: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """The records of ``kind`` as plain values for the page's table (codes, not ORM rows)."""
    with uow:
        s = uow.session
        if kind == "warehouses":
            return [{"code": w.code, "name": w.name, "kind": w.kind, "province": w.province, "city": w.city,
                     "address": w.address} for w in s.scalars(sa.select(Warehouse).order_by(Warehouse.code).limit(limit))]
        if kind == "bins":
            q = (sa.select(Bin, Warehouse.code).join(Warehouse, Warehouse.id == Bin.warehouse_id)
                 .order_by(Warehouse.code, Bin.pick_sequence, Bin.code).limit(limit))
            return [{"warehouse": wc, "code": b.code, "zone": b.zone, "aisle": b.aisle, "rack": b.rack, "level": b.level,
                     "x": b.x, "y": b.y, "pick_sequence": b.pick_sequence} for b, wc in s.execute(q)]
        on_hand = dict(s.execute(sa.select(Stock.sku_id, sa.func.sum(Stock.on_hand)).group_by(Stock.sku_id)).all())
        return [{"sku_code": k.sku_code, "barcode": k.barcode, "style_code": k.style_code, "name": k.name,
                 "color": k.color, "size": k.size, "price": k.price, "is_gift_item": k.is_gift_item,
                 "shelf_life_days": k.shelf_life_days, "on_hand": int(on_hand.get(k.id) or 0)}
                for k in s.scalars(sa.select(Sku).order_by(Sku.sku_code).limit(limit))]


def problem_text(problem: Problem, lang: Lang = "zh") -> str:
    return render(problem.code, lang, **problem.params)
