"""The one DDS test harness: the real nodes in their own processes (:class:`NodeProcesses`) and a
test node in this process (:class:`Harness`) that publishes their inputs and collects their
outputs, on this run's private loopback graph (see ``conftest.py``).

``conftest.py`` turns these into fixtures (``node_processes``, ``ros_harness``) that tear down
cleanly (test node destroyed, executor and context shut down, processes terminated) and attach
the processes' logs to a failing test.

Harness::

    h.publisher('color', '/camera/color/image_raw', Image)           # reliable, depth 50
    h.publisher('be', '/be/color', Image, qos='best_effort', depth=5)
    objects = h.subscribe('/spatial_facts/objects')                  # JSON docs keyed by stamp_ns
    debug = h.subscribe('/debug', Image, key='header', value=decode) # keyed by header stamp
    h.collect_diagnostics()                                          # /diagnostics by hardware_id
    h.start()                                                        # spin in a background thread
    h.wait_connected(procs, publishers=['color'], topics=['/spatial_facts/objects'])
    h.warm_up(lambda s: h.send_frame(c(s), d(s), i(s)), objects, first_stamp)
    doc = h.wait_for(objects, stamp)
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from spatialvlm_ros.demo import ros_environment, start_node, start_nodes

__all__ = ['Harness', 'NodeProcesses', 'qos_profile', 'header_ns', 'LOG_TAIL_CHARS']

LOG_TAIL_CHARS = 6000  # of each process log, attached to a failing test

_RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE, 'best_effort': ReliabilityPolicy.BEST_EFFORT}


def qos_profile(qos: str | QoSProfile = 'reliable', depth: int = 50) -> QoSProfile:
    """``'reliable'`` or ``'best_effort'`` (keep last ``depth``), or a QoSProfile as is."""
    if isinstance(qos, QoSProfile):
        return qos
    return QoSProfile(depth=depth, reliability=_RELIABILITY[qos])


def header_ns(msg) -> int:
    """A message's header stamp in integer nanoseconds."""
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


class NodeProcesses:
    """Node processes (``python -m spatialvlm_ros.ros.<module>``) on this run's private domain, each
    writing ``<name>.log`` in ``log_dir``; :meth:`close` terminates them."""

    def __init__(self, log_dir: Path, env: Optional[dict] = None) -> None:
        self.log_dir = Path(log_dir)
        self.env = env if env is not None else ros_environment(int(os.environ['ROS_DOMAIN_ID']))
        self.procs: dict[str, subprocess.Popen] = {}
        self._extra_logs: list[Path] = []

    def start(self, module: str, name: str, remaps: Optional[dict] = None, params: Optional[dict] = None):
        """Start one node (see :func:`spatialvlm_ros.demo.start_node`); returns its Popen."""
        assert name not in self.procs, f'a process named {name} is already running'
        self.procs[name] = start_node(module, name, self.env, self.log_dir, remaps, params)
        return self.procs[name]

    def start_pair(self, task: str = 'pick_and_place', extra_params: Optional[dict] = None) -> list:
        """spatial_facts and reward as the demo starts them (:func:`spatialvlm_ros.demo.start_nodes`)."""
        procs = start_nodes(self.env, self.log_dir, task=task, extra_params=extra_params)
        for name, p in zip(('spatial_facts', 'reward'), procs):
            self.procs[name] = p
        return procs

    def log(self, name: str) -> str:
        path = self.log_dir / f'{name}.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def logs(self) -> dict[str, str]:
        """name -> the text of every log in ``log_dir`` (the processes' and any other written there)."""
        return {p.stem: p.read_text(errors='replace') for p in sorted(self.log_dir.glob('*.log'))}

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs.values())

    def assert_alive(self, what: str = 'a node died') -> None:
        dead = [n for n, p in self.procs.items() if p.poll() is not None]
        assert not dead, f'{what}: {dead} exited; log of {dead[0]}:\n{self.log(dead[0])[-LOG_TAIL_CHARS:]}'

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


class Harness:
    """A test node in its own rclpy context, spun by a background executor thread.

    Stores filled by subscriptions are plain dicts, read under ``self.lock`` (or with
    :meth:`wait_for`, :meth:`snapshot`)."""

    def __init__(self, name: str = 'test_harness') -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.lock = threading.RLock()
        self.pubs: dict[str, Any] = {}
        self.diag: dict[str, dict[str, str]] = {}  # hardware_id -> {key: value} of its latest status
        self.diag_by_name: dict[str, dict[str, str]] = {}  # status name -> {key: value}
        self.diag_stamps: dict[str, list[float]] = {}  # hardware_id -> header stamps (s) of its arrays
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    # -- topics ---------------------------------------------------------------------------------
    def publisher(self, name: str, topic: str, msg_type: type, qos: str | QoSProfile = 'reliable', depth: int = 50):
        """A publisher, also ``self.pubs[name]``."""
        self.pubs[name] = self.node.create_publisher(msg_type, topic, qos_profile(qos, depth))
        return self.pubs[name]

    def camera(self, color: str = '/camera/color/image_raw', depth: str = '/camera/depth/image_raw',
               info: str = '/camera/color/camera_info', qos: str | QoSProfile = 'reliable', queue: int = 50) -> None:
        """The three RGB-D input publishers ``color``, ``depth``, ``info`` (for :meth:`send_frame`)."""
        from sensor_msgs.msg import CameraInfo, Image

        self.publisher('color', color, Image, qos, queue)
        self.publisher('depth', depth, Image, qos, queue)
        self.publisher('info', info, CameraInfo, qos, queue)

    def publish(self, name: str, msg) -> None:
        self.pubs[name].publish(msg)

    def send_frame(self, color, depth, info) -> None:
        """One RGB-D frame: camera_info, depth, then colour (the colour image completes the frame)."""
        self.pubs['info'].publish(info)
        self.pubs['depth'].publish(depth)
        self.pubs['color'].publish(color)

    def subscribe(self, topic: str, msg_type: type = String, key: str | Callable[[Any], Any] = 'stamp_ns',
                  value: Optional[Callable[[Any], Any]] = None, qos: str | QoSProfile = 'reliable',
                  depth: int = 50) -> dict:
        """A store (dict) of the messages on ``topic``, keyed by ``key``:

        * ``'header'``: the message's header stamp (int ns);
        * another string: that field of the JSON document in a std_msgs/String (``'stamp_ns'``,
          ``'request_id'``);
        * a callable: ``key(msg)``; ``None`` skips the message.

        ``value(msg)`` is stored (default: the JSON document for a JSON key, else the message).
        """
        store: dict = {}
        json_key = isinstance(key, str) and key != 'header'

        def on_msg(msg) -> None:
            doc = json.loads(msg.data) if json_key else None
            if json_key:
                k = doc[key]
            elif key == 'header':
                k = header_ns(msg)
            else:
                k = key(msg)
            if k is None:
                return
            v = value(msg) if value is not None else (doc if json_key else msg)
            with self.lock:
                store[k] = v

        self.node.create_subscription(msg_type, topic, on_msg, qos_profile(qos, depth))
        return store

    def collect_diagnostics(self, topic: str = '/diagnostics', depth: int = 50) -> None:
        """Fill ``diag`` (hardware_id -> key/values), ``diag_by_name`` and ``diag_stamps``."""

        def on_diag(msg) -> None:
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            with self.lock:
                for st in msg.status:
                    values = {kv.key: kv.value for kv in st.values}
                    self.diag[st.hardware_id] = values
                    self.diag_by_name[st.name] = values
                for hw in {st.hardware_id for st in msg.status}:
                    self.diag_stamps.setdefault(hw, []).append(stamp)

        self.node.create_subscription(DiagnosticArray, topic, on_diag, depth)

    def diagnostics(self, hardware_id: str) -> dict:
        """A copy of the latest key/values of ``hardware_id`` ({} before any)."""
        with self.lock:
            return dict(self.diag.get(hardware_id, {}))

    def wait_diagnostics(self, hardware_id: str, done: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """The latest key/values of ``hardware_id`` once ``done(values)``, or the last seen at the
        timeout (the caller's assertions then say what is missing)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.diagnostics(hardware_id)
            if done(d) or time.monotonic() >= deadline:
                return d
            time.sleep(0.1)

    # -- waiting --------------------------------------------------------------------------------
    def snapshot(self, store: Mapping) -> dict:
        with self.lock:
            return dict(store)

    def wait_for(self, store: Mapping, key, timeout: float = 15.0):
        """``store[key]`` as soon as it is there; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if key in store:
                    return store[key]
            time.sleep(0.02)
        raise AssertionError(f'nothing published for {key} within {timeout} s')

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll ``done()`` (called under ``self.lock``) until true or ``timeout``; returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                ok = bool(done())
            if ok or time.monotonic() >= deadline:
                return ok
            time.sleep(0.05)

    def wait_connected(self, procs: Optional[NodeProcesses] = None, publishers: Iterable[str] = (),
                       topics: Iterable[str] = (), timeout: float = 60.0) -> None:
        """Until each named publisher has a matched subscription and each topic a publisher; fails
        at once (with its log) if a node process exits, and after ``timeout`` s."""
        publishers, topics = list(publishers), list(topics)
        deadline = time.monotonic() + timeout
        while True:
            if procs is not None:
                procs.assert_alive('a node exited before the graph came up')
            if (all(self.pubs[p].get_subscription_count() for p in publishers)
                    and all(self.node.count_publishers(t) for t in topics)):
                return
            assert time.monotonic() < deadline, (
                'the nodes did not come up: ' + ', '.join(
                    [f'{p} has no subscriber' for p in publishers if not self.pubs[p].get_subscription_count()]
                    + [f'{t} has no publisher' for t in topics if not self.node.count_publishers(t)]))
            time.sleep(0.1)

    def warm_up(self, send: Callable[[int], None], store: Mapping, stamp: int, timeout: float = 60.0,
                step: int = 10_000_000, answered: Optional[Callable[[], bool]] = None) -> list[int]:
        """Send good frames (``send(stamp)``), each with a new stamp (a repeated one is a duplicate to
        the stamp pairing), until one of them shows up in ``store`` (or ``answered()``): every DDS
        link of the chain is then matched, so no test frame is lost to discovery. ``stamp``: the
        first warm-up stamp, earlier than any stamp a test sends. Returns the stamps sent."""
        sent: list[int] = []
        deadline = time.monotonic() + timeout
        while True:
            send(stamp)
            sent.append(stamp)
            time.sleep(0.3)
            with self.lock:
                done = answered() if answered is not None else any(s in store for s in sent)
            if done:
                return sent
            stamp += step
            assert time.monotonic() < deadline, 'the nodes never answered a good frame'

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> 'Harness':
        """Spin the node in a background thread."""
        self._thread = threading.Thread(target=self.executor.spin, name=f'{self.node.get_name()}-spin', daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.executor.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
