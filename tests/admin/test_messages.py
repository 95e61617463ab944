"""The admin station's sentences: both languages fill the same facts, and every code the pages name exists."""

from __future__ import annotations

import string

import pytest

from app.domain.fields import CODE_LISTS
from app.domain.messages import MESSAGES

PREFIXES = ("IMPORT_", "SHOP_", "STORE_", "FIELD_DEF_", "PRINTER_TEST_", "TEST_PRINTER_", "PRINTER_SAVED",
            "PRINTER_ADDRESS_MISSING", "RULE_NOT_JSON", "ADMIN_CALL_FAILED")
OURS = sorted(code for code in MESSAGES if code.startswith(PREFIXES))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", OURS)
def test_chinese_and_english_name_the_same_facts(code):
    zh, en = MESSAGES[code]
    assert placeholders(zh) == placeholders(en)
    assert zh and en and zh != en


def test_every_admin_code_list_has_both_languages():
    for codes in ("import_kind", "import_action", "value_type", "printer_backend"):
        assert all(zh and en for zh, en in CODE_LISTS[codes].values()), codes
    assert len(OURS) > 30
