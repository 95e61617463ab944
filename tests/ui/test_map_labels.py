"""The order map stays readable: labels never overlap, a legend, tooltips, parcel bubbles, English coloured alike."""

import itertools
import random
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QHelpEvent
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QToolTip

from app.ui.order_map import ENGLISH, OrderMap, geometry, shade

EAST = ("北京市", "天津市", "河北省", "山东省", "江苏省", "上海市", "浙江省", "安徽省")


def figures() -> tuple[dict[str, int], dict[str, float]]:
    """Every province with orders; the east crowded and busiest, as a real day looks."""
    rng = random.Random(20)
    counts = {p.name: rng.randint(3, 90) for p in geometry().provinces}
    counts.update({"广东省": 950, "浙江省": 820, "江苏省": 760, "上海市": 700, "北京市": 640, "山东省": 590,
                   "天津市": 300, "河北省": 280, "香港特别行政区": 120, "澳门特别行政区": 40})
    rates = {name: (n % 17) / 100 for name, n in counts.items()}
    return counts, rates


def parcels(n_dense: int = 240) -> list[tuple[float, float]]:
    """A dense knot of parcels around Shanghai and Hangzhou, a few scattered in the west."""
    rng = random.Random(7)
    dense = [(121.0 + rng.uniform(-0.8, 0.8), 31.0 + rng.uniform(-0.6, 0.6)) for _ in range(n_dense)]
    return dense + [(87.6, 43.8), (91.1, 29.6), (103.8, 36.1)]


@pytest.fixture
def crowded_map(qtbot, cjk_font):
    m = OrderMap()
    qtbot.addWidget(m)
    counts, rates = figures()
    m.set_counts(counts, rates=rates)
    m.set_couriers(parcels())
    m.resize(900, 700)
    m.show()
    qtbot.waitExposed(m)
    return m


@pytest.mark.parametrize("size", [(360, 300), (520, 420), (700, 560), (900, 700), (1400, 1000)])
def test_labels_never_overlap_each_other_the_legend_or_the_inset_at_any_size(crowded_map, size):
    crowded_map.resize(*size)
    placement, _ = crowded_map.placement()
    rects = [p.rect for p in placement.placed]
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b)
    (_, _), (_, inset) = crowded_map._frames()
    bounds = crowded_map.rect().toRectF()
    for r in rects:
        assert bounds.contains(r) and not r.intersects(inset) and not r.intersects(crowded_map.legend_rect())
    labelled = {p.name for p in placement.placed} | {w.name for w in placement.hidden}
    assert labelled == set(figures()[0])  # every province with orders is either labelled or waits for a hover
    assert "广东省" in {p.name for p in placement.placed}  # the busiest province always gets its label


def test_the_eastern_provinces_are_readable_and_the_busiest_win_the_room(crowded_map):
    placement, _ = crowded_map.placement()
    placed = {p.name for p in placement.placed}
    assert {"浙江省", "江苏省", "上海市", "北京市", "山东省"} <= placed
    counts = figures()[0]
    quietest_placed_in_the_east = min(counts[n] for n in placed & set(EAST))
    assert all(counts[w.name] <= quietest_placed_in_the_east for w in placement.hidden if w.name in EAST)
    assert any(p.leader for p in placement.placed)  # some were moved aside and lead back to their province


def test_a_province_without_room_for_its_label_shows_it_on_hover(qtbot, crowded_map, shots_dir):
    crowded_map.resize(520, 420)
    placement, _ = crowded_map.placement()
    assert placement.hidden, "a small map of a busy day must leave some labels to the hover"
    hidden = max(placement.hidden, key=lambda w: w.priority)
    target = crowded_map.screen_point(hidden.name)
    assert crowded_map.province_at(target) == hidden.name
    qtbot.mouseMove(crowded_map, target.toPoint())
    qtbot.waitUntil(lambda: crowded_map._hover == hidden.name)
    before = crowded_map.grab().toImage()
    assert crowded_map.grab().save(str(Path(shots_dir) / f"map-hover-{hidden.name}.png"))
    qtbot.mouseMove(crowded_map, QPoint(2, 2))
    qtbot.waitUntil(lambda: crowded_map._hover is None)
    assert crowded_map.grab().toImage() != before  # the hover label is gone again


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen QPA: the tooltip window
def test_the_tooltip_gives_the_provinces_order_count_and_exception_rate(qtbot, crowded_map):
    point = crowded_map.screen_point("四川省")
    counts, rates = figures()
    text = crowded_map.tooltip_at(point)
    assert text == f"四川省\n订单 {counts['四川省']} 单 · 异常率 {rates['四川省']:.0%}"
    event = QHelpEvent(QEvent.Type.ToolTip, point.toPoint(), crowded_map.mapToGlobal(point.toPoint()))
    QApplication.sendEvent(crowded_map, event)
    assert QToolTip.text() == text
    assert crowded_map.tooltip_at(QPointF(3, 3)) is None  # nothing under the corner: no tooltip


def test_dense_parcels_become_one_bubble_with_their_count(crowded_map, shots_dir):
    _, clusters = crowded_map.placement()
    bubbles = [c for c in clusters if c.count > 1]
    assert bubbles and max(c.count for c in bubbles) >= 20
    assert sum(c.count for c in clusters) == len(parcels())  # none lost, none counted twice
    assert len(clusters) < len(parcels()) / 4
    lonely = [c for c in clusters if c.count == 1]
    assert len(lonely) >= 3  # the scattered western ones stay single dots
    biggest = max(bubbles, key=lambda c: c.count)
    assert crowded_map.tooltip_at(biggest.centre) == f"在途包裹 {biggest.count} 件"
    assert crowded_map.grab().save(str(Path(shots_dir) / "map-dense-parcels-zh.png"))


def test_the_english_map_is_coloured_exactly_like_the_chinese_one_with_english_labels(qtbot, cjk_font, shots_dir):
    counts, rates = figures()
    maps = {}
    for lang in ("zh", "en"):
        m = OrderMap(lang=lang)
        qtbot.addWidget(m)
        m.set_counts(counts, rates=rates)
        m.set_couriers(parcels())
        m.resize(900, 700)
        maps[lang] = m
        assert m.grab().save(str(Path(shots_dir) / f"map-count-{lang}.png"))
    assert maps["zh"]._base_pixmap().toImage() == maps["en"]._base_pixmap().toImage()
    texts = {p.text.rsplit(" ", 1)[0] for p in maps["en"].placement()[0].placed}
    assert texts <= set(ENGLISH.values()) and "Guangdong" in texts
    assert maps["en"].tooltip_at(maps["en"].screen_point("四川省")).startswith("Sichuan\n")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_exception_rate_mode_colours_by_rate_and_its_legend_reads_percentages(qtbot, cjk_font, shots_dir, lang):
    counts, rates = figures()
    m = OrderMap(lang=lang)
    qtbot.addWidget(m)
    m.resize(900, 700)
    m.set_counts(counts, rates=rates, measure="count")
    by_count = m._base_pixmap().toImage()
    m.set_counts(counts, rates=rates, measure="exception_rate")
    assert m._base_pixmap().toImage() != by_count
    worst = max(rates, key=rates.get)
    assert m._colour(worst) == shade(1.0)  # the darkest shade goes to the worst rate
    assert m.fmt(max(rates.values())) == f"{max(rates.values()):.0%}"
    legend = m.legend_rect().toRect()
    image = m.grab().toImage()
    assert image.pixelColor(legend.center()).name() != "#ffffff" or image.pixelColor(legend.topLeft() + QPoint(20, 30)).name() != "#ffffff"
    assert m.grab().save(str(Path(shots_dir) / f"map-exception-{lang}.png"))


def test_labels_keep_clear_of_parcel_bubbles_so_their_counts_stay_readable(crowded_map):
    placement, clusters = crowded_map.placement()
    for c in clusters:
        if c.count > 1:
            for p in placement.placed:
                assert not p.rect.contains(c.centre)


def test_parcel_bubbles_never_cover_one_another(crowded_map):
    from app.ui.order_map import CLUSTER_CELL

    _, clusters = crowded_map.placement()
    bubbles = [c for c in clusters if c.count > 1]
    for a, b in itertools.combinations(bubbles, 2):
        d = ((a.centre.x() - b.centre.x()) ** 2 + (a.centre.y() - b.centre.y()) ** 2) ** 0.5
        assert d >= CLUSTER_CELL
