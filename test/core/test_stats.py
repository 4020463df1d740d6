"""The hot path's shortcuts give the same answers as the straightforward computations they replace."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree

from spatialvlm_ros.core.facts import closest_distance
from spatialvlm_ros.core.grounding.base import ObjectQuery
from spatialvlm_ros.core.grounding.color import ColorGrounder
from spatialvlm_ros.core.stats import median, percentile, percentiles
from spatialvlm_ros.core.types import Frame, Intrinsics, ObjectObservation


@pytest.mark.parametrize('dtype', [np.float32, np.float64, np.int32])
@pytest.mark.parametrize('n', [1, 2, 7, 1000, 3001])
def test_percentiles_equal_numpys_linear_interpolation(dtype, n):
    rng = np.random.default_rng(n)
    a = (rng.normal(size=(n, 3)) * 100).astype(dtype)
    for q in ((1.0, 99.0), (50.0,), (0.0, 100.0), (75.0, 12.5, 3.3)):
        np.testing.assert_allclose(percentiles(a, q, axis=0), np.percentile(a, q, axis=0), rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(percentiles(a, q), np.percentile(a, q), rtol=1e-6, atol=1e-4)
    assert median(a[:, 1]) == pytest.approx(float(np.median(a[:, 1])), rel=1e-6, abs=1e-4)
    assert percentile(a[:, 2], 1.0) == pytest.approx(float(np.percentile(a[:, 2], 1.0)), rel=1e-6, abs=1e-4)


def test_percentiles_reject_what_they_cannot_do():
    with pytest.raises(ValueError, match='empty'):
        percentiles(np.zeros((0, 3)), (50.0,), axis=0)
    with pytest.raises(ValueError, match='axis'):
        percentiles(np.zeros((4, 3)), (50.0,), axis=1)


def _obs(points: np.ndarray) -> ObjectObservation:
    return ObjectObservation(name='o', center=points.mean(axis=0), extent=np.ones(3), points=points.astype(np.float32),
                             pixel_count=len(points), frame_id='cam', stamp_ns=0)


def test_closest_distance_equals_the_exhaustive_search():
    rng = np.random.default_rng(3)
    for _ in range(200):
        na, nb = rng.integers(1, 2500, size=2)
        a = rng.normal(size=(na, 3)) * rng.uniform(0.005, 0.1)
        # From far apart to interpenetrating (a gripper holding a block).
        b = rng.normal(size=(nb, 3)) * rng.uniform(0.005, 0.1) + rng.normal(size=3) * rng.uniform(0.0, 0.3)
        oa, ob = _obs(a), _obs(b)
        pa = oa.points[:: max(1, -(-na // 400))]
        pb = ob.points[:: max(1, -(-nb // 400))]
        truth = float(cKDTree(pb).query(pa, k=1)[0].min())
        assert closest_distance(oa, ob, 400) == pytest.approx(truth, abs=1e-9)


def _frame(rgb: np.ndarray) -> Frame:
    h, w = rgb.shape[:2]
    return Frame(rgb=rgb, depth=np.ones((h, w), np.float32), intrinsics=Intrinsics(500.0, 500.0, w / 2, h / 2, w, h),
                 stamp_ns=0, frame_id='cam')


def test_colour_grounder_equals_full_image_thresholds_also_for_one_pixel_wide_parts():
    """The coarse-then-box search finds exactly what thresholding the whole image finds,
    including a one-pixel-wide arm that runs between the sampled pixels out of the coarse box."""
    rng = np.random.default_rng(0)
    rgb = np.full((120, 160, 3), 128, np.uint8)
    rgb += rng.integers(0, 20, size=rgb.shape, dtype=np.uint8)  # grey, unsaturated table
    rgb[40:60, 50:70] = (220, 30, 30)  # red block
    rgb[10:41, 61] = (220, 30, 30)  # 1-px arm on an odd column, above the block
    rgb[70:72, 100:104] = (230, 40, 20)  # small red speck elsewhere (dropped: < 30 % of the block)
    rgb[0:30, 150:160] = (30, 30, 220)  # blue marker at the image corner
    rgb[118, 0:159:2] = (230, 220, 20)  # dotted yellow line: 80 one-pixel components, all kept
    grounder = ColorGrounder()
    queries = [ObjectQuery('block', 'red block'), ObjectQuery('target', 'blue target'),
               ObjectQuery('line', 'yellow line'), ObjectQuery('none', 'green thing')]
    got = grounder.ground(_frame(rgb), queries)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    for q in queries:
        want = grounder.color_mask(hsv, q.prompt.split()[0])
        assert (want is None) == (got[q.name] is None), q.name
        if want is not None:
            np.testing.assert_array_equal(got[q.name], want, err_msg=q.name)
    assert got['none'] is None and got['line'].sum() == 80
    assert got['block'][10:40, 61].all() and not got['block'][70:72, 100:104].any()
    assert got['target'].sum() == 300


@pytest.fixture(scope='module')
def sim_frames():
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import iter_episode

    return [_frame(f.rgb) for f in iter_episode(seed=0, frames=40, width=320, height=240)][::4]


def test_colour_grounder_equals_full_image_thresholds_on_sim_frames(sim_frames):
    grounder = ColorGrounder()
    queries = [ObjectQuery('gripper', 'yellow gripper'), ObjectQuery('block', 'red block'),
               ObjectQuery('target', 'blue target')]
    for frame in sim_frames:
        got = grounder.ground(frame, queries)
        hsv = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2HSV)
        for q in queries:
            want = grounder.color_mask(hsv, q.prompt.split()[0])
            assert want is not None and got[q.name] is not None
            np.testing.assert_array_equal(got[q.name], want)
