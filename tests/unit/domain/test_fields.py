"""The field dictionary: every field and coded value has a business name in both languages."""

import pytest

from app.db.models import Base
from app.domain.fields import CODE_LISTS, FIELDS, code_from_label, code_label, label
from app.domain.status import OrderStatus


def test_every_field_has_a_chinese_and_an_english_label():
    for entity, defs in FIELDS.items():
        for key, definition in defs.items():
            assert definition.zh and definition.en, (entity, key)
            assert definition.zh != key and definition.en != key


def test_the_user_named_order_fields_carry_their_own_words():
    assert [label("order", k) for k in ("order_no", "platform", "ordered_at", "customer_id", "items",
                                        "original_amount", "paid_amount", "status", "tracking_no",
                                        "invoice_status")] == [
        "订单ID", "来源平台", "下单时间", "客户ID", "商品明细", "原始金额", "实付金额", "订单当前所处环节", "物流单号", "开票状态"]


def test_every_order_column_has_a_business_label():
    internal = {"id", "shop_id", "warehouse_id", "receiver_phone_tail", "receiver_token", "platform_updated_at", "payload_sha256", "receiver_fingerprint",
                "created_at"}
    columns = set(Base.metadata.tables["orders"].c.keys()) - internal
    assert columns <= set(FIELDS["order"])


def test_status_codes_and_the_machine_agree():
    assert set(CODE_LISTS["order_status"]) == {s.value for s in OrderStatus}


@pytest.mark.parametrize("typed", ["配货中", "Being picked", "being picked", "allocating"])
def test_people_may_type_a_stage_in_either_language(typed):
    assert code_from_label("order_status", typed) == "allocating"


def test_an_unknown_code_is_shown_as_it_is_never_hidden():
    assert code_label("platform", "kuaishou") == "kuaishou"
