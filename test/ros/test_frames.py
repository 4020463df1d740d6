"""transform_source 'tf' against a stand-in tf2_ros (no tf2_ros / tf2_msgs wheel exists here).

The stand-in below is installed in ``sys.modules`` for one test at a time. It follows the parts of
the tf2_ros Python API that FrameResolver relies on, as documented in ros2/geometry2
(tf2_ros/buffer.py, transform_listener.py, tf2_py):

* ``Buffer.lookup_transform(target_frame, source_frame, time, timeout=Duration())`` waits (polling)
  up to ``timeout`` for the transform, then returns a geometry_msgs/TransformStamped from
  ``source_frame`` into ``target_frame`` (header.frame_id = target, child_frame_id = source), or raises
  LookupException (unknown frame), ConnectivityException, ExtrapolationException (stamp outside the
  stored samples) or InvalidArgumentException (empty frame id), all subclasses of TransformException;
* ``time`` is anything with ``sec``/``nanosec`` or ``nanoseconds`` (the clock type is ignored);
  ``nanoseconds == 0`` means the latest sample; other stamps interpolate between the two samples
  around them (translation linear, rotation slerp), never extrapolate; static transforms hold at
  every stamp; a lookup in the reverse direction returns the inverse;
* ``TransformListener(buffer, node, *, spin_thread=False, ...)`` subscribes on ``node`` and, with
  ``spin_thread``, adds ``node`` to a SingleThreadedExecutor spun in a thread of its own.

What it is not: tf2. No chains of more than one edge (ConnectivityException instead), no cache
time limit, and the listener receives one geometry_msgs/TransformStamped per message on /tf and
/tf_static, not tf2_msgs/TFMessage (that type has no wheel here). Its spin thread's executor uses
the node's context (the real one uses the default context, which is the one our nodes run in),
so the tests can keep their own context.
"""

import sys
import threading
import time
import types
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

rclpy = pytest.importorskip('rclpy')

from geometry_msgs.msg import TransformStamped  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.duration import Duration  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.time import Time  # noqa: E402

from spatialvlm_ros.core.transform import RigidTransform, TransformError  # noqa: E402
from spatialvlm_ros.ros.errors import NodeError  # noqa: E402
from spatialvlm_ros.ros.frames import FrameResolver  # noqa: E402

# ----------------------------------------------------------------------------- the stand-in

time_module = time  # the stand-in's methods take an argument named ``time``, as tf2_ros's do


class TransformException(Exception):
    pass


class LookupException(TransformException):
    pass


class ConnectivityException(TransformException):
    pass


class ExtrapolationException(TransformException):
    pass


class InvalidArgumentException(TransformException):
    pass


class TimeoutException(TransformException):
    pass


def _time_ns(t) -> int:
    if hasattr(t, 'sec') and hasattr(t, 'nanosec'):
        return int(t.sec) * 10**9 + int(t.nanosec)
    if hasattr(t, 'nanoseconds'):
        return int(t.nanoseconds)
    raise TypeError('time must have sec and nanosec, or nanoseconds.')


def _duration_ns(d) -> int:
    if hasattr(d, 'sec') and hasattr(d, 'nanosec'):
        return int(d.sec) * 10**9 + int(d.nanosec)
    if hasattr(d, 'nanoseconds'):
        return int(d.nanoseconds)
    raise TypeError('duration must have sec and nanosec, or nanoseconds.')


def _pose(msg: TransformStamped):
    q, p = msg.transform.rotation, msg.transform.translation
    return Rotation.from_quat([q.x, q.y, q.z, q.w]), np.array([p.x, p.y, p.z])


def _message(target: str, source: str, stamp_ns: int, rot: Rotation, trans) -> TransformStamped:
    out = TransformStamped()
    out.header.frame_id, out.child_frame_id = target, source
    out.header.stamp.sec, out.header.stamp.nanosec = divmod(int(stamp_ns), 10**9)
    x, y, z, w = (float(v) for v in rot.as_quat())
    out.transform.rotation.x, out.transform.rotation.y, out.transform.rotation.z, out.transform.rotation.w = x, y, z, w
    out.transform.translation.x, out.transform.translation.y, out.transform.translation.z = (float(v) for v in trans)
    return out


@dataclass
class LookupCall:
    target_frame: str
    source_frame: str
    time_ns: int
    timeout_ns: int
    time_type: type
    timeout_type: type
    available_at_call: bool  # False: the transform arrived (or not) while the lookup waited


class Buffer:
    """Stand-in tf2_ros.Buffer: samples per (parent, child) edge, one hop, interpolated in time."""

    instances: list = []

    def __init__(self, cache_time=None, node=None) -> None:
        self._lock = threading.Lock()
        self._dynamic: dict[tuple[str, str], list[tuple[int, TransformStamped]]] = {}
        self._static: dict[tuple[str, str], TransformStamped] = {}
        self.calls: list[LookupCall] = []
        Buffer.instances.append(self)

    # -- filling (what TransformListener calls, and a test may call directly)
    def set_transform(self, transform: TransformStamped, authority: str) -> None:
        assert isinstance(transform, TransformStamped), type(transform)
        key = (transform.header.frame_id, transform.child_frame_id)
        stamp = _time_ns(transform.header.stamp)
        with self._lock:
            samples = [s for s in self._dynamic.get(key, []) if s[0] != stamp] + [(stamp, transform)]
            self._dynamic[key] = sorted(samples, key=lambda s: s[0])

    def set_transform_static(self, transform: TransformStamped, authority: str) -> None:
        assert isinstance(transform, TransformStamped), type(transform)
        with self._lock:
            self._static[(transform.header.frame_id, transform.child_frame_id)] = transform

    # -- queries
    def _edge_at(self, parent: str, child: str, t_ns: int):
        """(rotation, translation, stamp) of the edge parent <- child at t_ns (0: latest)."""
        if (parent, child) in self._static:
            rot, trans = _pose(self._static[(parent, child)])
            return rot, trans, t_ns
        samples = self._dynamic[(parent, child)]
        if t_ns == 0:
            stamp, msg = samples[-1]
            return (*_pose(msg), stamp)
        stamps = [s for s, _ in samples]
        if t_ns < stamps[0] or t_ns > stamps[-1]:
            direction = 'past' if t_ns < stamps[0] else 'future'
            raise ExtrapolationException(
                f'Lookup would require extrapolation into the {direction}. Requested time {t_ns} but the '
                f'earliest data is at time {stamps[0]} and the latest at {stamps[-1]}, when looking up '
                f'transform from frame [{child}] to frame [{parent}]'
            )
        i = int(np.searchsorted(stamps, t_ns))
        if stamps[i] == t_ns:
            return (*_pose(samples[i][1]), t_ns)
        (s0, m0), (s1, m1) = samples[i - 1], samples[i]
        (r0, p0), (r1, p1) = _pose(m0), _pose(m1)
        a = (t_ns - s0) / (s1 - s0)
        rot = Slerp([0.0, 1.0], Rotation.from_quat(np.stack([r0.as_quat(), r1.as_quat()])))([a])[0]
        return rot, (1 - a) * p0 + a * p1, t_ns

    def _lookup(self, target: str, source: str, t_ns: int) -> TransformStamped:
        for name, arg in ((target, 'target_frame'), (source, 'source_frame')):
            if not isinstance(name, str):
                raise TypeError(f'{arg} must be a str, not {type(name).__name__}')
            if not name or name.startswith('/'):
                raise InvalidArgumentException(
                    f'Invalid argument "{name}" passed to lookupTransform argument {arg} - in tf2 frame_ids '
                    'cannot be empty or start with a "/"'
                )
        with self._lock:
            edges = set(self._dynamic) | set(self._static)
            frames = {f for e in edges for f in e}
            for name, arg in ((target, 'target_frame'), (source, 'source_frame')):
                if name not in frames:
                    raise LookupException(f'"{name}" passed to lookupTransform argument {arg} does not exist. ')
            if target == source:
                return _message(target, source, t_ns, Rotation.identity(), np.zeros(3))
            if (target, source) in edges:
                rot, trans, stamp = self._edge_at(target, source, t_ns)
            elif (source, target) in edges:
                rot, trans, stamp = self._edge_at(source, target, t_ns)
                rot, trans = rot.inv(), -rot.inv().apply(trans)
            else:
                raise ConnectivityException(
                    f'Could not find a connection between "{target}" and "{source}" because they are not part '
                    'of the same tree (stand-in: one edge only)'
                )
        return _message(target, source, stamp, rot, trans)

    def can_transform_core(self, target_frame: str, source_frame: str, time) -> tuple:
        try:
            self._lookup(target_frame, source_frame, _time_ns(time))
        except TransformException as err:
            return False, str(err)
        return True, ''

    def lookup_transform_core(self, target_frame: str, source_frame: str, time) -> TransformStamped:
        return self._lookup(target_frame, source_frame, _time_ns(time))

    def can_transform(self, target_frame, source_frame, time, timeout=Duration(), return_debug_tuple=False):
        wait_ns = _duration_ns(timeout)
        deadline = time_module.monotonic_ns() + wait_ns
        while wait_ns and time_module.monotonic_ns() < deadline \
                and not self.can_transform_core(target_frame, source_frame, time)[0]:
            time_module.sleep(0.02)  # tf2_ros polls like this too
        result = self.can_transform_core(target_frame, source_frame, time)
        return result if return_debug_tuple else result[0]

    def lookup_transform(self, target_frame, source_frame, time, timeout=Duration()) -> TransformStamped:
        self.calls.append(LookupCall(target_frame, source_frame, _time_ns(time), _duration_ns(timeout), type(time),
                                     type(timeout), self.can_transform_core(target_frame, source_frame, time)[0]))
        self.can_transform(target_frame, source_frame, time, timeout)
        return self.lookup_transform_core(target_frame, source_frame, time)


class TransformListener:
    """Stand-in tf2_ros.TransformListener (geometry_msgs/TransformStamped per message, see above)."""

    instances: list = []

    def __init__(self, buffer, node, *, spin_thread=False, qos=None, static_qos=None, tf_topic='/tf',
                 tf_static_topic='/tf_static', static_only=False) -> None:
        TransformListener.instances.append(self)
        self.buffer, self.node, self.spin_thread = buffer, node, spin_thread
        self.group = ReentrantCallbackGroup()
        if not static_only:
            qos = qos or QoSProfile(depth=100, durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
            self.tf_sub = node.create_subscription(
                TransformStamped, tf_topic, lambda m: buffer.set_transform(m, 'default_authority'), qos,
                callback_group=self.group)
        static_qos = static_qos or QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                                              history=HistoryPolicy.KEEP_LAST)
        self.tf_static_sub = node.create_subscription(
            TransformStamped, tf_static_topic, lambda m: buffer.set_transform_static(m, 'default_authority'),
            static_qos, callback_group=self.group)
        if spin_thread:
            self.executor = SingleThreadedExecutor(context=node.context)

            def run():
                self.executor.add_node(self.node)
                try:
                    self.executor.spin()
                except ExternalShutdownException:
                    pass

            self.dedicated_listener_thread = threading.Thread(target=run, daemon=True)
            self.dedicated_listener_thread.start()


def _standin_module() -> types.ModuleType:
    mod = types.ModuleType('tf2_ros')
    mod.__doc__ = 'test stand-in for tf2_ros (see test_frames_tf.py)'
    for obj in (Buffer, TransformListener, TransformException, LookupException, ConnectivityException,
                ExtrapolationException, InvalidArgumentException, TimeoutException):
        setattr(mod, obj.__name__, obj)
    return mod


@pytest.fixture
def tf2(monkeypatch):
    """The stand-in, importable as tf2_ros for this test only."""
    Buffer.instances.clear()
    TransformListener.instances.clear()
    monkeypatch.setitem(sys.modules, 'tf2_ros', _standin_module())
    yield sys.modules['tf2_ros']
    Buffer.instances.clear()
    TransformListener.instances.clear()


@pytest.fixture
def ctx():
    """A private rclpy context on this test run's private, loopback-only graph (conftest)."""
    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)
    for listener in TransformListener.instances:
        thread = getattr(listener, 'dedicated_listener_thread', None)
        if thread is not None:
            thread.join(timeout=5)
            assert not thread.is_alive(), 'the listener spin thread outlived its context'


# ----------------------------------------------------------------------------- helpers

STAMP = 1_700_000_123_456_789_012
CAMERA = 'cam_optical'
# camera optical frame in base_link: 0.5 m up, 30 deg down, facing +x (as in test_node_robot)
XYZ = np.array([0.1, -0.2, 0.5])
QUAT = np.array([0.6123724, -0.6123724, 0.3535534, -0.3535534])


def stamped(parent, child, stamp_ns, xyz, quat) -> TransformStamped:
    return _message(parent, child, stamp_ns, Rotation.from_quat(quat), xyz)


def resolver(node, timeout_s=0.25, target='base_link') -> FrameResolver:
    return FrameResolver(node, 'tf', target, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], timeout_s)


# ----------------------------------------------------------------------------- the stand-in itself


def test_standin_follows_the_tf2_lookup_rules(tf2):
    buf = tf2.Buffer()
    a = stamped('base_link', CAMERA, STAMP, XYZ, QUAT)
    b = stamped('base_link', CAMERA, STAMP + 10**9, XYZ + [1.0, 0, 0], QUAT)
    buf.set_transform(a, 'test')
    buf.set_transform(b, 'test')
    # Time(0) = latest; a stamp in between interpolates; outside the samples is extrapolation
    assert buf.lookup_transform('base_link', CAMERA, Time()).transform.translation.x == pytest.approx(1.1)
    mid = buf.lookup_transform('base_link', CAMERA, Time(nanoseconds=STAMP + 5 * 10**8))
    assert mid.transform.translation.x == pytest.approx(0.6)
    assert (mid.header.frame_id, mid.child_frame_id) == ('base_link', CAMERA)
    with pytest.raises(tf2.ExtrapolationException, match='future'):
        buf.lookup_transform('base_link', CAMERA, Time(nanoseconds=STAMP + 2 * 10**9))
    with pytest.raises(tf2.LookupException, match='does not exist'):
        buf.lookup_transform('base_link', 'other', Time(nanoseconds=STAMP))
    assert issubclass(tf2.ExtrapolationException, tf2.TransformException)
    # the reverse direction is the inverse
    inv = buf.lookup_transform(CAMERA, 'base_link', Time(nanoseconds=STAMP))
    r, t = _pose(inv)
    np.testing.assert_allclose(r.apply(XYZ) + t, 0.0, atol=1e-9)
    # a wait with a timeout polls, then gives up
    t0 = time.monotonic()
    assert not buf.can_transform('base_link', 'other', Time(nanoseconds=STAMP), Duration(seconds=0.1))
    assert 0.09 < time.monotonic() - t0 < 1.0


# ----------------------------------------------------------------------------- FrameResolver


def test_tf_resolves_the_camera_frame_at_the_frame_stamp(tf2, ctx):
    node = Node('frames_tf_probe', context=ctx)
    frames = resolver(node, timeout_s=0.25)
    (buf,) = tf2.Buffer.instances
    # two samples: the frame's stamp, and a later one that a lookup at "now" or Time(0) would get
    buf.set_transform(stamped('base_link', CAMERA, STAMP, XYZ, QUAT), 'test')
    buf.set_transform(stamped('base_link', CAMERA, STAMP + 10**9, [5.0, 5.0, 5.0], [0, 0, 0, 1]), 'test')

    tf = frames.resolve(CAMERA, STAMP)

    assert isinstance(tf, RigidTransform)
    assert (tf.parent, tf.child, tf.stamp_ns) == ('base_link', CAMERA, STAMP)
    np.testing.assert_allclose(tf.rotation, Rotation.from_quat(QUAT).as_matrix(), atol=1e-6)
    np.testing.assert_allclose(tf.translation, XYZ, atol=1e-12)
    # a point on the optical axis 1 m ahead: 30 deg down from 0.5 m, forward along +x
    np.testing.assert_allclose(tf.apply([0.0, 0.0, 1.0]), XYZ + [np.cos(np.pi / 6), 0.0, -0.5], atol=1e-6)

    (call,) = buf.calls
    assert (call.target_frame, call.source_frame) == ('base_link', CAMERA)  # base_link <- camera
    assert call.time_ns == STAMP  # the frame's stamp: not now, not Time(0)
    assert call.timeout_ns == 250_000_000  # transform_timeout_s
    assert call.time_type is Time and call.timeout_type is Duration


def test_tf_between_samples_interpolates_at_the_frame_stamp(tf2, ctx):
    frames = resolver(Node('frames_tf_mid', context=ctx))
    (buf,) = tf2.Buffer.instances
    buf.set_transform(stamped('base_link', CAMERA, STAMP, [0.0, 0.0, 0.0], [0, 0, 0, 1]), 'test')
    buf.set_transform(stamped('base_link', CAMERA, STAMP + 100_000_000, [0.2, 0.0, 0.0], [0, 0, 0, 1]), 'test')
    tf = frames.resolve(CAMERA, STAMP + 25_000_000)
    np.testing.assert_allclose(tf.translation, [0.05, 0.0, 0.0], atol=1e-9)


def test_missing_or_out_of_range_transform_is_a_transform_error_naming_both_frames(tf2, ctx):
    frames = resolver(Node('frames_tf_missing', context=ctx), timeout_s=0.2)
    (buf,) = tf2.Buffer.instances
    buf.set_transform(stamped('base_link', CAMERA, STAMP, XYZ, QUAT), 'test')

    t0 = time.monotonic()
    with pytest.raises(TransformError) as err:
        frames.resolve('wrist_cam', STAMP)
    waited = time.monotonic() - t0
    msg = str(err.value)
    assert "'base_link'" in msg and "'wrist_cam'" in msg and str(STAMP) in msg and '0.2 s' in msg, msg
    assert err.value.kind == 'transform'
    assert isinstance(err.value.__cause__, tf2.LookupException)
    assert 0.15 < waited < 2.0  # it waited for the transform up to the timeout, then gave up

    later = STAMP + 3 * 10**9  # the camera frame exists, but not at this stamp
    with pytest.raises(TransformError, match=str(later)) as err:
        frames.resolve(CAMERA, later)
    assert isinstance(err.value.__cause__, tf2.ExtrapolationException)
    assert f"'{CAMERA}'" in str(err.value)


def test_tf_listener_spins_its_own_node_not_the_callers(tf2, ctx):
    """spin_thread adds the listener's node to the listener's executor. Were that the caller's
    node, it would leave the executor that spins the frame callbacks (a node is in one executor),
    and tf would arrive on the same thread that waits for it."""
    node = Node('frames_tf_owner', context=ctx)
    frames = resolver(node)
    (listener,) = tf2.TransformListener.instances
    assert listener.spin_thread and listener.buffer is tf2.Buffer.instances[0]
    assert listener.node is not node and listener.node.context is node.context
    assert listener.node.get_name() == 'frames_tf_owner_tf_listener'
    main = SingleThreadedExecutor(context=ctx)
    main.add_node(node)
    deadline = time.monotonic() + 5
    while listener.node.executor is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.node.executor is listener.executor
    assert node.executor is main
    assert frames.source == 'tf'
    main.shutdown()


def test_without_tf2_ros_tf_is_a_clear_configuration_error(monkeypatch, ctx):
    monkeypatch.setitem(sys.modules, 'tf2_ros', None)  # import tf2_ros -> ImportError, installed or not
    node = Node('frames_no_tf2', context=ctx)
    with pytest.raises(NodeError, match=r"transform_source 'tf' needs tf2_ros") as err:
        resolver(node)
    assert 'apt install ros-$ROS_DISTRO-tf2-ros' in str(err.value)
    assert "'static'" in str(err.value) and "'pose_topic'" in str(err.value)  # and what else works
    assert isinstance(err.value.__cause__, ImportError)


# ----------------------------------------------------------------------------- through the node


def test_spatial_facts_node_publishes_in_base_link_from_tf(tf2, ctx):
    """The real spatial_facts node in this process, fed over DDS: transforms come from /tf through
    the stand-in listener, one of them only after its frame has arrived and is waiting for it."""
    import json

    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String

    from spatialvlm_ros.ros.spatial_facts_node import SpatialFactsNode
    from support.ros_msgs import image, info, scene, truth

    params = {'transform_source': 'tf', 'target_frame': 'base_link', 'transform_timeout_s': 1.0,
              'qos_reliability': 'reliable', 'qos_depth': 20, 'center_mode': 'centroid',
              'object_names': ['gripper', 'block', 'target'], 'object_prompts': ['yellow gripper', 'red block', 'blue target'], 'min_points': 10, 'min_pixels': 20}
    ns = '/frames_tf'
    node = SpatialFactsNode(context=ctx, namespace=ns,
                            parameter_overrides=[rclpy.parameter.Parameter(k, value=v) for k, v in params.items()])
    (buf,) = tf2.Buffer.instances

    probe = Node('frames_tf_probe', context=ctx)
    rel = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {'color': probe.create_publisher(Image, f'{ns}/color/image_raw', rel),
            'depth': probe.create_publisher(Image, f'{ns}/depth/image_raw', rel),
            'info': probe.create_publisher(CameraInfo, f'{ns}/color/camera_info', rel)}
    tf_pub = probe.create_publisher(TransformStamped, '/tf', QoSProfile(depth=100))
    lock, docs = threading.Lock(), {}

    def on_objects(m):
        doc = json.loads(m.data)
        with lock:
            docs[doc['stamp_ns']] = doc

    probe.create_subscription(String, f'{ns}/spatial_facts/objects', on_objects, rel)
    main, side = SingleThreadedExecutor(context=ctx), SingleThreadedExecutor(context=ctx)
    main.add_node(node)  # as run_node spins it: one single-threaded executor
    side.add_node(probe)
    for ex in (main, side):
        threading.Thread(target=ex.spin, daemon=True).start()

    def wait(predicate, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f'timed out waiting for {what}')

    wait(lambda: pubs['color'].get_subscription_count() and tf_pub.get_subscription_count()
         and probe.count_publishers(f'{ns}/spatial_facts/objects'), 'discovery')
    time.sleep(0.3)

    def send(stamp, frame_id=CAMERA):
        rgb, depth = scene()
        m = info(stamp)
        m.header.frame_id = frame_id
        pubs['info'].publish(m)
        pubs['depth'].publish(image(depth, '32FC1', stamp, frame_id))
        pubs['color'].publish(image(rgb, 'rgb8', stamp, frame_id))

    def got(stamp):
        with lock:
            return docs.get(stamp)

    rot = Rotation.from_quat(QUAT).as_matrix()

    def check(doc, xyz):
        assert doc['frame_id'] == 'base_link'
        assert {o['name'] for o in doc['objects']} == {'gripper', 'block', 'target'}
        for o in doc['objects']:
            np.testing.assert_allclose(o['center_m'], rot @ truth(o['name']) + xyz, atol=2e-3)

    try:
        # 1. the transform is in the buffer before the frame
        tf_pub.publish(stamped('base_link', CAMERA, STAMP, XYZ, QUAT))
        wait(lambda: buf.can_transform_core('base_link', CAMERA, Time(nanoseconds=STAMP))[0], 'the first transform')
        send(STAMP)
        wait(lambda: got(STAMP), 'objects of the first frame')
        check(got(STAMP), XYZ)

        # 2. the transform for the next frame comes 0.3 s after the frame: the lookup must wait while
        #    the listener keeps filling the buffer (robot moved 0.1 m in x)
        later, moved = STAMP + 10**9, XYZ + [0.1, 0.0, 0.0]
        send(later)
        wait(lambda: any(c.time_ns == later for c in buf.calls), 'the lookup of the second frame')
        time.sleep(0.3)
        tf_pub.publish(stamped('base_link', CAMERA, later, moved, QUAT))
        wait(lambda: got(later), 'objects of the second frame (transform published while it waited)')
        check(got(later), moved)
        (call,) = [c for c in buf.calls if c.time_ns == later]
        assert not call.available_at_call  # it really arrived during the wait

        # 3. a camera frame tf does not know: the frame is rejected, naming both frames
        lost = STAMP + 2 * 10**9
        send(lost, frame_id='wrist_cam')
        wait(lambda: node.health.rejected.get('transform', 0) >= 1, 'the rejection', timeout=10)
        assert got(lost) is None
        text = node.health.last_error['transform']
        assert "'base_link'" in text and "'wrist_cam'" in text and str(lost) in text, text

        assert all((c.target_frame, c.source_frame) in {('base_link', CAMERA), ('base_link', 'wrist_cam')}
                   for c in buf.calls)
        assert all(c.timeout_ns == 10**9 for c in buf.calls)
    finally:
        main.shutdown()
        side.shutdown()
        node.destroy_node()
        probe.destroy_node()
