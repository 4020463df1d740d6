"""sim.noise: the depth noise model."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import numpy as np  # noqa: E402
import pytest  # noqa: E402
pytest.importorskip('mujoco')
pytest.importorskip('gymnasium_robotics')
pytest.importorskip('rosbags')


def test_depth_noise_model_is_deterministic_and_realistic():
    from spatialvlm_ros.sim.noise import DepthNoise, apply_depth_noise

    depth = np.full((120, 160), 1.0, np.float32)
    depth[40:80, 60:100] = 0.6  # a box in front: a depth edge
    depth[0, 0] = np.nan
    noise = DepthNoise(sigma_a_m=0.0, sigma_b_per_m=0.002, block_px=1, quant_m=0.0, hole_prob=0.0, seed=3)
    a, b = apply_depth_noise(depth, noise, 5), apply_depth_noise(depth, noise, 5)
    assert np.array_equal(a, b, equal_nan=True) and not np.array_equal(a, apply_depth_noise(depth, noise, 6),
                                                                      equal_nan=True)
    far = a[95:, :][np.isfinite(a[95:, :])] - 1.0
    assert 0.0017 < far.std() < 0.0023  # sigma(1 m) = 2 mm
    assert np.isnan(a[0, 0]) and np.isnan(a[39:41, 60:100]).mean() > 0.2  # holes stay, edges drop out
    q = apply_depth_noise(depth, DepthNoise(quant_m=0.001, hole_prob=0.0, edge_dropout=0.0), 0)
    ok = np.isfinite(q)
    assert np.allclose(q[ok] * 1000, np.round(q[ok] * 1000), atol=1e-3)
