"""Robot-facing behaviour of spatial_facts over DDS: target frame, rate limit on stamps,
debug image, and loud warnings when inputs are silent or their QoS cannot match."""

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import Image  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.core.transform import quaternion_to_matrix  # noqa: E402
from support.harness import header_ns  # noqa: E402
from support.ros_msgs import H, PATCHES, W, WARM_UP_STAMP, image, info, scene, truth  # noqa: E402

# camera optical frame in base_link: 0.5 m up, looking forward and down (a typical arm camera)
STATIC = [0.1, -0.2, 0.5, 0.6123724, -0.6123724, 0.3535534, -0.3535534]  # 30 deg down, facing +x
REMAPS = {'color/image_raw': '/r/color', 'depth/image_raw': '/r/depth', 'color/camera_info': '/r/info'}


def marker_frame(m):
    """A MarkerArray keyed by its markers' header stamp, stored as their frame_id (empty: skipped)."""
    return None if not m.markers else header_ns(m.markers[0])


def send(probe, stamp, rgb, depth):
    probe.send_frame(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))


@pytest.fixture(scope='module')
def robot(node_processes, ros_harness):
    procs = node_processes
    procs.start('spatial_facts_node', 'robot', REMAPS, {
        'qos_reliability': 'reliable', 'center_mode': 'centroid', 'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target'],
        'target_frame': 'base_link',
        'transform_source': 'static', 'static_transform': STATIC, 'publish_debug_image': True, 'max_rate_hz': 10.0,
        'min_points': 10, 'min_pixels': 20})
    # this one listens where only a best-effort publisher exists, and to a topic nobody publishes
    procs.start('spatial_facts_node', 'waiting', {
        'color/image_raw': '/be/color', 'depth/image_raw': '/nobody/depth', 'color/camera_info': '/nobody/info'},
        {'qos_reliability': 'reliable', 'input_timeout_s': 1.0, 'task': 'pick_and_place'})
    probe = ros_harness('robot_probe')
    probe.camera('/r/color', '/r/depth', '/r/info')
    # a best-effort camera that a reliable subscription can never match
    probe.publisher('be_color', '/be/color', Image, qos='best_effort', depth=5)
    probe.objects = probe.subscribe('/robot/objects')
    probe.markers = probe.subscribe('/robot/markers', MarkerArray, key=marker_frame,
                                    value=lambda m: m.markers[0].header.frame_id)
    probe.debug = probe.subscribe('/robot/debug_image', Image, key='header', value=lambda m: image_from_msg(m).copy(),
                                  depth=10)
    probe.start()
    probe.wait_connected(procs, publishers=['color', 'depth', 'info'], topics=['/robot/objects'])
    rgb, depth = scene()
    probe.warm_up(lambda s: send(probe, s, rgb, depth), probe.objects, WARM_UP_STAMP)
    return probe, procs


def test_objects_and_markers_come_out_in_the_target_frame(robot):
    probe, _ = robot
    rgb, depth = scene()
    stamp = 1_700_000_100_000_000_000
    send(probe, stamp, rgb, depth)
    doc = probe.wait_for(probe.objects, stamp)
    assert doc['frame_id'] == 'base_link'
    rot, t = quaternion_to_matrix(STATIC[3:]), np.array(STATIC[:3])
    for o in doc['objects']:
        expected = rot @ truth(o['name']) + t
        np.testing.assert_allclose(o['center_m'], expected, atol=2e-3)
    # the camera looks down: every object is below the camera (z smaller than 0.5 m) in base_link
    assert all(o['center_m'][2] < 0.5 for o in doc['objects'])
    assert probe.wait_for(probe.markers, stamp) == 'base_link'


def test_debug_image_has_the_frame_stamp_and_draws_the_objects(robot):
    probe, _ = robot
    rgb, depth = scene()
    stamp = 1_700_000_200_000_000_000
    send(probe, stamp, rgb, depth)
    img = probe.wait_for(probe.debug, stamp)
    assert img.shape == (H, W, 3)
    _, (u, v), r, _ = PATCHES['block']
    assert not np.array_equal(img[v - r : v + r, u - r : u + r], rgb[v - r : v + r, u - r : u + r])  # mask tinted
    assert np.array_equal(img[2:6, 2:6], rgb[2:6, 2:6])  # background untouched


def test_rate_limit_is_on_header_stamps(robot):
    probe, _ = robot
    rgb, depth = scene()
    base = 1_700_000_300_000_000_000
    stamps = [base + i * 33_333_333 for i in range(7)]  # 30 Hz of header time, sent quickly
    for s in stamps:
        send(probe, s, rgb, depth)
        time.sleep(0.03)
    probe.wait_for(probe.objects, stamps[6])
    time.sleep(0.3)
    with probe.lock:
        got = [s for s in stamps if s in probe.objects]
    # max_rate_hz 10: frames at 0, 133, 200 ms ... never two within 100 ms of header time
    assert got == [stamps[0], stamps[3], stamps[6]]


def test_silent_inputs_and_incompatible_qos_are_named(robot):
    _, procs = robot
    deadline = time.monotonic() + 20
    text = ''
    while time.monotonic() < deadline:
        text = procs.log('waiting')
        if 'best-effort but this subscription is reliable' in text and '/nobody/depth' in text:
            break
        time.sleep(0.2)
    assert 'waiting for /be/color' in text and 'set qos_reliability:=best_effort' in text, text
    assert 'waiting for /nobody/depth (never received): no publisher' in text, text
