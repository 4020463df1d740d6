"""Fuzz over DDS: thousands of malformed messages interleaved with good frames. The node never
dies, every good frame is still processed, and every malformed kind shows up in /diagnostics."""

import json
import os
import random
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from spatialvlm_ros.demo import ros_environment, start_nodes  # noqa: E402
from test_nodes import CX, CY, F, image, info, scene, warm_up  # noqa: E402

GOOD_FRAMES = 40
BAD_PER_GAP = 25  # 40 gaps x 25 triples x 3 messages = 3000 malformed messages
PERIOD = 100_000_000  # good frames every 100 ms of header time; bad ones between, > slop away


def _stamp(msg, ns):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
    return msg


def bad_triple(rng, rgb, depth, ns):
    """One malformed frame of a random kind; returns (kind, color, depth, info)."""
    kind = rng.choice(['encoding', 'size', 'nan_inf', 'truncated', 'intrinsics', 'out_of_order', 'garbage'])
    c, d, i = image(rgb, 'rgb8', ns), image(depth, '32FC1', ns), info(ns)
    if kind == 'encoding':
        c.encoding = rng.choice(['yuv422', '', 'rgb16', 'bayer_rggb8', 'x' * 300])
    elif kind == 'size':
        d.width, d.height, d.step = rng.randint(1, 400), rng.randint(1, 400), rng.randint(1, 2000)
    elif kind == 'nan_inf':
        bad = np.where(np.random.default_rng(rng.randint(0, 1 << 30)).random(depth.shape) < 0.5, np.nan, np.inf)
        d = image(bad.astype(np.float32), '32FC1', ns)
    elif kind == 'truncated':
        m = rng.choice([c, d])
        m.data = bytes(m.data)[: rng.randint(0, len(m.data) - 1)]
    elif kind == 'intrinsics':
        i = info(ns, k=rng.choice([[0.0] * 9, [F, 0, CX, 0, F, CY, 0, 0, 0.0], [1e9, 0, CX, 0, 1e9, CY, 0, 0, 1],
                                   [float('nan')] * 9, [F, 0, -500, 0, F, 9e6, 0, 0, 1]]))
    elif kind == 'out_of_order':
        old = ns - 10 * PERIOD  # older than frames already processed
        c, d, i = _stamp(c, old), _stamp(d, old), _stamp(i, old)
    elif kind == 'garbage':
        c.width, c.height, c.step = 0, 0, 0
        c.data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    return kind, c, d, i


class Fuzzer(Node):
    def __init__(self):
        super().__init__('fuzzer')
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.color = self.create_publisher(Image, '/camera/color/image_raw', qos)
        self.depth = self.create_publisher(Image, '/camera/depth/image_raw', qos)
        self.info = self.create_publisher(CameraInfo, '/camera/color/camera_info', qos)
        self.lock = threading.Lock()
        self.rewards, self.diag = {}, {}
        self.create_subscription(String, '/reward/detail', self._on_reward, qos)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)

    def _on_reward(self, m):
        doc = json.loads(m.data)
        with self.lock:
            self.rewards[doc['stamp_ns']] = doc

    def _on_diag(self, m):
        with self.lock:
            for st in m.status:
                self.diag[st.hardware_id] = {kv.key: kv.value for kv in st.values}

    def send(self, c, d, i):
        self.info.publish(i)
        self.depth.publish(d)
        self.color.publish(c)


def test_fuzzed_inputs_never_kill_the_node_and_no_good_frame_is_lost(tmp_path):
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    procs = start_nodes(env, tmp_path, extra_params={'qos_depth': 1000, 'center_mode': 'centroid', 'object_center_modes': ['gripper=centroid'],
                                                     'min_pixels': 20, 'min_points': 10})
    rclpy.init()
    fz = Fuzzer()
    ex = SingleThreadedExecutor()
    ex.add_node(fz)
    threading.Thread(target=ex.spin, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not (all(p.get_subscription_count() for p in (fz.color, fz.depth, fz.info))
                   and fz.count_publishers('/reward/detail')):
            assert all(p.poll() is None for p in procs), (tmp_path / 'spatial_facts.log').read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        rng = random.Random(1234)
        rgb, depth = scene()
        base = 1_700_001_000_000_000_000
        def answered():
            with fz.lock:
                return any(s < base for s in fz.rewards)

        warm_up(lambda s: fz.send(image(rgb, 'rgb8', s), image(depth, '32FC1', s), info(s)), answered,
                base - 10**9)
        good = []
        kinds_sent = set()
        for g in range(GOOD_FRAMES):
            ns = base + g * PERIOD
            fz.send(image(rgb, 'rgb8', ns), image(depth, '32FC1', ns), info(ns))
            good.append(ns)
            for b in range(BAD_PER_GAP):
                bad_ns = ns + 30_000_000 + b * 1_000_000  # 30..54 ms after the good frame: never paired with it
                kind, c, d, i = bad_triple(rng, rgb, depth, bad_ns)
                kinds_sent.add(kind)
                fz.send(c, d, i)
            time.sleep(0.02)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with fz.lock:
                if all(s in fz.rewards for s in good):
                    break
            time.sleep(0.1)
        assert all(p.poll() is None for p in procs), 'a node died under fuzzing'
        with fz.lock:
            lost = [s for s in good if s not in fz.rewards]
            assert not lost, f'{len(lost)} good frames lost'
            assert all(fz.rewards[s]['valid'] for s in good)
        time.sleep(1.5)  # one more diagnostics period
        with fz.lock:
            d = dict(fz.diag['spatial_facts'])
        for key in ('rejected_encoding', 'rejected_size', 'rejected_no_valid_depth', 'rejected_truncated',
                    'rejected_intrinsics', 'sync_out_of_order'):
            assert int(d.get(key, 0)) > 0, (key, d)
        assert int(d['processed']) >= GOOD_FRAMES
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        ex.shutdown()
        fz.destroy_node()
        rclpy.try_shutdown()
