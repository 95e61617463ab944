"""COPY writes every column any row names, whether the rows name the same columns or not."""

from decimal import Decimal

import sqlalchemy as sa

from app.db.bulk import copy_rows


def _shop_rows(hub):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT code, name, platform, api_base_url, settings FROM shops WHERE code LIKE 'COPY-%' ORDER BY code")).all()


def test_rows_naming_the_same_columns_are_written_whole(hub):
    with hub.uow() as uow:
        copy_rows(uow.session, "shops", [{"code": f"COPY-{n}", "name": f"店{n}", "platform": "douyin",
                                          "settings": {"满": Decimal("299.00"), "n": n}} for n in range(3)])
        uow.commit()
    assert _shop_rows(hub) == [(f"COPY-{n}", f"店{n}", "douyin", None, {"满": "299.00", "n": n}) for n in range(3)]


def test_a_column_only_a_later_row_names_is_written_for_it_and_empty_for_the_others(hub):
    rows = [{"code": "COPY-a", "name": "甲", "platform": "taobao", "settings": {}},
            {"code": "COPY-b", "name": "乙", "platform": "pdd", "api_base_url": "http://127.0.0.1:1"},
            {"platform": "wechat", "code": "COPY-c", "name": "丙"}]
    with hub.uow() as uow:
        copy_rows(uow.session, "shops", rows)
        uow.commit()
    assert _shop_rows(hub) == [("COPY-a", "甲", "taobao", None, {}), ("COPY-b", "乙", "pdd", "http://127.0.0.1:1", None),
                               ("COPY-c", "丙", "wechat", None, None)]
