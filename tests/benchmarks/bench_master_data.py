"""Master-data import figures: an .xlsx of N SKUs with opening stock — read, preview (checked row by row) and confirm.

Run: .venv/bin/python tests/benchmarks/bench_master_data.py [--skus 10000]
Prints a human summary, then one JSON line (last) with every figure.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bootstrap import bootstrap  # noqa: E402
from app.domain.actor import Actor  # noqa: E402
from app.domain.master_data import ean13_check_digit  # noqa: E402
from app.services import master_data  # noqa: E402
from app.settings import Settings  # noqa: E402

ADMIN = Actor("bench", "配置工作站-bench", "127.0.0.1")


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=10_000)
    n = parser.parse_args().skus
    with tempfile.TemporaryDirectory(prefix="orderhub-master-") as tmp:
        app = bootstrap(Settings(data_dir=Path(tmp)))
        try:
            with app.engine.begin() as conn:  # the importer is an administrator (master_data.import)
                conn.execute(sa.text("INSERT INTO users (login, display_name, role) VALUES ('bench', '测速管理员', 'admin')"))
            for kind, rows in (("warehouses", [["仓库编码", "仓库名称", "仓库类型", "省份", "城市", "详细地址"],
                                               ["HZ01", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区"]]),
                               ("bins", [["仓库编码", "库位编码", "库区", "排", "架", "层", "X坐标（米）", "Y坐标（米）", "拣货顺序"]]
                                + [["HZ01", f"A-{i:02d}-01-1", "A", i, 1, 1, i, 1, i] for i in range(1, 51)])):
                master_data.confirm(app.uow(), master_data.preview(app.uow(), kind, xlsx(rows), kind, ADMIN), ADMIN)
            header = ["商品编码", "条码", "款号", "商品名称", "颜色", "尺码", "单价（元）", "仓库编码", "库位编码", "库存数量"]
            rows = [header] + [[f"S{i:06d}", (b := f"69{i:010d}") + str(ean13_check_digit(b)), f"ST{i // 10:05d}", "儿童卫衣",
                                "红", str(100 + i % 10 * 10), "89.00", "HZ01", f"A-{i % 50 + 1:02d}-01-1", i % 40]
                               for i in range(n)]
            content = xlsx(rows)
            t0 = time.perf_counter()
            table = master_data.read_table(content, "skus.xlsx")
            t1 = time.perf_counter()
            shown = master_data.preview(app.uow(), "skus", content, "skus.xlsx", ADMIN)
            t2 = time.perf_counter()
            assert shown.can_import, shown.summary()
            result = master_data.confirm(app.uow(), shown, ADMIN)
            t3 = time.perf_counter()
        finally:
            app.close()
    figures = {"skus": n, "file_kb": round(len(content) / 1024), "rows_read": len(table.rows),
               "read_s": round(t1 - t0, 2), "preview_s": round(t2 - t1, 2), "confirm_s": round(t3 - t2, 2),
               "new": result.new, "rows_per_s_end_to_end": round(n / (t3 - t0))}
    print(f"{n} SKUs ({figures['file_kb']} KB .xlsx): read {figures['read_s']} s, preview {figures['preview_s']} s "
          f"(includes reading again), confirm {figures['confirm_s']} s (one transaction, checked again)")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
