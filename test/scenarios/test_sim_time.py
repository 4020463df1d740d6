"""spatial_facts under use_sim_time, as in bag replay with a /clock: a missing /clock is reported,
silence is measured on the sim clock (a paused bag is not silent, a running one is), outputs carry
the frames' stamps, the rate limit works on them, and /diagnostics is stamped in sim time."""

import time

import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Time  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from support.harness import Harness  # noqa: E402
from support.ros_msgs import image, info, scene  # noqa: E402

T0 = 1000  # s of sim time: far from the wall clock's 1.7e9 s
REMAPS = {'color/image_raw': '/st/color', 'depth/image_raw': '/st/depth', 'color/camera_info': '/st/info'}


class Player(Harness):
    """What ros2 bag play --clock does: /clock, and the camera topics stamped in the bag's time."""

    def __init__(self, name='sim_time_player'):
        super().__init__(name)
        self.publisher('clock', '/clock', Clock, depth=10)
        self.camera('/st/color', '/st/depth', '/st/info')
        self.objects = self.subscribe('/sim_facts/objects')
        self.collect_diagnostics()

    def tick(self, t_ns: int) -> None:
        self.publish('clock', Clock(clock=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)))

    def send(self, stamp, rgb, depth):
        self.send_frame(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))


@pytest.fixture(scope='module')
def replay(node_processes, ros_harness):
    procs = node_processes
    proc = procs.start('spatial_facts_node', 'sim_facts', REMAPS, {
        'use_sim_time': True, 'qos_reliability': 'reliable', 'input_timeout_s': 1.0, 'diagnostics_period_s': 0.5,
        'max_rate_hz': 10.0, 'center_mode': 'centroid', 'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target'],
        'min_points': 10, 'min_pixels': 20})
    player = ros_harness('sim_time_player', cls=Player).start()
    player.wait_connected(procs, publishers=['color', 'depth', 'info', 'clock'], topics=['/sim_facts/objects'])
    return player, procs, proc


def _log(procs) -> str:
    return procs.log('sim_facts')


def test_sim_clock_drives_silence_stamps_and_diagnostics(replay):
    player, procs, proc = replay
    # no /clock yet (a bag played without its clock option): said at once, on the wall clock
    deadline = time.monotonic() + 10
    while 'no /clock has been received' not in _log(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 'use_sim_time is true but no /clock has been received' in _log(procs), _log(procs)
    assert 'ros2 bag play --clock' in _log(procs)
    # a paused bag: the clock stands at T0 for 3 s of wall time -> no input is "silent"
    for _ in range(30):
        player.tick(T0 * 10**9)
        time.sleep(0.1)
    assert 'waiting for' not in _log(procs), _log(procs)
    assert proc.poll() is None

    # the bag runs at 10x: 3 s of sim time without camera messages -> the silence is reported
    t = T0 * 10**9
    for _ in range(30):
        t += 100_000_000
        player.tick(t)
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while 'waiting for' not in _log(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 'waiting for /st/color (never received): no publisher' not in _log(procs)  # there is one
    assert 'waiting for /st/color (never received)' in _log(procs), _log(procs)

    # frames stamped in bag time, 30 Hz of stamps sent as fast as the bag plays them
    rgb, depth = scene()
    stamps = [t + 50_000_000 + i * 33_333_333 for i in range(7)]
    for s in stamps:
        player.tick(s)
        player.send(s, rgb, depth)
        time.sleep(0.03)
    player.wait_until(lambda: stamps[6] in player.objects, timeout=15)
    time.sleep(0.3)
    with player.lock:
        got = sorted(s for s in player.objects if s in stamps)
        diag = list(player.diag_stamps.get('sim_facts', []))
    assert got == [stamps[0], stamps[3], stamps[6]]  # max_rate_hz 10 on the stamps
    # published on a steady timer, stamped on the node clock: 0 before the first /clock, then sim time
    assert [d for d in diag if d > 0] and all(d == 0 or T0 <= d <= stamps[-1] / 1e9 + 1 for d in diag), diag
