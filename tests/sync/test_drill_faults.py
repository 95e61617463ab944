"""Fault drills on real processes: the server stopped hard, its sessions terminated, frozen; the station killed -9."""

import pytest

from tests.support.factories import make_order
from tests.sync.drills import server_faults, station_kills, two_programs

CLEAN = {"lost": 0, "doubled": 0, "out_of_order": 0, "divergent": 0}


def _clean(figures):
    return {k: figures[k] for k in CLEAN}


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["immediate", "terminate", "freeze"])
def test_a_server_stopped_hard_terminated_or_frozen_mid_replay_loses_and_doubles_nothing(own_pg, own_hub,
                                                                                        make_station, fault):
    placed = [make_order(own_hub, "paid") for _ in range(4)]
    station = make_station(own_hub.engine.url, start=False, op_timeout=1.5, connect_timeout=1)
    cycles = 2 if fault == "immediate" else 1
    figures = server_faults(own_pg, own_hub.engine, station, placed, fault, cycles=cycles, per_cycle=60,
                            offline_writes=5, hold=0.5)
    assert _clean(figures) == CLEAN, figures
    assert figures["applied"] == figures["commands"] == cycles * 60 + 60 + cycles * 5
    assert figures["drain_after_recovery_max_s"] <= 30
    if fault != "terminate":  # terminated sessions reconnect at once; a stopped or frozen server is 离线
        assert figures["went_offline"] == cycles
    else:
        assert figures["terminated_sessions"] >= 1


@pytest.mark.slow
def test_a_station_killed_at_random_points_of_its_replay_loses_and_doubles_nothing(hub, tmp_path):
    placed = [make_order(hub, "paid") for _ in range(4)]
    figures = station_kills(hub.engine.url, hub.engine, tmp_path / "killed", placed, kills=4, per_kill=150)
    print(figures)  # killed_mid_replay, killed_in_doubt: where the kills landed
    assert _clean(figures) == CLEAN, figures
    assert figures["file_intact"] and figures["applied"] == figures["commands"] == 600


@pytest.mark.slow
def test_two_station_programs_on_one_data_folder_one_drains_and_the_other_says_why(hub, tmp_path):
    placed = [make_order(hub, "paid") for _ in range(3)]
    figures = two_programs(hub.engine.url, hub.engine, tmp_path / "shared", placed, commands=40, each_adds=5)
    assert _clean(figures) == CLEAN, figures
    assert figures["applied"] == figures["commands"] == 40 + 3 * 5
    assert figures["locked_out_until_holder_died"] and figures["holder_named"], figures
    assert "另一个工作台程序" in figures["told"] and "只可查看" in figures["told"], figures
