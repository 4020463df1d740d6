"""ROS messages -> frames (``messages.convert``), for rosbags-deserialised and rclpy messages alike: encodings,
the same geometry from 16UC1 millimetres and 32FC1 metres, size mismatches, implausible depth and intrinsics
refused with their kind, instance-label images."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('rosbags')

from spatialvlm_ros.core.errors import FrameError  # noqa: E402
from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.messages.convert import (frame_from_msgs, header_stamp_ns, intrinsics_from_camera_info,  # noqa
                                             label_image_from_msg)
from support.bags import image_msg, info_msg  # noqa: E402

TS = typestore_for()
STAMP = 1_700_000_000_123_456_789
K = (60.0, 0, 31.5, 0, 60.0, 23.5, 0, 0, 1)


def _scene():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[10:20, 30:40] = (200, 30, 10)
    depth = np.full((48, 64), 1.5, np.float32)
    depth[10:20, 30:40] = 0.75
    return rgb, depth


def _msgs(rgb_enc='rgb8', depth_enc='32FC1', k=K, info_size=(64, 48), depth_scale=1.0, frame_id='cam'):
    rgb, depth = _scene()
    if rgb_enc == 'bgr8':
        rgb = rgb[..., ::-1].copy()
    if depth_enc == '16UC1':
        depth = np.round(depth * 1000).astype(np.uint16)
    else:
        depth = depth * depth_scale
    return (image_msg(TS, rgb, rgb_enc, STAMP, frame_id), image_msg(TS, depth, depth_enc, STAMP, frame_id),
            info_msg(TS, STAMP, k=k, width=info_size[0], height=info_size[1], frame_id='info_frame'))


def test_a_frame_carries_the_colour_stamp_frame_and_intrinsics():
    frame = frame_from_msgs(*_msgs())
    rgb, depth = _scene()
    assert frame.stamp_ns == STAMP == header_stamp_ns(_msgs()[0]) and frame.frame_id == 'cam'
    np.testing.assert_array_equal(frame.rgb, rgb)
    np.testing.assert_allclose(frame.depth, depth)
    k = frame.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (60.0, 60.0, 31.5, 23.5, 64, 48)
    # a colour image without frame_id: the camera_info's
    assert frame_from_msgs(*_msgs(frame_id='')).frame_id == 'info_frame'


def test_encodings_give_the_same_frame():
    """bgr8 is swapped to RGB; 16UC1 millimetres and 32FC1 metres are the same depth."""
    ref = frame_from_msgs(*_msgs())
    for rgb_enc, depth_enc in [('bgr8', '32FC1'), ('rgb8', '16UC1'), ('bgr8', '16UC1')]:
        frame = frame_from_msgs(*_msgs(rgb_enc, depth_enc))
        np.testing.assert_array_equal(frame.rgb, ref.rgb)
        np.testing.assert_allclose(frame.depth, ref.depth, atol=1e-6)


def test_depth_outside_the_range_is_no_reading():
    frame = frame_from_msgs(*_msgs(), min_depth_m=0.05, max_depth_m=1.0)
    assert np.isnan(frame.depth).sum() == 48 * 64 - 100  # the wall at 1.5 m is beyond max_depth_m
    assert np.allclose(frame.depth[10:20, 30:40], 0.75)


@pytest.mark.parametrize('scale, encoding', [(1000.0, '32FC1')])
def test_implausible_depth_is_refused_before_the_range_crop(scale, encoding):
    """Millimetres published as 32FC1 'metres': every reading far beyond max_depth_m."""
    with pytest.raises(FrameError, match=r'depth image \(32FC1, 1 m per unit by REP 118\) is implausible') as err:
        frame_from_msgs(*_msgs(depth_enc=encoding, depth_scale=scale))
    assert err.value.kind == 'implausible_depth'


def test_a_camera_info_of_another_size_is_a_size_mismatch():
    with pytest.raises(FrameError, match=r'camera_info is for 128x96 but the colour image is 64x48') as err:
        frame_from_msgs(*_msgs(k=(120.0, 0, 63.5, 0, 120.0, 47.5, 0, 0, 1), info_size=(128, 96)))
    assert err.value.kind == 'size_mismatch'


def test_a_smaller_depth_image_is_resampled_to_the_colour_one():
    rgb, depth = _scene()
    color, _, info = _msgs()
    half = image_msg(TS, depth[::2, ::2].copy(), '32FC1', STAMP)
    frame = frame_from_msgs(color, half, info)
    assert frame.depth.shape == (48, 64)
    assert np.nanmedian(frame.depth[12:18, 32:38]) == pytest.approx(0.75)


@pytest.mark.parametrize('k, says', [
    ((0.0,) * 9, r'camera_info has an unusable K'),
    ((float('nan'), 0, 31.5, 0, 60.0, 23.5, 0, 0, 1), r'camera_info has an unusable K'),
    ((6000.0, 0, 31.5, 0, 6000.0, 23.5, 0, 0, 1), r'focal lengths fx=6000.0 fy=6000.0 are implausible for a 64x48'),
    ((60.0, 0, 100.0, 0, 60.0, 23.5, 0, 0, 1), r'principal point \(100.0, 23.5\) lies outside the 64x48 image'),
])
def test_unusable_intrinsics_are_refused(k, says):
    with pytest.raises(FrameError, match=says) as err:
        intrinsics_from_camera_info(info_msg(TS, STAMP, k=k))
    assert err.value.kind == 'intrinsics'
    with pytest.raises(FrameError, match=says):
        frame_from_msgs(*_msgs(k=k))


@pytest.mark.parametrize('encoding, dtype', [('mono8', np.uint8), ('mono16', np.uint16), ('16UC1', np.uint16),
                                             ('32SC1', np.int32)])
def test_label_images_give_the_ids(encoding, dtype):
    frame = frame_from_msgs(*_msgs())
    ids = np.zeros((48, 64), dtype)
    ids[10:20, 30:40] = 3
    ids[30:40, 5:15] = 7
    labels = label_image_from_msg(image_msg(TS, ids, encoding, STAMP), frame)
    assert labels.shape == (48, 64)
    np.testing.assert_array_equal(labels, ids)


def test_label_images_of_another_kind_or_size_are_refused():
    frame = frame_from_msgs(*_msgs())
    with pytest.raises(FrameError, match=r"instance masks must be an integer label image .*got 'rgb8'") as err:
        label_image_from_msg(image_msg(TS, np.zeros((48, 64, 3), np.uint8), 'rgb8', STAMP), frame)
    assert err.value.kind == 'encoding'
    with pytest.raises(FrameError, match=r'instance masks are 32x24 but the colour image is 64x48') as err:
        label_image_from_msg(image_msg(TS, np.zeros((24, 32), np.uint16), 'mono16', STAMP), frame)
    assert err.value.kind == 'size_mismatch'


def test_rclpy_messages_give_the_same_frame():
    pytest.importorskip('rclpy')
    from support.ros_msgs import image, info

    rgb, depth = _scene()
    ros = frame_from_msgs(image(rgb, 'rgb8', STAMP, 'cam'), image(np.round(depth * 1000).astype(np.uint16), '16UC1',
                                                                   STAMP, 'cam'),
                          info(STAMP, k=K, w=64, h=48))
    ref = frame_from_msgs(*_msgs())
    assert ros.stamp_ns == ref.stamp_ns and ros.frame_id == ref.frame_id and ros.intrinsics == ref.intrinsics
    np.testing.assert_array_equal(ros.rgb, ref.rgb)
    np.testing.assert_allclose(ros.depth, ref.depth, atol=1e-6)
    ids = np.zeros((48, 64), np.uint8)
    ids[0, 0] = 1
    np.testing.assert_array_equal(label_image_from_msg(image(ids, 'mono8', STAMP), ros), ids)
