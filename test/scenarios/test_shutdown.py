"""Clean shutdown of every entry point with traffic flowing: SIGINT (Ctrl-C of ``ros2 run``, of
``ros2 launch``), SIGTERM (launch's second step), a lifecycle shutdown over ``~/change_state``, and
Ctrl-C of ``spatialvlm label`` after its first chunk, then resumed to the same outputs.

Each node process gets frames at ~30 Hz (``spatial_facts`` and ``vlm_reward``: RGB-D; ``reward``:
objects documents) and ``vlm_reward`` asks a local HTTP server that accepts the connection and
never answers, so its request is blocked when the signal comes. Every shutdown must end with exit
code 0 and no ``Traceback`` nor error line in the node's log.

``SPATIALVLM_SHUTDOWN_REPEATS`` (default 3) sets how many signals each entry point gets in a row;
the issue's acceptance run is ``SPATIALVLM_SHUTDOWN_REPEATS=20``. A summary line per entry point
is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from spatialvlm_ros.demo.processes import ros_environment, start_node  # noqa: E402
from support.bags import output_tree  # noqa: E402

REPEATS = int(os.environ.get('SPATIALVLM_SHUTDOWN_REPEATS', '3'))
RATE_HZ = 30.0
W, H = 320, 240
READY_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 15.0  # ros2 launch escalates to SIGTERM after 5 s, SIGKILL after 5 more
NS = '/shutdown_test'
COLOR, DEPTH, INFO = f'{NS}/color/image_raw', f'{NS}/depth/image_raw', f'{NS}/color/camera_info'
OBJECTS = f'{NS}/objects'
# A line of a log that reports a failure (rcutils' [ERROR], Python's tracebacks and exceptions).
BAD_LINE = re.compile(r'Traceback|Error|ERROR|FATAL|Exception')
# run_node's teardown watchdog ended the process (exit 0 when only the middleware was left): not a
# failure of the node, but counted and printed, since it means a middleware teardown hung.
WATCHDOG = 'teardown did not finish within'

# -- traffic: a camera at 30 Hz, objects documents, and a VLM server that never answers ---------------


def _color(stamp_ns: int) -> np.ndarray:
    rgb = np.full((H, W, 3), 90, np.uint8)
    x = int(stamp_ns // 33_000_000) % 40
    rgb[100:140, 60 + x:100 + x] = (220, 30, 30)    # red block (moves: every frame differs)
    rgb[100:140, 200:240] = (30, 30, 220)           # blue target
    rgb[40:70, 140:170] = (230, 220, 30)            # yellow gripper
    return rgb


def _header(msg, stamp_ns: int, frame_id: str = 'cam_optical') -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = frame_id


def _frame(stamp_ns: int):
    color = Image(height=H, width=W, encoding='rgb8', is_bigendian=0, step=W * 3)
    color.data = _color(stamp_ns).tobytes()
    depth = Image(height=H, width=W, encoding='16UC1', is_bigendian=0, step=W * 2)
    depth.data = np.full((H, W), 700, np.uint16).tobytes()
    info = CameraInfo(height=H, width=W, distortion_model='plumb_bob')
    info.k = [300.0, 0.0, W / 2, 0.0, 300.0, H / 2, 0.0, 0.0, 1.0]
    info.p = [300.0, 0.0, W / 2, 0.0, 0.0, 300.0, H / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.0] * 5
    for m in (color, depth, info):
        _header(m, stamp_ns)
    return color, depth, info


def _objects(stamp_ns: int) -> String:
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    centres = {'gripper': [0.0, 0.0, 0.7], 'block': [0.2, 0.0, 0.7], 'target': [0.2, 0.0, 1.0]}
    doc = {'stamp': {'sec': sec, 'nanosec': nanosec}, 'stamp_ns': stamp_ns, 'frame_id': 'cam_optical',
           'objects': [{'name': n, 'center_m': c, 'extent_m': [0.05] * 3, 'points': 100, 'pixels': 100}
                       for n, c in centres.items()], 'missing': []}
    return String(data=json.dumps(doc))


class SilentServer:
    """An HTTP server that accepts every connection, reads the request and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._conns: list = []
        self._closed = False
        threading.Thread(target=self._accept, name='silent-server', daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn) -> None:
        try:
            while conn.recv(1 << 16):
                pass
        except OSError:
            pass

    def received(self) -> int:
        """Connections accepted so far (each one a request now blocked)."""
        return len(self._conns)

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


class Traffic:
    """A test node in its own context: publishes the camera and objects at RATE_HZ from a thread,
    counts what the nodes publish, and calls lifecycle services."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node('shutdown_traffic', context=self.context)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {t: self.node.create_publisher(m, t, qos) for t, m in
                     ((COLOR, Image), (DEPTH, Image), (INFO, CameraInfo), (OBJECTS, String))}
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        for topic in ('/spatial_facts/objects', '/reward/detail', '/vlm_reward/detail'):
            self.node.create_subscription(String, topic, lambda _m, t=topic: self._count(t), qos)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self.published = 0
        self._spin = threading.Thread(target=self.executor.spin, name='traffic-spin', daemon=True)
        self._pub = threading.Thread(target=self._publish, name='traffic-pub', daemon=True)
        self._spin.start()
        self._pub.start()

    def _count(self, topic: str) -> None:
        with self.lock:
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def count(self, topic: str) -> int:
        with self.lock:
            return self.counts.get(topic, 0)

    def _publish(self) -> None:
        period = 1.0 / RATE_HZ
        next_t = time.monotonic()
        while not self._stop.is_set():
            stamp = time.time_ns()
            color, depth, info = _frame(stamp)
            try:
                self.pubs[INFO].publish(info)
                self.pubs[DEPTH].publish(depth)
                self.pubs[COLOR].publish(color)
                self.pubs[OBJECTS].publish(_objects(stamp))
            except Exception:  # noqa: BLE001 - the context is going away at the module's end
                if self._stop.is_set():
                    return
                raise
            self.published += 1
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))

    def change_state(self, node_name: str, transition_id: int, timeout: float = 20.0) -> bool:
        client = self.node.create_client(ChangeState, f'/{node_name}/change_state')
        try:
            assert client.wait_for_service(timeout_sec=timeout), f'no /{node_name}/change_state service'
            future = client.call_async(ChangeState.Request(transition=Transition(id=transition_id)))
            deadline = time.monotonic() + timeout
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert future.done(), f'/{node_name}/change_state did not answer within {timeout} s'
            return future.result().success
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self._stop.set()
        self._pub.join(timeout=5)
        self.executor.shutdown()
        self._spin.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture(scope='module')
def traffic():
    t = Traffic()
    yield t
    t.close()


@pytest.fixture(scope='module')
def vlm_server():
    s = SilentServer()
    yield s
    s.close()


# -- the entry points, started as the launch file starts them -------------------------------------

ENTRY_POINTS = ('spatial_facts', 'reward', 'vlm_reward')


def _spec(name: str, server: SilentServer) -> tuple[str, dict, dict]:
    """(module, remaps, parameters) of one node, on the traffic's topics."""
    if name == 'spatial_facts':
        return 'spatial_facts_node', {'color/image_raw': COLOR, 'depth/image_raw': DEPTH, 'color/camera_info': INFO}, {
            'task': 'pick_and_place', 'qos_reliability': 'reliable'}
    if name == 'reward':
        return 'reward_node', {'objects': OBJECTS}, {'task': 'pick_and_place'}
    return 'vlm_reward_node', {'color/image_raw': COLOR, 'objects': OBJECTS}, {
        'task': 'pick_and_place', 'qos_reliability': 'reliable', 'backend': 'openai', 'model': 'test-model',
        'base_url': f'http://127.0.0.1:{server.port}/v1', 'timeout_s': 60.0, 'retries': 0, 'period_s': 0.2}


def _start(name: str, server: SilentServer, log_dir: Path):
    module, remaps, params = _spec(name, server)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    return start_node(module, name, env, log_dir, remaps, params)


def _busy(name: str, traffic: Traffic, server: SilentServer) -> dict:
    """A probe per node: a callable true once the node is handling traffic (and vlm_reward's
    request to the server is blocked)."""
    if name == 'vlm_reward':
        base = server.received()
        return lambda: server.received() > base
    topic = '/spatial_facts/objects' if name == 'spatial_facts' else '/reward/detail'
    base = traffic.count(topic)
    return lambda: traffic.count(topic) >= base + 3


def _wait_busy(procs: dict, probes: dict, log_dir: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = set(procs)
    while waiting:
        for name in list(waiting):
            if procs[name].poll() is not None:
                pytest.fail(f'{name} exited ({procs[name].returncode}) before handling traffic:\n{_log(log_dir, name)}')
            if probes[name]():
                waiting.discard(name)
        if time.monotonic() > deadline:
            for p in procs.values():
                p.kill()
            pytest.fail(f'{sorted(waiting)} never handled traffic within {READY_TIMEOUT_S} s')
        time.sleep(0.05)


def _log(log_dir: Path, name: str) -> str:
    path = log_dir / f'{name}.log'
    return path.read_text(errors='replace') if path.exists() else ''


def _finish(procs: dict, log_dir: Path, t_signal: float) -> dict:
    """name -> (exit code, seconds to exit, bad log lines) once every process has exited."""
    out = {}
    for name, p in procs.items():
        try:
            rc = p.wait(timeout=max(0.1, EXIT_TIMEOUT_S - (time.monotonic() - t_signal)))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGUSR1)  # run_node: faulthandler prints every thread's stack
            time.sleep(1.0)
            p.kill()
            p.wait(timeout=10)
            stacks = _log(log_dir, name).splitlines()[-60:]
            rc = f'hung (killed after {EXIT_TIMEOUT_S} s); log tail: ' + ' | '.join(stacks)
        seconds = time.monotonic() - t_signal
        lines = _log(log_dir, name).splitlines()
        bad = [line for line in lines if BAD_LINE.search(line)]
        out[name] = (rc, seconds, bad, [line for line in lines if WATCHDOG in line])
    return out


def _report(what: str, results: list) -> None:
    """Print one summary line and fail with every failed run's exit code and log lines."""
    failures = [(i, rc, bad) for i, (rc, _, bad, _) in enumerate(results) if rc != 0 or bad]
    tracebacks = sum(any('Traceback' in line for line in bad) for _, _, bad in failures)
    nonzero = sum(rc != 0 for _, rc, _ in failures)
    secs = [r[1] for r in results]
    watchdog = [(i, r[3]) for i, r in enumerate(results) if r[3]]
    print(f'\n[shutdown] {what}: {len(results)} runs, {nonzero} non-zero exits, {tracebacks} with a traceback, '
          f'{len(failures)} with error lines, {len(watchdog)} ended by the teardown watchdog {watchdog}; '
          f'exit after {min(secs):.2f}-{max(secs):.2f} s')
    assert not failures, f'{what}: ' + '; '.join(f'run {i}: exit {rc}, log lines {bad[:6]}' for i, rc, bad in failures)


# -- the tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
@pytest.mark.parametrize('name', ENTRY_POINTS)
def test_signal_with_traffic_flowing_exits_0_without_traceback(name, sig, traffic, vlm_server, tmp_path):
    """``ros2 run`` + Ctrl-C (SIGINT), REPEATS times in a row; SIGTERM (launch's escalation) once."""
    results = []
    for i in range(REPEATS if sig == signal.SIGINT else 1):
        log_dir = tmp_path / f'run{i}'
        probe = _busy(name, traffic, vlm_server)
        procs = {name: _start(name, vlm_server, log_dir)}
        _wait_busy(procs, {name: probe}, log_dir)
        time.sleep(0.2)  # frames keep flowing; vlm_reward's request stays blocked
        t = time.monotonic()
        procs[name].send_signal(sig)
        results.append(_finish(procs, log_dir, t)[name])
    _report(f'{name} {sig.name}', results)


def test_launch_ctrl_c_with_traffic_flowing(traffic, vlm_server, tmp_path):
    """``ros2 launch spatialvlm.launch.xml vlm_reward:=true`` then Ctrl-C: launch sends SIGINT to
    every node process at once (emulated: the three processes, signalled together)."""
    results = {n: [] for n in ENTRY_POINTS}
    for i in range(REPEATS):
        log_dir = tmp_path / f'run{i}'
        probes = {n: _busy(n, traffic, vlm_server) for n in ENTRY_POINTS}
        procs = {n: _start(n, vlm_server, log_dir) for n in ENTRY_POINTS}
        _wait_busy(procs, probes, log_dir)
        time.sleep(0.2)
        t = time.monotonic()
        for p in procs.values():
            p.send_signal(signal.SIGINT)
        for n, r in _finish(procs, log_dir, t).items():
            results[n].append(r)
    for n, r in results.items():
        _report(f'launch: {n}', r)


@pytest.mark.parametrize('name', ['spatial_facts', 'vlm_reward'])
def test_lifecycle_shutdown_ends_the_process_with_0(name, traffic, vlm_server, tmp_path):
    """``ros2 lifecycle set /NODE shutdown`` while active and busy: the transition succeeds, and the
    finalized node's process exits by itself with 0, without a traceback."""
    probe = _busy(name, traffic, vlm_server)
    procs = {name: _start(name, vlm_server, tmp_path)}
    _wait_busy(procs, {name: probe}, tmp_path)
    t = time.monotonic()
    assert traffic.change_state(name, Transition.TRANSITION_ACTIVE_SHUTDOWN), _log(tmp_path, name)
    _report(f'{name} lifecycle shutdown', [_finish(procs, tmp_path, t)[name]])
    assert 'finalized' in _log(tmp_path, name)


# -- spatialvlm label: Ctrl-C after the first chunk, then resumed ----------------------------------------


def _cli(*args, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, '-m', 'spatialvlm_ros.cli', *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope='module')
def sim_bag(tmp_path_factory) -> Path:
    pytest.importorskip('mujoco')
    pytest.importorskip('rosbags')
    bag = tmp_path_factory.mktemp('shutdown_bag') / 'episode'
    p = _cli('sim', 'record', '--frames', '100', '--out', str(bag))
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
    return bag


def test_label_ctrl_c_after_first_chunk_keeps_it_and_resumes_to_identical_outputs(sim_bag, tmp_path):
    pytest.importorskip('pyarrow')
    args = ['label', str(sim_bag), '--workers', '2', '--chunk-frames', '10', '--no-progress']
    ref = _cli(*args, '--out', str(tmp_path / 'plain'))
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err[-3000:]

    out = tmp_path / 'resumed'
    chunks = out / '.work' / sim_bag.name / 'chunks'
    # Ctrl-C in a terminal signals the whole foreground process group: the CLI and its pool workers.
    p = _cli(*args, '--out', str(out), start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(chunks.glob('*/done.json')):
        assert p.poll() is None, f'label ended before its first chunk: {p.communicate()[1][-3000:]}'
        assert time.monotonic() < deadline, 'no chunk finished within 120 s'
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    text = stdout + stderr
    assert p.returncode == 130, text[-3000:]
    assert 'Traceback' not in text and 'Error' not in text, text[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith('INFO ')]
    assert len(lines) == 1 and 'interrupted' in lines[0] and 'resume' in lines[0], lines
    kept = len(list(chunks.glob('*/done.json')))
    assert 1 <= kept < 10 and not (out / sim_bag.name).exists()
    print(f'\n[shutdown] label: interrupted with {kept} of 10 chunks done: {lines[0]}')

    again = _cli(*args, '--out', str(out))
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    summary = json.loads((out / sim_bag.name / 'summary.json').read_text())
    assert summary['throughput']['resumed_chunks'] == kept
    assert output_tree(out / sim_bag.name) == output_tree(tmp_path / 'plain' / sim_bag.name)
