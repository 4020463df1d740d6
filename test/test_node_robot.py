"""Robot-facing behaviour of spatial_facts over DDS: target frame, rate limit on stamps,
debug image, and loud warnings when inputs are silent or their QoS cannot match."""

import json
import os
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.core.transform import quaternion_to_matrix  # noqa: E402
from spatialvlm_ros.demo import ros_environment, start_node  # noqa: E402
from test_nodes import H, PATCHES, W, WARM_UP_STAMP, image, info, scene, truth, warm_up  # noqa: E402

# camera optical frame in base_link: 0.5 m up, looking forward and down (a typical arm camera)
STATIC = [0.1, -0.2, 0.5, 0.6123724, -0.6123724, 0.3535534, -0.3535534]  # 30 deg down, facing +x
REMAPS = {'color/image_raw': '/r/color', 'depth/image_raw': '/r/depth', 'color/camera_info': '/r/info'}


class Probe(Node):
    def __init__(self):
        super().__init__('robot_probe')
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {
            'color': self.create_publisher(Image, '/r/color', rel),
            'depth': self.create_publisher(Image, '/r/depth', rel),
            'info': self.create_publisher(CameraInfo, '/r/info', rel),
        }
        # a best-effort camera that a reliable subscription can never match
        self.be_pub = self.create_publisher(Image, '/be/color', QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.lock = threading.Lock()
        self.objects, self.markers, self.debug = {}, {}, {}
        self.create_subscription(String, '/robot/objects', self._on_objects, rel)
        self.create_subscription(MarkerArray, '/robot/markers', self._on_markers, rel)
        self.create_subscription(Image, '/robot/debug_image', self._on_debug, 10)

    def _on_objects(self, m):
        doc = json.loads(m.data)
        with self.lock:
            self.objects[doc['stamp_ns']] = doc

    def _on_markers(self, m):
        with self.lock:
            if m.markers:
                h = m.markers[0].header
                self.markers[h.stamp.sec * 10**9 + h.stamp.nanosec] = h.frame_id

    def _on_debug(self, m):
        with self.lock:
            self.debug[m.header.stamp.sec * 10**9 + m.header.stamp.nanosec] = image_from_msg(m).copy()

    def send(self, stamp, rgb, depth):
        self.pubs['info'].publish(info(stamp))
        self.pubs['depth'].publish(image(depth, '32FC1', stamp))
        self.pubs['color'].publish(image(rgb, 'rgb8', stamp))


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    logs = tmp_path_factory.mktemp('robot')
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    main = start_node('spatial_facts_node', 'robot', env, logs, REMAPS, {
        'qos_reliability': 'reliable', 'center_mode': 'centroid', 'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target'],
        'target_frame': 'base_link',
        'transform_source': 'static', 'static_transform': STATIC, 'publish_debug_image': True, 'max_rate_hz': 10.0,
        'min_points': 10, 'min_pixels': 20})
    # this one listens where only a best-effort publisher exists, and to a topic nobody publishes
    waiting = start_node('spatial_facts_node', 'waiting', env, logs, {
        'color/image_raw': '/be/color', 'depth/image_raw': '/nobody/depth', 'color/camera_info': '/nobody/info'},
        {'qos_reliability': 'reliable', 'input_timeout_s': 1.0, 'task': 'pick_and_place'})
    rclpy.init()
    probe = Probe()
    ex = SingleThreadedExecutor()
    ex.add_node(probe)
    threading.Thread(target=ex.spin, daemon=True).start()
    deadline = time.monotonic() + 60
    while not (probe.pubs['color'].get_subscription_count() and probe.count_publishers('/robot/objects')):
        assert main.poll() is None, (logs / 'robot.log').read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    rgb, depth = scene()

    def answered():
        with probe.lock:
            return any(s < WARM_UP_STAMP + 10**9 for s in probe.objects)

    warm_up(lambda s: probe.send(s, rgb, depth), answered, WARM_UP_STAMP)
    yield probe, logs
    for p in (main, waiting):
        p.terminate()
        p.wait(timeout=10)
    ex.shutdown()
    probe.destroy_node()
    rclpy.try_shutdown()


def wait(probe, store, stamp, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with probe.lock:
            if stamp in store:
                return store[stamp]
        time.sleep(0.02)
    raise AssertionError(f'nothing for {stamp}')


def test_objects_and_markers_come_out_in_the_target_frame(robot):
    probe, _ = robot
    rgb, depth = scene()
    stamp = 1_700_000_100_000_000_000
    probe.send(stamp, rgb, depth)
    doc = wait(probe, probe.objects, stamp)
    assert doc['frame_id'] == 'base_link'
    rot, t = quaternion_to_matrix(STATIC[3:]), np.array(STATIC[:3])
    for o in doc['objects']:
        expected = rot @ truth(o['name']) + t
        np.testing.assert_allclose(o['center_m'], expected, atol=2e-3)
    # the camera looks down: every object is below the camera (z smaller than 0.5 m) in base_link
    assert all(o['center_m'][2] < 0.5 for o in doc['objects'])
    assert wait(probe, probe.markers, stamp) == 'base_link'


def test_debug_image_has_the_frame_stamp_and_draws_the_objects(robot):
    probe, _ = robot
    rgb, depth = scene()
    stamp = 1_700_000_200_000_000_000
    probe.send(stamp, rgb, depth)
    img = wait(probe, probe.debug, stamp)
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
        probe.send(s, rgb, depth)
        time.sleep(0.03)
    wait(probe, probe.objects, stamps[6])
    time.sleep(0.3)
    with probe.lock:
        got = [s for s in stamps if s in probe.objects]
    # max_rate_hz 10: frames at 0, 133, 200 ms ... never two within 100 ms of header time
    assert got == [stamps[0], stamps[3], stamps[6]]


def test_silent_inputs_and_incompatible_qos_are_named(robot):
    probe, logs = robot
    deadline = time.monotonic() + 20
    text = ''
    while time.monotonic() < deadline:
        text = (logs / 'waiting.log').read_text()
        if 'best-effort but this subscription is reliable' in text and '/nobody/depth' in text:
            break
        time.sleep(0.2)
    assert 'waiting for /be/color' in text and 'set qos_reliability:=best_effort' in text, text
    assert 'waiting for /nobody/depth (never received): no publisher' in text, text
