"""Importing warehouses, bins and SKUs from real .xlsx and CSV files into the real database: preview, then all or nothing."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.master_data import ean13_check_digit
from app.services import master_data
from app.services.master_data import problem_text

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")
WAREHOUSES = [["仓库编码", "仓库名称", "仓库类型", "省份", "城市", "详细地址"],
              ["HZ01", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区仓前街道 1 号"],
              ["HF02", "合肥云仓", "云仓", "安徽省", "合肥市", "蜀山区 88 号"]]
BINS = [["仓库编码", "库位编码", "库区", "排", "架", "层", "X坐标（米）", "Y坐标（米）", "拣货顺序"],
        ["HZ01", "A-01-01-1", "A", 1, 1, 1, 2.5, 3, 10],
        ["HZ01", "A-01-02-1", "A", 1, 2, 1, 3.5, 3, 20]]


def ean(first12: str) -> str:
    return first12 + str(ean13_check_digit(first12))


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str) -> bytes:
    return "\r\n".join(",".join(str(c) for c in row) for row in rows).encode(encoding)


def problems(shown: master_data.ImportPreview) -> dict[int, list[str]]:
    return {r.line: [problem_text(p) for p in r.problems] for r in shown.rows if r.problems}


def count(hub, table: str) -> int:
    with hub.engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def load_warehouses_and_bins(hub) -> None:
    for kind, rows in (("warehouses", WAREHOUSES), ("bins", BINS)):
        master_data.confirm(hub.uow(), master_data.preview(hub.uow(), kind, xlsx(rows), f"{kind}.xlsx", ADMIN), ADMIN)


def test_warehouses_from_an_xlsx_are_previewed_without_writing_then_imported_and_audited(hub):
    before = count(hub, "warehouses")
    shown = master_data.preview(hub.uow(), "warehouses", xlsx(WAREHOUSES), "仓库.xlsx", ADMIN)
    assert shown.can_import and [r.action for r in shown.rows] == ["new", "new"]
    assert shown.rows[1].values["kind"] == "cloud"  # 「云仓」 read as the stored code
    assert count(hub, "warehouses") == before  # the preview wrote nothing

    result = master_data.confirm(hub.uow(), shown, ADMIN)
    assert (result.new, result.updated) == (2, 0)
    assert result.message() == "已导入仓库：新增 2，更新 0"
    with hub.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name, kind, city FROM warehouses WHERE code = 'HF02'")).one() == (
            "合肥云仓", "cloud", "合肥市")
        action, who, after = conn.execute(sa.text(
            "SELECT action, operator, after FROM audit_log WHERE action = 'master_data.import'")).one()
    assert who == "liu.gong" and after["new"] == 2 and after["codes"] == ["HZ01", "HF02"] and len(after["sha256"]) == 64

    again = master_data.preview(hub.uow(), "warehouses", xlsx(WAREHOUSES), "仓库.xlsx", ADMIN)
    assert [r.action for r in again.rows] == ["update", "update"]


def test_bins_keep_their_coordinates_and_pick_sequence(hub):
    load_warehouses_and_bins(hub)
    with hub.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT b.code, x, y, pick_sequence FROM bins b JOIN warehouses w ON w.id = b.warehouse_id "
                                    "WHERE w.code = 'HZ01' ORDER BY pick_sequence")).all()
    assert rows == [("A-01-01-1", Decimal("2.50"), Decimal("3.00"), 10), ("A-01-02-1", Decimal("3.50"), Decimal("3.00"), 20)]


def test_every_bad_row_is_explained_and_nothing_is_written(hub):
    load_warehouses_and_bins(hub)
    good, taken = ean("690123456789"), ean("690123456780")
    rows = [["商品编码", "条码", "款号", "商品名称", "颜色", "尺码", "单价（元）", "仓库编码", "库位编码", "库存数量"],
            ["T1-01-110", good, "T1", "小熊卫衣", "红", "110", "89.00", "HZ01", "A-01-01-1", 5],
            ["T1-01-120", good[:-1] + str((int(good[-1]) + 1) % 10), "T1", "小熊卫衣", "红", "120", "89", "HZ01", "", 3],
            ["T1-01-110", taken, "T1", "小熊卫衣", "红", "110", "89", "", "", ""],
            ["T1-01-130", ean("690123456781"), "T1", "小熊卫衣", "红", "130", "89", "SH09", "", 2],
            ["T1-01-140", ean("690123456782"), "T1", "小熊卫衣", "红", "140", "89", "HZ01", "Z-99", -4],
            ["T1-01-150", ean("690123456783"), "T1", "", "红", "150", "八十九", "HZ01", "", 1]]
    shown = master_data.preview(hub.uow(), "skus", xlsx(rows), "商品.xlsx", ADMIN)
    said = problems(shown)
    assert 2 not in said
    assert "校验位应为" in said[3][0]
    assert said[4] == ["「商品编码」「T1-01-110」与第 2 行重复"]
    assert said[5] == ["仓库「SH09」不存在，请先导入仓库"]
    assert said[6] == ["「库存数量」不能为负数（-4）", "仓库「HZ01」中没有库位「Z-99」，请先导入库位"]
    assert said[7] == ["「商品名称」未填写", "「单价（元）」应为数字，实际是「八十九」"]
    assert shown.summary() == "共 6 行：新增 1，更新 0，有错误 5"
    with pytest.raises(BusinessError) as refused:
        master_data.confirm(hub.uow(), shown, ADMIN)
    assert refused.value.message() == "还有 5 行有错误，未导入任何数据；请改正文件后重新预览"
    assert count(hub, "skus") == 0 and count(hub, "stock") == 0


def test_skus_with_opening_stock_are_written_in_one_go(hub):
    load_warehouses_and_bins(hub)
    rows = [["SKU code", "Barcode", "Style", "Product name", "Colour", "Size", "Unit price", "Gift item",
             "Warehouse code", "Bin code", "Quantity on hand"],
            ["W2-01-110", int(ean("690000000001")), "W2", "条纹袜", "白", "110", 9.9, "否", "HZ01", "A-01-02-1", 40],
            ["GIFT-01", ean("690000000002"), "G", "小熊贴纸", "彩", "均码", 0, "是", "HZ01", "", 100]]
    shown = master_data.preview(hub.uow(), "skus", xlsx(rows), "skus.xlsx", ADMIN)  # English headers, numbers as numbers
    assert shown.can_import, problems(shown)
    master_data.confirm(hub.uow(), shown, ADMIN)
    with hub.engine.connect() as conn:
        got = conn.execute(sa.text("SELECT k.sku_code, k.barcode, k.price, k.is_gift_item, s.on_hand, b.code FROM skus k "
                                   "JOIN stock s ON s.sku_id = k.id LEFT JOIN bins b ON b.id = s.bin_id ORDER BY 1")).all()
    assert got == [("GIFT-01", ean("690000000002"), Decimal("0.00"), True, 100, None),
                   ("W2-01-110", ean("690000000001"), Decimal("9.90"), False, 40, "A-01-02-1")]


def test_a_gbk_csv_saved_by_chinese_excel_is_read(hub):
    shown = master_data.preview(hub.uow(), "warehouses", csv_bytes(WAREHOUSES, "gbk"), "仓库.csv", ADMIN)
    assert shown.can_import and shown.rows[0].values["name"] == "杭州自营仓"
    assert problem_text(shown.notes[-1]) == "文件编码：GBK"
    utf8 = master_data.preview(hub.uow(), "warehouses", b"\xef\xbb\xbf" + csv_bytes(WAREHOUSES, "utf-8"), "w.csv", ADMIN)
    assert utf8.can_import and utf8.encoding == "UTF-8"
    tabbed = "\n".join("\t".join(r) for r in WAREHOUSES).encode("utf-16")  # Excel's 「Unicode 文本」
    assert master_data.preview(hub.uow(), "warehouses", tabbed, "w.txt", ADMIN).rows[1].values["code"] == "HF02"


@pytest.mark.parametrize(("content", "name", "said"), [
    (b"", "empty.csv", "文件是空的：没有表头，也没有数据行"),
    (b"\r\n  \r\n", "blank.csv", "文件是空的：没有表头，也没有数据行"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "无法读取文件「broken.xlsx」：不是有效的 Excel 文件（.xlsx）"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.xls", "旧版 Excel（.xls）无法读取"),
    (b"\x81\x30\xff\xfe\x00code", "garbage.csv", "文字编码无法识别"),
])
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(hub, content, name, said):
    with pytest.raises(BusinessError) as refused:
        master_data.preview(hub.uow(), "warehouses", content, name, ADMIN)
    assert said in refused.value.message()


def test_a_nul_byte_in_a_cell_is_a_row_problem_not_a_database_crash(hub):
    rows = [WAREHOUSES[0], ["HZ\x0001", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区"]]
    shown = master_data.preview(hub.uow(), "warehouses", csv_bytes(rows, "utf-8"), "nul.csv", ADMIN)
    assert problems(shown) == {2: ["「仓库编码」含有不可见的控制字符，请在 Excel 中重新输入"]}


def test_a_workbook_without_any_sheet_rows_is_empty(hub):
    book = openpyxl.Workbook()
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(BusinessError, match="文件是空的"):
        master_data.preview(hub.uow(), "warehouses", out.getvalue(), "blank.xlsx", ADMIN)


def test_a_missing_column_and_a_header_only_file_are_said_plainly(hub):
    shown = master_data.preview(hub.uow(), "warehouses", xlsx([["仓库编码", "仓库名称", "备注"], ["X", "Y", "Z"]]),
                                "w.xlsx", ADMIN)
    assert [problem_text(p) for p in shown.problems][:2] == ["缺少必填列「仓库类型」", "缺少必填列「省份」"]
    assert problem_text(shown.notes[0]) == "未识别的列「备注」，将被忽略"
    assert not shown.can_import
    header_only = master_data.preview(hub.uow(), "warehouses", xlsx(WAREHOUSES[:1]), "w.xlsx", ADMIN)
    assert [problem_text(p) for p in header_only.problems] == ["文件只有表头，没有数据行"]


def test_the_template_is_an_xlsx_whose_headers_import_back(hub):
    book = openpyxl.load_workbook(io.BytesIO(master_data.template("bins")))
    header = [c.value for c in book.active[1]]
    assert header[:3] == ["仓库编码*", "库位编码*", "库区*"] and "拣货顺序*" in header
    load_warehouses_and_bins(hub)
    rows = [header, ["HZ01", "B-01-01-1", "B", 1, 1, 1, 9, 9, 30]]
    assert master_data.preview(hub.uow(), "bins", xlsx(rows), "t.xlsx", ADMIN).can_import


def test_a_preview_overtaken_by_another_import_is_refused(hub):
    shown = master_data.preview(hub.uow(), "warehouses", xlsx(WAREHOUSES), "a.xlsx", ADMIN)
    master_data.confirm(hub.uow(), master_data.preview(hub.uow(), "warehouses", xlsx(WAREHOUSES[:2]), "b.xlsx", ADMIN),
                        ADMIN)
    with pytest.raises(BusinessError) as refused:
        master_data.confirm(hub.uow(), shown, ADMIN)
    assert refused.value.code == "IMPORT_STALE"
    assert count(hub, "warehouses") == 1
