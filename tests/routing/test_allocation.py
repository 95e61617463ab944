"""Allocation (pure): preference with overflow at the safety-stock line, split, safety stock last, gifts optional."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from app.domain.allocation import Need, StockLevel, allocate, describe_note, stock_facts

T, W, SOCK = "T2601-01-110", "W2602-01-120", "GIFT-SOCK-01-M"
NAMES = {"HZ": "杭州自营仓", "HF": "合肥云仓", "GZ": "广州云仓"}


def why(alloc):
    return "；".join(describe_note(n, NAMES) for n in alloc.notes)


def test_the_preferred_warehouse_ships_when_stock_lands_exactly_on_the_safety_level():
    stock = {("HZ", T): StockLevel(on_hand=15, reserved=2, safety=10), ("HF", T): StockLevel(50, 0, 5)}
    alloc = allocate([Need(1, T, 3)], ["HZ", "HF"], stock)  # 15 - 2 - 3 = 10 = safety: not below
    assert (alloc.outcome, alloc.warehouses) == ("allocated", ("HZ",))
    assert why(alloc) == "杭州自营仓可整单发货，发货后各商品不低于安全库存"


def test_one_unit_more_would_fall_below_safety_stock_so_the_order_overflows():
    stock = {("HZ", T): StockLevel(15, 2, 10), ("HF", T): StockLevel(50, 0, 5)}
    alloc = allocate([Need(1, T, 4)], ["HZ", "HF"], stock)
    assert alloc.warehouses == ("HF",)
    assert why(alloc) == ("杭州自营仓：T2601-01-110 可用 13 件，发 4 件后剩 9 件，低于安全库存 10 件；"
                          "溢出至合肥云仓整单发货")


def test_no_single_warehouse_can_ship_it_all_so_the_order_is_split_and_says_so():
    stock = {("HZ", T): StockLevel(5, 0, 0), ("HZ", W): StockLevel(0, 0, 0),
             ("HF", T): StockLevel(0, 0, 0), ("HF", W): StockLevel(9, 0, 0)}
    alloc = allocate([Need(1, T, 2), Need(2, W, 1)], ["HZ", "HF"], stock)
    assert (alloc.outcome, alloc.warehouses) == ("split", ("HZ", "HF"))
    assert sorted((p.warehouse, p.sku, p.qty) for p in alloc.picks) == [("HF", W, 1), ("HZ", T, 2)]
    assert "没有一个仓能整单发货，拆成 2 个包裹" in why(alloc)


def test_a_line_can_be_split_when_no_warehouse_has_enough_of_it():
    stock = {("HZ", T): StockLevel(3, 0, 0), ("HF", T): StockLevel(3, 0, 0)}
    alloc = allocate([Need(1, T, 5)], ["HZ", "HF"], stock)
    assert [(p.warehouse, p.qty) for p in alloc.picks] == [("HZ", 3), ("HF", 2)]


def test_safety_stock_is_used_only_when_nothing_else_works_and_never_when_forbidden():
    stock = {("HZ", T): StockLevel(12, 0, 10), ("HF", T): StockLevel(6, 0, 5)}
    alloc = allocate([Need(1, T, 4)], ["HZ", "HF"], stock)
    assert (alloc.warehouses, alloc.used_safety_stock) == (("HZ",), True)
    assert "动用杭州自营仓的安全库存整单发货" in why(alloc)
    strict = allocate([Need(1, T, 4)], ["HZ", "HF"], stock, allow_safety_stock=False)
    assert strict.outcome == "shortage" and strict.picks == ()


def test_splitting_forbidden_leaves_the_order_short_with_the_reason():
    stock = {("HZ", T): StockLevel(3, 0, 0), ("HF", T): StockLevel(3, 0, 0)}
    alloc = allocate([Need(1, T, 5)], ["HZ", "HF"], stock, allow_split=False)
    assert alloc.outcome == "shortage" and "规则不允许拆单" in why(alloc)


def test_a_warehouse_that_does_not_carry_the_sku_is_passed_over_with_the_reason():
    alloc = allocate([Need(1, T, 1)], ["GZ", "HZ"], {("HZ", T): StockLevel(9, 0, 0)})
    assert alloc.warehouses == ("HZ",) and why(alloc).startswith("广州云仓：不存放 T2601-01-110")


def test_not_enough_anywhere_reserves_nothing():
    alloc = allocate([Need(1, T, 9)], ["HZ", "HF"], {("HZ", T): StockLevel(4, 0, 0), ("HF", T): StockLevel(4, 1, 0)})
    assert (alloc.outcome, alloc.picks) == ("shortage", ())
    assert "缺货：T2601-01-110 需要 9 件，可选仓库合计可用 7 件" in why(alloc)


def test_a_gift_rides_with_a_parcel_or_is_left_out_but_never_splits_the_order():
    stock = {("HZ", T): StockLevel(9, 0, 0), ("HF", SOCK): StockLevel(99, 0, 0)}
    alloc = allocate([Need(1, T, 1), Need(2, SOCK, 1, optional=True)], ["HZ", "HF"], stock)
    assert alloc.warehouses == ("HZ",) and [n.sku for n in alloc.dropped] == [SOCK]
    assert "赠品 GIFT-SOCK-01-M×1 在发货仓缺货，未随单发出" in why(alloc)


def test_stock_levels_as_rule_inputs_describe_the_tightest_line_per_warehouse_and_overall():
    stock = {("HZ", T): StockLevel(15, 2, 10), ("HZ", W): StockLevel(40, 0, 5), ("HF", T): StockLevel(4, 0, 0)}
    facts = stock_facts([Need(1, T, 3), Need(2, W, 1), Need(3, SOCK, 1, optional=True)], stock, ["HZ", "HF"])
    assert facts == {"stock.HZ.available": 13, "stock.HZ.can_ship": True,
                     "stock.HF.available": 0, "stock.HF.can_ship": False,  # 合肥 does not carry the hoodie
                     "stock.min_available": 17}
    assert stock_facts([Need(1, T, 4)], stock, ["HZ"])["stock.HZ.can_ship"] is False  # 13 - 4 < safety 10


def test_an_order_whose_lines_were_all_refunded_needs_nothing():
    alloc = allocate([], ["HZ"], {})
    assert (alloc.outcome, alloc.picks) == ("skipped", ()) and why(alloc) == "没有需要发货的商品（各行均已退款）"


LEVELS = st.builds(StockLevel, st.integers(0, 30), st.integers(0, 30), st.integers(0, 10)).filter(lambda s: s.reserved <= s.on_hand)


@given(st.dictionaries(st.tuples(st.sampled_from(["HZ", "HF", "GZ"]), st.sampled_from([T, W, SOCK])), LEVELS),
       st.lists(st.tuples(st.sampled_from([T, W, SOCK]), st.integers(1, 12), st.booleans()), min_size=1, max_size=4),
       st.permutations(["HZ", "HF", "GZ"]), st.booleans(), st.booleans())
def test_allocation_never_takes_more_than_is_free_and_either_covers_every_required_unit_or_takes_nothing(
        stock, lines, preference, allow_split, allow_safety):
    needs = [Need(i, sku, qty, optional) for i, (sku, qty, optional) in enumerate(lines, 1)]
    alloc = allocate(needs, preference, stock, allow_split=allow_split, allow_safety_stock=allow_safety)
    required = [n for n in needs if not n.optional] or needs
    required_lines = {n.line_no for n in required}
    taken, taken_required, by_line = Counter(), Counter(), Counter()
    for p in alloc.picks:
        taken[(p.warehouse, p.sku)] += p.qty
        by_line[p.line_no] += p.qty
        if p.line_no in required_lines:
            taken_required[(p.warehouse, p.sku)] += p.qty
    for key, qty in taken.items():
        assert qty <= stock[key].free  # never more than is physically there and unreserved
    if not alloc.used_safety_stock:  # gifts may use safety stock; the order's own lines only as a last resort
        for key, qty in taken_required.items():
            assert qty <= max(0, stock[key].above_safety)
    if alloc.outcome == "shortage":
        assert alloc.picks == ()
    else:
        assert all(by_line[n.line_no] == n.qty for n in required)
        assert len(alloc.warehouses) == 1 or allow_split
