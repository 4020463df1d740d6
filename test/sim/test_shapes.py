"""sim.shapes: ray-cast primitives hit where the geometry says, and their corners bound it."""

from __future__ import annotations

import math

import numpy as np

from spatialvlm_ros.sim.shapes import Bowl, Box, Cup, Plane

DOWN = np.array([[0.0, 0.0, -1.0]])


def test_plane_and_box_hit_at_the_analytic_distance():
    origin = np.array([0.0, 0.0, 2.0])
    assert Plane((0, 0, 0.5), (0, 0, 1)).hit(origin, DOWN)[0] == np.float64(1.5)
    box = Box((0.0, 0.0, 0.3), (0.2, 0.1, 0.4), yaw=math.radians(30))
    assert math.isclose(box.hit(origin, DOWN)[0], 2.0 - 0.5)  # top face at z = 0.3 + 0.2
    assert np.isinf(box.hit(origin + [1.0, 0, 0], DOWN)[0])  # beside it: missed
    c = box.corners()
    assert np.allclose(c[:, 2].min(), 0.1) and np.allclose(c[:, 2].max(), 0.5)
    r = np.hypot(0.1, 0.05)
    assert np.all(np.hypot(c[:, 0], c[:, 1]) <= r + 1e-12)  # the yawed footprint's corners


def test_cup_and_bowl_are_hollow_with_a_floor():
    origin = np.array([0.0, 0.0, 1.0])
    cup = Cup(base=(0.0, 0.0, 0.0), radius=0.04, height=0.1, inner=0.035, floor=0.005)
    assert math.isclose(cup.hit(origin, DOWN)[0], 1.0 - 0.005)  # straight down the inside: the floor
    wall = origin + [0.0375, 0.0, 0.0]
    assert math.isclose(cup.hit(wall, DOWN)[0], 1.0 - 0.1)  # on the rim
    cz = cup.corners()[:, 2]
    assert cz.min() == 0.0 and math.isclose(cz.max(), 0.1)
    bowl = Bowl(rim=(0.0, 0.0, 0.1), radius=0.08, depth=0.05)
    t = bowl.hit(origin, DOWN)[0]
    assert 1.0 - 0.1 < t <= 1.0 - 0.05 + 1e-9  # inside the bowl, above its bottom
