"""Per-node health (``ros.health``): rejects counted by kind and logged throttled per kind, events apart, the
diagnostic status's level and values, and the steady timer that runs while sim time stands still."""
from __future__ import annotations

import time
import types

import pytest

rclpy = pytest.importorskip('rclpy')
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from spatialvlm_ros.ros import health as health_mod  # noqa: E402
from spatialvlm_ros.ros.health import NodeHealth, steady_timer  # noqa: E402
from support.ros_log import RecordingLog  # noqa: E402



@pytest.fixture
def node(ros_context):
    n = Node('health_test', namespace='/hc', context=ros_context)
    yield n
    n.destroy_node()


def _health(node, monkeypatch, clock):
    log = RecordingLog()
    monkeypatch.setattr(node, 'get_logger', lambda: log)
    monkeypatch.setattr(health_mod, 'time', types.SimpleNamespace(monotonic=lambda: clock[0]))
    return NodeHealth(node, 'spatial facts', throttle_s=5.0), log


def test_rejects_are_counted_by_kind_and_logged_throttled(node, monkeypatch):
    clock = [100.0]
    h, log = _health(node, monkeypatch, clock)
    for _ in range(3):
        h.reject('truncated', 'colour image truncated')
    h.reject('intrinsics', 'bad K')
    clock[0] += 4.9
    h.reject('truncated', 'colour image truncated again')
    assert h.rejected == {'truncated': 4, 'intrinsics': 1}
    assert h.last_error == {'truncated': 'colour image truncated again', 'intrinsics': 'bad K'}
    assert log.lines == [('warning', 'skipped input (truncated, 1 so far): colour image truncated'),
                         ('warning', 'skipped input (intrinsics, 1 so far): bad K')]
    clock[0] += 0.1  # 5 s after the first: logged again, with the count
    h.reject('truncated', 'still')
    assert log.lines[-1] == ('warning', 'skipped input (truncated, 5 so far): still')
    # events are counted apart, at info level, throttled on their own
    h.note('block_not_visible', 'block not in view')
    h.note('block_not_visible', 'block not in view')
    assert h.events == {'block_not_visible': 2} and log.lines[-1] == ('info', 'block not in view (1 so far)')
    assert len(log.lines) == 4


def test_the_status_level_and_values(node, monkeypatch):
    h, _ = _health(node, monkeypatch, [0.0])
    st = h.status()
    assert (st.level, st.message) == (DiagnosticStatus.OK, 'ok')
    assert st.name == '/hc/health_test: spatial facts' and st.hardware_id == 'health_test'
    # every input taken, but the outputs are doubtful (an uncertain up): a warning
    st = h.status(warning='up uncertain')
    assert (st.level, st.message) == (DiagnosticStatus.WARN, 'up uncertain')
    h.reject('encoding', 'yuv422 is not supported')
    st = h.status()
    assert st.level == DiagnosticStatus.ERROR and 'every input so far was rejected' in st.message
    for ms in (3.0, 1.0, 2.0):
        h.ok(ms)
    h.note('gripper_missing', 'x')
    st = h.status({'rate_hz_color': 30.0})
    assert (st.level, st.message) == (DiagnosticStatus.WARN, '1 inputs rejected')
    assert h.status(warning='up uncertain').message == '1 inputs rejected; up uncertain'
    assert {kv.key: kv.value for kv in st.values} == {
        'processed': '3', 'rejected_total': '1', 'rejected_encoding': '1',
        'last_error_encoding': 'yuv422 is not supported', 'gripper_missing': '1', 'latency_ms_p50': '2.0',
        'latency_ms_max': '3.0', 'rate_hz_color': '30.0'}

    class Pub:
        msgs = []

        def publish(self, m):
            self.msgs.append(m)

    pub = Pub()
    h.publish(pub)
    arr, = pub.msgs
    assert [s.message for s in arr.status] == ['1 inputs rejected']


def test_a_steady_timer_runs_while_sim_time_stands_still(ros_context):
    node = Node('steady_test', context=ros_context, parameter_overrides=[Parameter('use_sim_time', value=True)])
    executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        ros_ticks, steady_ticks = [], []
        node.create_timer(0.02, lambda: ros_ticks.append(1))  # on the node clock: no /clock, it stands still
        steady_timer(node, 0.02, lambda: steady_ticks.append(1))
        deadline = time.monotonic() + 10
        while len(steady_ticks) < 3 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert len(steady_ticks) >= 3 and ros_ticks == []
    finally:
        executor.shutdown()
        node.destroy_node()
