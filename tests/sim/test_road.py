"""The procedural road: it never crosses itself, and road coordinates round-trip."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage_plugins.worlds.road import Road


@pytest.mark.parametrize("seed", range(30))
def test_even_the_sharpest_roads_never_loop_back(seed):
    road = Road(np.random.default_rng(seed), length=300.0, max_curvature=0.5, lane_width=1.0)
    assert np.all(np.diff(road.x) > 0.0)  # always heading forward, so no self-intersection
    assert np.abs(road.curvature).max() <= 0.5 + 1e-12


def test_pose_and_project_round_trip():
    road = Road(np.random.default_rng(3), length=60.0, max_curvature=0.3, lane_width=1.0)
    s = np.array([7.3, 20.1, 41.7])
    d = np.array([-0.5, 0.2, 0.8])
    x, y, heading = road.pose(s, d)
    hint = 0
    for i in range(3):
        hint, s_back, d_back, heading_back = road.project(float(x[i]), float(y[i]), int(s[i] / 0.25) - 3)
        assert s_back == pytest.approx(s[i], abs=0.02) and d_back == pytest.approx(d[i], abs=0.02)
        assert heading_back == pytest.approx(heading[i], abs=0.02)


def test_curvature_lookups():
    road = Road(np.random.default_rng(5), length=60.0, max_curvature=0.3, lane_width=1.0)
    index = 100
    assert road.curvature_ahead(index, np.array([0, 8])).tolist() == [road.curvature[index], road.curvature[index + 8]]
    assert road.max_curvature_ahead[index] == pytest.approx(np.abs(road.curvature[index : index + 24]).max())
