"""core.depth: depth units, colour encodings, frame making and resampling."""
import numpy as np
import pytest
from spatialvlm_ros.core.depth import depth_to_metres, make_frame, resample_depth, rgb_from_encoding
from spatialvlm_ros.core.errors import FrameError
from spatialvlm_ros.core.types import Intrinsics


def test_depth_units_and_invalid_values():
    mm = np.array([[0, 500, 1234, 65535]], dtype=np.uint16)
    m = depth_to_metres(mm, '16UC1', min_m=0.1, max_m=10.0)
    assert np.isnan(m[0, 0]) and np.isnan(m[0, 3])  # 0 = no return, 65.5 m out of range
    np.testing.assert_allclose(m[0, 1:3], [0.5, 1.234], atol=1e-6)
    f = np.array([[np.nan, np.inf, -1.0, 0.0, 2.5]], dtype=np.float32)
    out = depth_to_metres(f, '32FC1')
    assert np.isnan(out[0, :4]).all() and out[0, 4] == pytest.approx(2.5)
    with pytest.raises(FrameError, match='REP 118'):
        depth_to_metres(mm, 'rgb8')


def test_colour_encodings_become_rgb():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    assert rgb_from_encoding(bgr, 'bgr8')[0, 0].tolist() == [0, 0, 255]
    mono = np.full((2, 2), 7, np.uint8)
    assert rgb_from_encoding(mono, 'mono8').shape == (2, 2, 3)


def test_make_frame_resamples_registered_depth_and_rejects_bad_input():
    intr = Intrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)
    rgb = np.zeros((48, 64, 3), np.uint8)
    depth = np.full((24, 32), 1500, np.uint16)
    depth[:12] = 0
    frame = make_frame(rgb, 'rgb8', depth, '16UC1', intr, 5, 'cam')
    assert frame.depth.shape == (48, 64)
    assert np.isnan(frame.depth[:24]).all() and np.allclose(frame.depth[24:], 1.5)
    with pytest.raises(FrameError, match='aspect'):
        make_frame(rgb, 'rgb8', np.ones((10, 64), np.float32), '32FC1', intr, 5, 'cam')
    with pytest.raises(FrameError, match='no valid pixel'):
        make_frame(rgb, 'rgb8', np.zeros((48, 64), np.uint16), '16UC1', intr, 5, 'cam')
    with pytest.raises(FrameError, match='camera_info is for'):
        make_frame(rgb, 'rgb8', depth, '16UC1', Intrinsics(100.0, 100.0, 31.5, 23.5, 640, 480), 5, 'cam')


def test_resample_depth_is_nearest_not_interpolated():
    d = np.array([[1.0, 3.0]], dtype=np.float32)
    up = resample_depth(d, 4, 2)
    assert set(np.unique(up).tolist()) == {1.0, 3.0}  # no invented 2.0 between an edge's two sides
