"""Command line for master data: `orderhub import warehouses|bins|skus FILE [--confirm]`, `orderhub import-template`.

Without ``--confirm`` the file is only checked: every refused row is printed with what is wrong,
and the exit code is 1 when any row is refused. With ``--confirm`` the rows are written, all or
none, exactly as at the admin station.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.cli.table import table
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.settings import Settings


def register(sub: Any) -> None:
    """Add `import` and `import-template` to the `orderhub` subcommands."""
    kinds = sorted(CODE_LISTS["import_kind"])
    imp = sub.add_parser("import", help="从 Excel/CSV 导入仓库、库位、商品与库存 / import master data")
    imp.add_argument("kind", choices=kinds, help="warehouses（仓库）/ bins（库位）/ skus（商品与库存）")
    imp.add_argument("file", help=".xlsx 或 CSV（UTF-8、GBK 均可）/ .xlsx or CSV")
    imp.add_argument("--confirm", action="store_true", help="检查无误后写入（全部或不写）/ write if every row is good")
    imp.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    tpl = sub.add_parser("import-template", help="导出导入模板（.xlsx）/ write the import template")
    tpl.add_argument("kind", choices=kinds)
    tpl.add_argument("out", help="保存到 / output .xlsx")


def import_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.cli.identity import signed_in_actor
    from app.services import master_data

    try:
        content = Path(args.file).read_bytes()
    except OSError as err:
        raise BusinessError("IMPORT_UNREADABLE", file=args.file, reason=err.strerror or type(err).__name__) from None
    hub = bootstrap(settings)
    try:
        actor = signed_in_actor(hub, args)  # the signed-in person: they need「导入基础资料」
        shown = master_data.preview(hub.uow(), args.kind, content, Path(args.file).name, actor)
        for problem in (*shown.problems, *shown.notes):
            print(master_data.problem_text(problem, lang))
        refused = [r for r in shown.rows if r.problems]
        if refused:
            sep = "；" if lang == "zh" else "; "
            print(table([label("import", "line", lang), label("import", "problems", lang)],
                        [[str(r.line), sep.join(master_data.problem_text(p, lang) for p in r.problems)] for r in refused]))
        print(shown.summary(lang))
        if not shown.can_import:
            return 1
        if args.confirm:
            print(master_data.confirm(hub.uow(), shown, actor).message(lang))
        return 0
    finally:
        hub.close()


def template_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import master_data

    Path(args.out).write_bytes(master_data.template(args.kind, lang))
    print(code_label("import_kind", args.kind, lang) + ("：" if lang == "zh" else ": ") + args.out)
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings, Lang], int]] = {
    "import": import_command, "import-template": template_command,
}
