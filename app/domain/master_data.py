"""Master-data sheets (warehouses, bins, SKUs) checked row by row before anything is written.

A sheet comes from a person's Excel file, so every cell is suspect: headers may be the Chinese
business labels, the English ones or our keys; numbers may arrive as text or floats; barcodes
lose their leading zeros. Checking here is pure (no database): what needs the database (does
the warehouse exist, is the barcode someone else's) is added by the import service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.fields import CODE_LISTS, FIELDS, Lang
from app.domain.messages import Coded
from app.domain.rules import Named

# kind → (column key, required, longest text) in the order of the template
SHEETS: dict[str, tuple[tuple[str, bool, int], ...]] = {
    "warehouses": (("code", True, 40), ("name", True, 120), ("kind", True, 10), ("province", True, 40),
                   ("city", True, 40), ("address", True, 300)),
    "bins": (("warehouse", True, 40), ("code", True, 40), ("zone", True, 10), ("aisle", True, 0), ("rack", True, 0),
             ("level", True, 0), ("x", True, 0), ("y", True, 0), ("pick_sequence", True, 0)),
    "skus": (("sku_code", True, 40), ("barcode", True, 40), ("style_code", True, 40), ("name", True, 120),
             ("color", True, 20), ("size", True, 20), ("price", True, 0), ("is_gift_item", False, 0),
             ("shelf_life_days", False, 0), ("warehouse", False, 40), ("bin", False, 40), ("on_hand", False, 0)),
}
ENTITY = {"warehouses": "warehouse", "bins": "bin", "skus": "sku"}
# what makes a row unique inside one file
KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "warehouses": (("code",),),
    "bins": (("warehouse", "code"),),
    "skus": (("sku_code",), ("barcode",)),
}
_YES = {"是", "y", "yes", "true", "1", "赠品", "√"}
_NO = {"否", "n", "no", "false", "0", ""}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file or a row: a message code and its facts (rendered by the reader)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """One data row: its line in the file (the header is line 1), its typed values, what is wrong."""

    line: int
    values: dict[str, Any]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class CheckedSheet:
    """A whole sheet: problems with the file itself (missing column…) and each row's."""

    kind: str
    columns: tuple[str, ...]  # the keys found, in file order ("" for an ignored column)
    problems: tuple[Problem, ...]
    notes: tuple[Problem, ...]
    rows: tuple[CheckedRow, ...]


def column_label(kind: str, key: str, lang: Lang = "zh") -> str:
    return FIELDS[ENTITY[kind]][key].label(lang)


def _col(kind: str, key: str) -> Named:
    """A column's business name inside a message, in whichever language the reader has."""
    fd = FIELDS[ENTITY[kind]][key]
    return Named("", fd.zh, fd.en)


def _norm(text: str) -> str:
    """A header as compared: no spaces, no required-marks, no bracketed hints, case-folded."""
    text = re.sub(r"[（(][^）)]*[）)]", "", str(text or ""))
    return re.sub(r"[\s*＊:：]", "", text).casefold()


def match_header(kind: str, header: list[Any]) -> tuple[tuple[str, ...], list[Problem], list[Problem]]:
    """Which column is which: Chinese label, English label or key, with or without the bracketed unit."""
    names: dict[str, str] = {}
    for key, _, _ in SHEETS[kind]:
        fd = FIELDS[ENTITY[kind]][key]
        for name in (fd.zh, fd.en, key):
            names.setdefault(_norm(name), key)
    found: list[str] = []
    problems: list[Problem] = []
    notes: list[Problem] = []
    for raw in header:
        key = names.get(_norm(raw), "")
        if key and key in found:
            problems.append(Problem("IMPORT_COLUMN_TWICE", {"column": _col(kind, key)}))
            key = ""
        elif not key and str(raw or "").strip():
            notes.append(Problem("IMPORT_COLUMN_IGNORED", {"column": str(raw).strip()}))
        found.append(key)
    for key, required, _ in SHEETS[kind]:
        if required and key not in found:
            problems.append(Problem("IMPORT_COLUMN_MISSING", {"column": _col(kind, key)}))
    return tuple(found), problems, notes


def ean13_check_digit(first12: str) -> int:
    """GS1's check digit: weights 1,3,1,3… from the left over the first twelve digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def _text(value: Any) -> str:
    """A cell as text; Excel's numbers for codes (6901234567892 or 6.901234567892E12) lose no digit."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value).strip()


def _typed(kind: str, key: str, raw: Any, limit: int) -> tuple[Any, Problem | None]:
    fd = FIELDS[ENTITY[kind]][key]
    column = _col(kind, key)
    text = _text(raw)
    if key == "barcode":
        digits = text.replace(" ", "")
        expected = ean13_check_digit(digits[:12]) if len(digits) >= 12 and digits[:12].isdigit() else "-"
        if not (len(digits) == 13 and digits.isdigit() and int(digits[12]) == expected):
            return None, Problem("IMPORT_BAD_EAN", {"value": text, "expected": expected})
        return digits, None
    if fd.kind in ("int", "decimal", "money"):
        try:
            number = Decimal(text.replace(",", "").replace("，", ""))
        except InvalidOperation:
            return None, Problem("IMPORT_NOT_NUMBER", {"column": column, "value": text})
        if not number.is_finite():
            return None, Problem("IMPORT_NOT_NUMBER", {"column": column, "value": text})
        if number < 0:
            return None, Problem("IMPORT_NEGATIVE", {"column": column, "value": text})
        if fd.kind == "int":
            if number != number.to_integral_value():
                return None, Problem("IMPORT_NOT_WHOLE", {"column": column, "value": text})
            return int(number), None
        return number.quantize(Decimal("0.01")), None
    if fd.kind == "bool":
        low = text.casefold()
        if low in _YES:
            return True, None
        if low in _NO:
            return False, None
        return None, Problem("IMPORT_NOT_YES_NO", {"column": column, "value": text})
    if fd.kind == "code" and fd.codes:
        for code, (zh, en) in CODE_LISTS[fd.codes].items():
            if text.casefold() in (code, zh.casefold(), en.casefold()):
                return code, None
        choices = [Coded(fd.codes, c) for c in CODE_LISTS[fd.codes]]
        return None, Problem("IMPORT_NOT_CODE", {"column": column, "value": text, "choices": choices})
    if any(ord(c) < 32 or c == "\x7f" for c in text):  # NUL and control characters: the database refuses NUL
        return None, Problem("IMPORT_BAD_CHARS", {"column": column})
    if limit and len(text) > limit:
        return None, Problem("IMPORT_TOO_LONG", {"column": column, "limit": limit})
    return text, None


def check_sheet(kind: str, header: list[Any], rows: list[list[Any]]) -> CheckedSheet:
    """Every row checked on its own and against the rows above it (duplicates within the file).

    Entirely empty rows (Excel keeps formatted blank rows) are skipped, not reported.
    """
    columns, problems, notes = match_header(kind, header)
    spec = {key: (required, limit) for key, required, limit in SHEETS[kind]}
    checked: list[CheckedRow] = []
    seen: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {k: {} for k in KEYS[kind]}
    for offset, row in enumerate(rows):
        line = offset + 2
        if all(_text(v) == "" for v in row):
            continue
        values: dict[str, Any] = {}
        row_problems: list[Problem] = []
        cells = {key: (row[i] if i < len(row) else None) for i, key in enumerate(columns) if key}
        for key, (required, limit) in spec.items():
            raw = cells.get(key)
            if _text(raw) == "":
                if required and key in columns:
                    row_problems.append(Problem("IMPORT_CELL_MISSING", {"column": _col(kind, key)}))
                values[key] = None
                continue
            value, problem = _typed(kind, key, raw, limit)
            values[key] = value
            if problem is not None:
                row_problems.append(problem)
        if kind == "skus" and values.get("on_hand") is not None and not values.get("warehouse"):
            row_problems.append(Problem("IMPORT_STOCK_NEEDS_PLACE"))
        for unique in KEYS[kind]:
            key_value = tuple(values.get(k) for k in unique)
            if any(v in (None, "") for v in key_value):
                continue
            first = seen[unique].setdefault(key_value, line)
            if first != line:
                row_problems.append(Problem("IMPORT_DUPLICATE", {"column": _col(kind, unique[-1]),
                                                                 "value": key_value[-1], "line": first}))
        checked.append(CheckedRow(line, values, tuple(row_problems)))
    if not checked and not problems:
        problems.append(Problem("IMPORT_NO_ROWS"))
    return CheckedSheet(kind, columns, tuple(problems), tuple(notes), tuple(checked))
