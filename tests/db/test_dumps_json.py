"""JSONB values written by orjson read back exactly as the standard library wrote them (issue #18)."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from app.db.bulk import dumps_json


def _stdlib(value):
    def plain(v):
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, (datetime, date)):
            return v.isoformat()
        raise TypeError(type(v).__name__)
    return json.dumps(value, ensure_ascii=False, default=plain)


def test_same_document_as_the_standard_library_for_amounts_times_text_and_big_integers():
    cst = timezone(timedelta(hours=8))
    cases = [
        [{"line_no": 1, "sku": "连衣裙-红-M", "qty": 2, "unit_price": Decimal("199.00"), "paid": Decimal("0.10"),
          "is_gift": False, "gift_rule": None}],
        {"at": datetime(2026, 3, 1, 9, 30, 0, 123, tzinfo=UTC), "local": datetime(2026, 3, 1, 17, 30, tzinfo=cst),
         "day": date(2026, 3, 1), "nested": {"a": [1, [2, {"b": "引号\"与\\反斜杠"}]]}},
        {"id": 2**70, "n": -(2**64)},  # beyond 64 bits: orjson refuses, the standard library writes it
        {1: "non-string key"},
    ]
    for value in cases:
        assert json.loads(dumps_json(value)) == json.loads(_stdlib(value))
