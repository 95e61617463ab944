"""Windows at 150 %: the 客服 workspace and the map rendered at 1.5× display scale and 1.5× fonts, nothing cut off."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.demo.seed import seed_demo

SCRIPT = Path(__file__).with_name("scaled_station.py")


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=20, n_orders=300, anchor=datetime.now(UTC) - timedelta(hours=2))
    return hub


def render(hub, database_url, tmp_path, shots_dir, tag, lang, *, scale="1", font_scale="1"):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=scale)
    done = subprocess.run([sys.executable, str(SCRIPT), database_url.render_as_string(hide_password=False),
                           str(tmp_path / tag), shots_dir, tag, lang, font_scale],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_at_150_percent_display_scaling_nothing_is_cut_off_and_the_picture_is_sharper(demo_hub, database_url, tmp_path,
                                                                                       shots_dir, lang):
    normal = render(demo_hub, database_url, tmp_path, shots_dir, "scale100", lang)
    scaled = render(demo_hub, database_url, tmp_path, shots_dir, "scale150", lang, scale="1.5")
    assert normal["clipped"] == [] and scaled["clipped"] == []
    assert scaled["dpr"] == 1.5 and normal["dpr"] == 1.0
    assert scaled["grab"] == [round(900 * 1.5), round(700 * 1.5)]  # drawn at device resolution, not blown up
    assert scaled["labels_placed"] == normal["labels_placed"]  # same logical layout


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_with_fonts_half_again_as_large_nothing_is_cut_off(demo_hub, database_url, tmp_path, shots_dir, lang):
    large = render(demo_hub, database_url, tmp_path, shots_dir, "font150", lang, font_scale="1.5")
    assert large["clipped"] == []
    assert large["labels_placed"] >= 10  # fewer labels fit, but the busiest provinces still read
