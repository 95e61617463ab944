"""Write-back fixtures: a simulated channel per platform on a fresh database."""

from __future__ import annotations

import pytest

from tests.writeback.channel import Channel


@pytest.fixture
def channel(hub, request):
    made: list[Channel] = []

    def make(platform: str, **kw) -> Channel:
        made.append(Channel(hub, platform, **kw))
        return made[-1]

    yield make
    for c in made:
        c.close()
