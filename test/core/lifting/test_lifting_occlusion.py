"""core.lifting.occlusion: occluder pixels on an object's outline, against a scene whose geometry is known."""

from __future__ import annotations

import numpy as np

from spatialvlm_ros.core.lifting.occlusion import median_or_none, occluder_above_heights
from spatialvlm_ros.core.types import Intrinsics

K = Intrinsics(500.0, 500.0, 50.0, 40.0, 100, 80)
UP = np.array([0.0, -1.0, 0.0])  # a level camera: up is the image's up


def _scene():
    """A wall at 1.0 m; a finger (rows 30-59, columns 40-49) at 0.8 m whose top rows are hidden
    by a palm at 0.7 m (rows 15-29, columns 30-69)."""
    depth = np.full((80, 100), 1.0, np.float32)
    mask = np.zeros((80, 100), bool)
    mask[30:60, 40:50] = True
    depth[mask] = 0.8
    depth[15:30, 30:70] = 0.7
    return mask, depth


def _height(row: int, z: float) -> float:
    return -(row - K.cy) / K.fy * z


def test_occluder_above_heights_reads_the_palm_edge():
    mask, depth = _scene()
    h = occluder_above_heights(mask, depth, (0, 0), K, UP)
    assert h.size == 10  # one per column of the finger
    np.testing.assert_allclose(h, _height(29, 0.7))  # the palm's lowest row


def test_occluder_above_heights_sees_nothing_without_an_occluder():
    mask, depth = _scene()
    depth[15:30, 30:70] = 1.0  # the palm gone: the wall behind borders the finger's top
    assert occluder_above_heights(mask, depth, (0, 0), K, UP).size == 0


def test_occluder_above_heights_looks_past_dropped_edge_pixels():
    """Depth sensors drop pixels at depth edges: the rows on both sides of the outline are NaN."""
    mask, depth = _scene()
    depth[29:31, 40:50] = np.nan
    h = occluder_above_heights(mask, depth, (0, 0), K, UP)
    assert h.size == 10
    np.testing.assert_allclose(h, _height(28, 0.7))


def test_occluder_above_heights_in_a_crop_uses_the_crop_origin():
    mask, depth = _scene()
    crop = (slice(10, 70), slice(20, 90))
    h = occluder_above_heights(mask[crop], depth[crop], (10, 20), K, UP)
    np.testing.assert_allclose(h, _height(29, 0.7))


def test_median_or_none():
    assert median_or_none(np.array([3.0, 1.0, 2.0]), 3) == 2.0
    assert median_or_none(np.array([3.0, 1.0]), 3) is None
    assert median_or_none(np.zeros(0), 0) is None
