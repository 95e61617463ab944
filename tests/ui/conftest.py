"""UI tests run on Qt's offscreen platform with the bundled CJK font."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHOTS = os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens")


@pytest.fixture(scope="session")
def cjk_font(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


@pytest.fixture
def shots_dir():
    os.makedirs(SHOTS, exist_ok=True)
    return SHOTS
