"""Every measure a click can select, and every metric on the page, has a business name in both languages."""

from app.domain.fields import CODE_LISTS
from app.domain.health import METRICS
from app.services.health_drill import MEASURES


def test_every_selectable_measure_and_metric_has_a_chinese_and_an_english_name():
    names = CODE_LISTS["health_metric"]
    for key in (*MEASURES, *METRICS):
        zh, en = names[key]
        assert zh and en and zh != key and en != key
