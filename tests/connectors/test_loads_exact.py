"""Answers are read by orjson only where it reads them exactly as ``json.loads(parse_float=Decimal)`` does,
and orders are cut out of an answer verbatim however the platform spaced it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.base import loads_exact
from connectors.douyin import _spans

CASES = [
    b'{"code":10000,"data":{"total":2,"items":[{"a":1,"b":"x"}]}}',
    b'{"amount":12.50,"n":1}',  # a decimal amount: Decimal("12.50"), never the float 12.5
    b'{"amount":1E+2}',
    b'{"id":123456789012345678901234567890}',  # beyond 64 bits: the exact int, never a float
    b'{"id":-9223372036854775809}',
    b'{"v":NaN}',  # the standard reader's leniency is kept
    '{"name":"王**","addr":"新华路*号"}'.encode(),
    b'[1, 2.0, {"x": [3, 4.25]}]',
    b'{"a" :\n\t -1.5e3}',  # a float however it is spaced
    b' 2.5',  # a document that is one number
    b'{"id":9223372036854775807,"n":-9223372036854775808}',  # 19 digits inside 64 bits: ints
    b'{"id":18446744073709551616}',
    '{"remark":"10:1.5 到货,3e","n":[7]}'.encode(),  # float-looking text inside a string: still ints
    b'{"s":"a","n":[1,\r\n\t-0.5]}',  # a float after a comma and every kind of JSON space
    b'{"big":123456789012345678,"s":"x"}',  # 18 digits: an int, read by orjson alone
    b'{"big":1234567890123456789}',  # 19 digits: looked at, still an int
    b'{"room_id":9999999999999999999,"p":[5416642052184731622]}',  # the largest 19 digits: ints
    b'{"n":-9999999999999999999}',  # 19 digits below i64 (orjson: a float): the exact int
    b'{"id":18446744073709551615,"x":[18446744073709551616]}',  # u64's last, one beyond: exact ints
    b'{"big":[99999999999999999999]}',  # 20 digits in an array: the exact int
    b'\n\t7e-1',  # a whole document that is a float, after spaces
    '{"a":"x:1.5","b":{"c":"d,2e9"},"e":[0]}'.encode(),  # only strings look like floats
]


@pytest.mark.parametrize("raw", CASES)
def test_reads_exactly_as_the_standard_reader(raw: bytes) -> None:
    want = json.loads(raw, parse_float=Decimal)
    got = loads_exact(raw)
    assert repr(got) == repr(want)  # repr: Decimal("12.50") vs 12.5 and int vs float must not compare equal


def test_decimal_amounts_stay_decimal() -> None:
    assert loads_exact(b'{"a":0.1}')["a"] == Decimal("0.1")
    assert type(loads_exact(b'{"a":12}')["a"]) is int


@pytest.mark.parametrize("raw", [b'{"a":', b"", b"\xff\xfe", b'{"a":1}x'])
def test_malformed_raises_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads_exact(raw)


@pytest.mark.parametrize("spacing", ["compact", "spaced", "escaped"])
def test_orders_cut_verbatim_whatever_the_spacing(spacing: str) -> None:
    orders = [{"order_id": "1", "name": "童装<T恤>", "n": [1, 2]}, {"order_id": "2", "price": 12.5}, {"order_id": "3"}]
    if spacing == "compact":
        items = ",".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in orders)
    elif spacing == "spaced":
        items = " ,\n ".join(json.dumps(o, ensure_ascii=False, indent=1) for o in orders)
    else:  # what Go's encoding/json writes: < > escaped, ASCII only
        items = ",".join(json.dumps(o).replace("<", "\\u003c").replace(">", "\\u003e") for o in orders)
    text = '{"code":10000,"log_id":"X","data":{"shop_order_list":[' + items + '],"total":3}}'
    decoded = loads_exact(text.encode())["data"]["shop_order_list"]
    spans = _spans(text, ("data", "shop_order_list"), decoded)
    assert [loads_exact(s) for s in spans] == decoded
    assert all(s.decode() in text for s in spans)
    assert spans == _spans(text, ("data", "shop_order_list"))  # the same bytes as parsing would cut
    assert spans == _spans(text, ("data", "shop_order_list"), decoded, text.encode())  # cut from the bytes alike


@pytest.mark.parametrize("order", ["compact first", "spaced first", "float first"])
def test_orders_cut_from_the_answers_bytes_are_its_own(order: str) -> None:
    """Compact orders are cut from the bytes; one written otherwise (spaces, a float) is cut from the text
    after them, and the ones after it again either way: every span is the platform's bytes, in order."""
    compact = [json.dumps({"order_id": str(n), "name": "童装<T恤>·" * n, "n": [n]}, ensure_ascii=False,
                          separators=(",", ":")) for n in range(1, 4)]
    other = {"compact first": '{"order_id": "9", "x": [1, 2]}', "spaced first": '{ "order_id":"9" }',
             "float first": '{"order_id":"9","price":12.5}'}[order]
    elements = compact[:1] + [other] + compact[1:] if order == "compact first" else [other] + compact
    text = '{"code":10000,"msg":"成功","data":{"shop_order_list":[ ' + " , ".join(elements) + ' ],"total":4}}'
    raw = text.encode()
    decoded = loads_exact(raw)["data"]["shop_order_list"]
    spans = _spans(text, ("data", "shop_order_list"), decoded, raw)
    assert spans == [e.encode() for e in elements]
