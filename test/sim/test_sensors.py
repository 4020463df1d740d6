"""sim.sensors: the depth camera models degrade exact depth as real cameras do (noise growing with z^2,
holes, flying pixels at edges, depth range) and the mask model bleeds into the background."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.sim.realistic import make_scene
from spatialvlm_ros.sim.sensors import SENSORS


@pytest.mark.parametrize('sensor', sorted(SENSORS))
def test_each_sensor_model_degrades_the_exact_depth(sensor):
    scene = make_scene(11, 'tabletop' if sensor != 'kinect_v2' else 'room', sensor=sensor)
    spec = SENSORS[scene.sensor]
    assert scene.depth.shape == (spec.height, spec.width) == scene.depth_true.shape
    valid = np.isfinite(scene.depth)
    seen = np.isfinite(scene.depth_true)
    assert 0.2 < valid.sum() / seen.sum() < 1.0  # holes, shadows and the range limits take a share, never all
    z = scene.depth[valid]
    assert z.min() >= spec.min_z - 1e-6 and z.max() <= spec.max_z + 0.5
    both = valid & seen
    err = (scene.depth - scene.depth_true)[both]
    sigma = spec.noise_a + spec.noise_b * np.median(scene.depth_true[both]) ** 2
    assert 0.2 * sigma < np.median(np.abs(err)) < 10 * sigma  # noise of the model's size, not exact


def test_masks_bleed_and_lose_thin_parts_deterministically():
    a, b = make_scene(2), make_scene(2)
    for name in a.masks:
        np.testing.assert_array_equal(a.masks[name], b.masks[name])
    grown = [int((m & ~(a.label == a.truth[n]['label'])).sum()) for n, m in a.masks.items()]
    assert max(grown) > 0
