"""Compressed camera streams live: spatial_facts with color_transport:=compressed and
depth_transport:=compressedDepth subscribes to <base>/compressed and <base>/compressedDepth (image_transport's
convention, after remapping the base topics) and measures the same objects as from raw images."""

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import CompressedImage  # noqa: E402

from support.image_transport import encode_color, encode_depth  # noqa: E402
from support.ros_msgs import WARM_UP_STAMP, info, scene, truth  # noqa: E402

REMAPS = {'color/image_raw': '/z/color/image_raw', 'depth/image_raw': '/z/depth/image_raw',
          'color/camera_info': '/z/color/camera_info'}


def compressed(fmt_data, stamp):
    fmt, data = fmt_data
    m = CompressedImage(format=fmt, data=data)
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = 'cam_optical'
    return m


def send(probe, stamp, depth_encoding='16UC1', codec='png'):
    rgb, depth = scene()
    d = (depth * 1000).astype(np.uint16) if depth_encoding == '16UC1' else depth
    probe.send_frame(compressed(encode_color(rgb, 'rgb8', 'png'), stamp),
                     compressed(encode_depth(d, depth_encoding, codec), stamp), info(stamp))


@pytest.fixture(scope='module')
def zipped(node_processes, ros_harness):
    from sensor_msgs.msg import CameraInfo

    procs = node_processes
    procs.start('spatial_facts_node', 'zipped', REMAPS, {
        'qos_reliability': 'reliable', 'color_transport': 'compressed', 'depth_transport': 'compressedDepth',
        'center_mode': 'centroid', 'min_points': 10, 'min_pixels': 20,
        'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target']})
    probe = ros_harness('zip_probe')
    probe.publisher('color', '/z/color/image_raw/compressed', CompressedImage)
    probe.publisher('depth', '/z/depth/image_raw/compressedDepth', CompressedImage)
    probe.publisher('info', '/z/color/camera_info', CameraInfo)
    probe.objects = probe.subscribe('/zipped/objects')
    probe.collect_diagnostics()
    probe.start()
    probe.wait_connected(procs, publishers=['color', 'depth', 'info'], topics=['/zipped/objects'])
    probe.warm_up(lambda s: send(probe, s), probe.objects, WARM_UP_STAMP)
    return probe


DEPTHS = [('16UC1', 'png'), ('16UC1', 'rvl'), ('32FC1', 'png')]


@pytest.mark.parametrize('depth_encoding, codec', DEPTHS)
def test_compressed_colour_and_depth_give_the_objects(zipped, depth_encoding, codec):
    # increasing stamps: the stream pairing drops a frame older than one already paired
    stamp = 1_700_000_000_000_000_000 + DEPTHS.index((depth_encoding, codec)) * 10**8
    send(zipped, stamp, depth_encoding, codec)
    doc = zipped.wait_for(zipped.objects, stamp)
    found = {o['name']: np.array(o['center_m']) for o in doc['objects']}
    assert sorted(found) == ['block', 'gripper', 'target']
    for name, centre in found.items():
        np.testing.assert_allclose(centre, truth(name), atol=0.005)


def test_a_corrupt_compressed_message_is_a_counted_decode_reject(zipped):
    rgb, depth = scene()
    stamp = 1_700_000_002_000_000_000
    bad = compressed(('rgb8; jpeg compressed bgr8', b'\xff\xd8 not a jpeg'), stamp)
    zipped.send_frame(bad, compressed(encode_depth((depth * 1000).astype(np.uint16), '16UC1'), stamp), info(stamp))
    send(zipped, stamp + 10**8)
    zipped.wait_for(zipped.objects, stamp + 10**8)
    assert stamp not in zipped.objects
    zipped.wait_until(lambda: int(zipped.diag.get('spatial_facts', {}).get('rejected_decode', 0)) > 0, timeout=10)
