"""spatial_facts under use_sim_time, as in bag replay with a /clock: a missing /clock is reported,
silence is measured on the sim clock (a paused bag is not silent, a running one is), outputs carry
the frames' stamps, the rate limit works on them, and /diagnostics is stamped in sim time."""

import json
import os
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from spatialvlm_ros.demo import ros_environment, start_node  # noqa: E402
from test_nodes import image, info, scene  # noqa: E402

T0 = 1000  # s of sim time: far from the wall clock's 1.7e9 s
REMAPS = {'color/image_raw': '/st/color', 'depth/image_raw': '/st/depth', 'color/camera_info': '/st/info'}


class Player(Node):
    """What ros2 bag play --clock does: /clock, and the camera topics stamped in the bag's time."""

    def __init__(self):
        super().__init__('sim_time_player')
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.clock = self.create_publisher(Clock, '/clock', 10)
        self.pubs = {'color': self.create_publisher(Image, '/st/color', rel),
                     'depth': self.create_publisher(Image, '/st/depth', rel),
                     'info': self.create_publisher(CameraInfo, '/st/info', rel)}
        self.lock = threading.Lock()
        self.objects, self.diag_stamps = {}, []
        self.create_subscription(String, '/sim_facts/objects', self._on_objects, rel)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)

    def _on_objects(self, m):
        doc = json.loads(m.data)
        with self.lock:
            self.objects[doc['stamp_ns']] = doc

    def _on_diag(self, m):
        if any(s.hardware_id == 'sim_facts' for s in m.status):
            with self.lock:
                self.diag_stamps.append(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)

    def tick(self, t_ns: int) -> None:
        self.clock.publish(Clock(clock=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)))

    def send(self, stamp, rgb, depth):
        self.pubs['info'].publish(info(stamp))
        self.pubs['depth'].publish(image(depth, '32FC1', stamp))
        self.pubs['color'].publish(image(rgb, 'rgb8', stamp))


@pytest.fixture(scope='module')
def replay(tmp_path_factory):
    logs = tmp_path_factory.mktemp('sim_time')
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    proc = start_node('spatial_facts_node', 'sim_facts', env, logs, REMAPS, {
        'use_sim_time': True, 'qos_reliability': 'reliable', 'input_timeout_s': 1.0, 'diagnostics_period_s': 0.5,
        'max_rate_hz': 10.0, 'center_mode': 'centroid', 'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target'],
        'min_points': 10, 'min_pixels': 20})
    rclpy.init()
    player = Player()
    ex = SingleThreadedExecutor()
    ex.add_node(player)
    threading.Thread(target=ex.spin, daemon=True).start()
    deadline = time.monotonic() + 60
    while not (player.pubs['color'].get_subscription_count() and player.count_publishers('/sim_facts/objects')
               and player.clock.get_subscription_count()):
        assert proc.poll() is None, (logs / 'sim_facts.log').read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    yield player, logs, proc
    proc.terminate()
    proc.wait(timeout=10)
    ex.shutdown()
    player.destroy_node()
    rclpy.try_shutdown()


def _log(logs) -> str:
    return (logs / 'sim_facts.log').read_text()


def test_sim_clock_drives_silence_stamps_and_diagnostics(replay):
    player, logs, proc = replay
    # no /clock yet (a bag played without its clock option): said at once, on the wall clock
    deadline = time.monotonic() + 10
    while 'no /clock has been received' not in _log(logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 'use_sim_time is true but no /clock has been received' in _log(logs), _log(logs)
    assert 'ros2 bag play --clock' in _log(logs)
    # a paused bag: the clock stands at T0 for 3 s of wall time -> no input is "silent"
    for _ in range(30):
        player.tick(T0 * 10**9)
        time.sleep(0.1)
    assert 'waiting for' not in _log(logs), _log(logs)
    assert proc.poll() is None

    # the bag runs at 10x: 3 s of sim time without camera messages -> the silence is reported
    t = T0 * 10**9
    for _ in range(30):
        t += 100_000_000
        player.tick(t)
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while 'waiting for' not in _log(logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 'waiting for /st/color (never received): no publisher' not in _log(logs)  # there is one
    assert 'waiting for /st/color (never received)' in _log(logs), _log(logs)

    # frames stamped in bag time, 30 Hz of stamps sent as fast as the bag plays them
    rgb, depth = scene()
    stamps = [t + 50_000_000 + i * 33_333_333 for i in range(7)]
    for s in stamps:
        player.tick(s)
        player.send(s, rgb, depth)
        time.sleep(0.03)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with player.lock:
            if stamps[6] in player.objects:
                break
        time.sleep(0.05)
    time.sleep(0.3)
    with player.lock:
        got = sorted(s for s in player.objects if s in stamps)
        diag = list(player.diag_stamps)
    assert got == [stamps[0], stamps[3], stamps[6]]  # max_rate_hz 10 on the stamps
    # published on a steady timer, stamped on the node clock: 0 before the first /clock, then sim time
    assert [d for d in diag if d > 0] and all(d == 0 or T0 <= d <= stamps[-1] / 1e9 + 1 for d in diag), diag
