"""Gravity frame: RANSAC plane on real robot frames vs their calibrated transform; given rotation; CLI."""

from __future__ import annotations

import math
import re

import cv2
import numpy as np
import pytest

from spatialvlm_ros.core.depth import make_frame
from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.gravity import GravityConfig, estimate_gravity, gravity_basis, up_from_rotation
from spatialvlm_ros.core.types import Intrinsics
from support.paths import REPO

RTAB = REPO.parent / 'shared' / 'data' / 'rgbd' / 'rtabmap_gtest'
K525 = Intrinsics(525.0, 525.0, 319.5, 239.5, 640, 480)
needs_rtab = pytest.mark.skipif(not RTAB.is_dir(), reason='shared real RGB-D frames not present')


def rtab_transform(n: str) -> np.ndarray:
    """3x4 base_link <- camera optical frame from the frame's OpenCV YAML calibration."""
    text = (RTAB / 'calib' / f'{n}.yaml').read_text().split('local_transform')[1].split('data:')[1]
    return np.array([float(v) for v in re.findall(r'[-+]?[0-9.]+(?:e[-+]?[0-9]+)?', text)[:12]]).reshape(3, 4)


def rtab_frame(n: str):
    depth = cv2.imread(str(RTAB / 'depth' / f'{n}.png'), cv2.IMREAD_UNCHANGED)
    rgb = cv2.imread(str(RTAB / 'rgb' / f'{n}.jpg'))
    return make_frame(rgb, 'bgr8', depth, '16UC1', K525, 0, 'camera')


@needs_rtab
@pytest.mark.parametrize('n', ['17', '154'])
def test_plane_matches_robot_calibration(n):
    """The floor found by RANSAC gives the up of the calibrated base_link <- camera transform."""
    frame = rtab_frame(n)
    g = estimate_gravity(frame)
    t = rtab_transform(n)
    true_up = up_from_rotation(t[:, :3])
    assert g.source == 'plane' and g.confidence > 0.5
    assert math.degrees(math.acos(float(np.clip(g.up @ true_up, -1, 1)))) < 1.5
    # the floor lies about the camera height below it (base_link is a few cm above the floor)
    assert -0.47 < g.plane_height < -0.40 and abs(g.plane_height + t[2, 3]) < 0.04
    # deterministic
    assert np.array_equal(estimate_gravity(frame).up, g.up)


@needs_rtab
def test_given_rotation_wins_and_reports_support():
    frame = rtab_frame('17')
    rot = rtab_transform('17')[:, :3]
    g = estimate_gravity(frame, base_rotation=rot)
    assert g.source == 'given' and g.confidence == 1.0
    assert np.allclose(g.up, rot[2]) and g.plane_height is not None and g.plane_height < -0.4


def test_no_plane_falls_back_to_prior_with_zero_confidence():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 3.0, (120, 160)).astype(np.float32)  # no plane at all
    frame = make_frame(np.zeros((120, 160, 3), np.uint8), 'rgb8', depth, '32FC1', K525.scaled(160, 120), 0, 'c')
    g = estimate_gravity(frame, GravityConfig(min_inlier_ratio=0.3))
    assert g.source == 'prior' and g.confidence == 0.0 and np.allclose(g.up, (0, -1, 0))


def test_basis_and_errors():
    b = gravity_basis(np.array([0.0, -1.0, 0.0]))
    assert np.allclose(b, [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    assert np.allclose(np.cross(b[0], b[1]), b[2])
    with pytest.raises(SpatialError, match='not a rotation'):
        up_from_rotation(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(SpatialError, match='max_tilt_deg: expected a number'):
        GravityConfig(max_tilt_deg=0)
