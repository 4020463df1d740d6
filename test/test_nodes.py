"""The real nodes, in their own processes, over loopback DDS on a private domain.

Synthetic RGB-D with analytic ground truth: three flat coloured squares facing the camera at
known depths in front of a grey wall. Their centres are known exactly, so the published
objects, facts and rewards can be checked to the millimetre.
"""

import json
import os
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
from spatialvlm_ros.demo import ros_environment, start_nodes  # noqa: E402

W, H, F = 160, 120, 150.0
CX, CY = (W - 1) / 2, (H - 1) / 2
# name -> (colour, centre pixel (u, v), half size px, depth m)
PATCHES = {
    'gripper': ((255, 230, 0), (40, 40), 8, 0.70),
    'block': ((220, 20, 20), (80, 70), 9, 0.80),
    'target': ((20, 40, 230), (125, 60), 10, 0.90),
}


def truth(name):
    _, (u, v), _, z = PATCHES[name]
    return np.array([(u - CX) * z / F, (v - CY) * z / F, z])


def scene():
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 1.2, np.float32)
    for colour, (u, v), r, z in PATCHES.values():
        rgb[v - r : v + r + 1, u - r : u + r + 1] = colour
        depth[v - r : v + r + 1, u - r : u + r + 1] = z
    return rgb, depth


def image(array, encoding, stamp, frame_id='cam_optical'):
    m = Image()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = frame_id
    m.height, m.width, m.step, data, m.is_bigendian = encode_image(array, encoding)
    m.encoding = encoding
    m.data = data.tobytes()
    return m


def info(stamp, k=(F, 0.0, CX, 0.0, F, CY, 0.0, 0.0, 1.0), w=W, h=H):
    m = CameraInfo()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = 'cam_optical'
    m.width, m.height, m.k = w, h, list(k)
    return m


class Harness(Node):
    def __init__(self):
        super().__init__('test_harness')
        self.color = self.create_publisher(Image, '/camera/color/image_raw', 50)
        self.depth = self.create_publisher(Image, '/camera/depth/image_raw', 50)
        self.info = self.create_publisher(CameraInfo, '/camera/color/camera_info', 50)
        self.lock = threading.Lock()
        self.objects, self.facts, self.rewards, self.diag = {}, {}, {}, {}
        for topic, store in (('/spatial_facts/objects', self.objects), ('/spatial_facts/facts', self.facts),
                             ('/reward/detail', self.rewards)):
            self.create_subscription(String, topic, lambda m, s=store: self._store(s, m), 50)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)

    def _store(self, store, msg):
        doc = json.loads(msg.data)
        with self.lock:
            store[doc['stamp_ns']] = doc

    def _on_diag(self, msg):
        with self.lock:
            for st in msg.status:
                self.diag[st.hardware_id] = {kv.key: kv.value for kv in st.values}

    def send(self, color, depth, cinfo):
        self.info.publish(cinfo)
        self.depth.publish(depth)
        self.color.publish(color)

    def wait_for(self, store, stamp, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if stamp in store:
                    return store[stamp]
            time.sleep(0.02)
        raise AssertionError(f'nothing published for stamp {stamp} within {timeout} s')


def warm_up(send, answered, stamp: int, timeout: float = 60.0) -> None:
    """Send good frames, each with a new stamp (a repeated one is a duplicate to the stamp pairing),
    until ``answered()``: every DDS link of the chain is then matched, so no test frame is lost to
    discovery. ``stamp``: the first warm-up stamp, earlier than any stamp a test sends."""
    deadline = time.monotonic() + timeout
    while True:
        send(stamp)
        time.sleep(0.3)
        if answered():
            return
        stamp += 10_000_000
        assert time.monotonic() < deadline, 'the nodes never answered a good frame'


WARM_UP_STAMP = 1_600_000_000_000_000_000  # before every test stamp


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    logs = tmp_path_factory.mktemp('nodes')
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    procs = start_nodes(env, logs, extra_params={'center_mode': 'centroid', 'object_center_modes': ['gripper=centroid'], 'min_pixels': 20, 'min_points': 10})
    rclpy.init()
    h = Harness()
    ex = SingleThreadedExecutor()
    ex.add_node(h)
    t = threading.Thread(target=ex.spin, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while not (h.color.get_subscription_count() and h.count_publishers('/reward/detail')):
        assert all(p.poll() is None for p in procs), (logs / 'spatial_facts.log').read_text()
        assert time.monotonic() < deadline, 'nodes did not come up'
        time.sleep(0.1)
    rgb, depth = scene()

    def answered():
        with h.lock:
            return any(s < WARM_UP_STAMP + 10**9 for s in h.rewards)

    warm_up(lambda s: h.send(image(rgb, 'rgb8', s), image(depth, '32FC1', s), info(s)), answered, WARM_UP_STAMP)
    yield h, procs, logs
    for p in procs:
        p.terminate()
        p.wait(timeout=10)
    ex.shutdown()
    h.destroy_node()
    rclpy.try_shutdown()


def test_good_frame_gives_metric_objects_facts_and_reward_with_its_stamp(graph):
    h, procs, _ = graph
    rgb, depth = scene()
    stamp = 1_700_000_001_123_456_789
    h.send(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))
    objects = h.wait_for(h.objects, stamp)
    assert objects['stamp'] == {'sec': 1_700_000_001, 'nanosec': 123_456_789}
    assert objects['frame_id'] == 'cam_optical' and objects['missing'] == []
    centres = {o['name']: np.array(o['center_m']) for o in objects['objects']}
    for name in PATCHES:
        np.testing.assert_allclose(centres[name], truth(name), atol=2e-3)
    for o in objects['objects']:
        # no horizontal plane in view, so up is the camera's -y: [width, height, depth] of these frontal
        # squares is (side, side, 0): the eroded mask's extent with the erosion (2 px a side) and the
        # pixel-centre sampling (1 px) put back, as in the camera-axis box (the marker box)
        _, _, r, z = PATCHES[o['name']]
        assert o['extent_m'] == pytest.approx([(2 * r + 1) * z / F] * 2 + [0.0], abs=0.003), o
        assert o['extent_camera_m'] == pytest.approx([(2 * r + 1) * z / F] * 2 + [0.0], abs=0.007), o

    facts = h.wait_for(h.facts, stamp)['facts']
    dist = {(f['subject'], f['object']): f['value'] for f in facts if f['type'] == 'distance'}
    expected = np.linalg.norm(truth('block') - truth('target'))
    assert dist[('block', 'target')] == pytest.approx(expected, abs=3e-3)
    left = [f for f in facts if f['subject'] == 'gripper' and f['object'] == 'target' and f['type'] == 'left_of']
    assert left and left[0]['holds'] is True  # gripper is at u=40, target at u=125

    reward = h.wait_for(h.rewards, stamp)
    d_gb = np.linalg.norm(truth('gripper') - truth('block'))
    assert reward['valid'] and reward['stage_name'] == 'reach'
    assert reward['reward'] == pytest.approx(-d_gb, abs=3e-3)


def test_16uc1_millimetres_give_the_same_geometry(graph):
    h, _, _ = graph
    rgb, depth = scene()
    stamp = 1_700_000_002_000_000_000
    h.send(image(rgb, 'rgb8', stamp),
           image(np.round(depth * 1000).astype(np.uint16), '16UC1', stamp), info(stamp))
    centres = {o['name']: np.array(o['center_m']) for o in h.wait_for(h.objects, stamp)['objects']}
    np.testing.assert_allclose(centres['block'], truth('block'), atol=2e-3)


def test_bad_messages_are_counted_by_kind_and_the_node_keeps_working(graph):
    h, procs, logs = graph
    rgb, depth = scene()
    base = 1_700_000_010_000_000_000
    step = 50_000_000
    bad = {
        # a colour image on the depth topic (a common remap mistake)
        'encoding': lambda s: (image(rgb, 'rgb8', s), image(rgb, 'rgb8', s), info(s)),
        'size_mismatch': lambda s: (image(rgb, 'rgb8', s), image(depth[:, :100].copy(), '32FC1', s), info(s)),
        'no_valid_depth': lambda s: (image(rgb, 'rgb8', s), image(np.zeros_like(depth), '32FC1', s), info(s)),
        'intrinsics': lambda s: (image(rgb, 'rgb8', s), image(depth, '32FC1', s), info(s, k=[0.0] * 9)),
        'truncated': lambda s: (_truncate(image(rgb, 'rgb8', s)), image(depth, '32FC1', s), info(s)),
        # a driver set to 0.1 mm depth units (RealSense depth_units 0.0001) publishing 16UC1: 7-12 m instead
        # of 0.7-1.2 m, every pixel a reading, most beyond 10 m
        'implausible_depth': lambda s: (image(rgb, 'rgb8', s), image(np.round(depth * 10000).astype(np.uint16),
                                                                     '16UC1', s), info(s)),
    }
    i = 0
    for _ in range(3):
        for kind, make in bad.items():
            h.send(*make(base + i * step))
            i += 1
            time.sleep(0.01)
    good = base + (i + 1) * step
    h.send(image(rgb, 'rgb8', good), image(depth, '32FC1', good), info(good))
    h.wait_for(h.rewards, good)
    assert all(p.poll() is None for p in procs), 'a node died on bad input'

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with h.lock:
            d = dict(h.diag.get('spatial_facts', {}))
        if all(d.get(f'rejected_{k}') == '3' for k in bad):
            break
        time.sleep(0.1)
    for kind in bad:
        assert d.get(f'rejected_{kind}') == '3', (kind, d)
        assert d[f'last_error_{kind}']
    assert 'REP 118' in d['last_error_encoding'] and 'positive' in d['last_error_intrinsics']
    assert 'implausible' in d['last_error_implausible_depth'] and 'median 12 m' in d['last_error_implausible_depth']
    # logged once per kind (throttled), not once per message
    text = (logs / 'spatial_facts.log').read_text()
    for kind in bad:
        assert text.count(f'skipped input ({kind},') == 1, (kind, text[-3000:])


def _truncate(msg):
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    return msg


def test_missing_object_gives_an_invalid_reward_and_no_made_up_number(graph):
    h, _, _ = graph
    rgb, depth = scene()
    _, (u, v), r, _ = PATCHES['block']
    rgb[v - r : v + r + 1, u - r : u + r + 1] = 128  # block gone
    stamp = 1_700_000_020_000_000_000
    h.send(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))
    objects = h.wait_for(h.objects, stamp)
    assert objects['missing'] == ['block']
    reward = h.wait_for(h.rewards, stamp)
    assert reward['valid'] is False and reward['reward'] is None and reward['missing'] == ['block']
