"""Input monitoring (``ros.inputs.InputMonitor``): a silent camera topic is named with its resolved name and
why (no publisher, a best-effort publisher for a reliable subscription), a topic that speaks is not, sim time
without /clock is said, rates are per stream."""
from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from spatialvlm_ros.ros.inputs import InputMonitor  # noqa: E402
from support.ros_log import RecordingLog  # noqa: E402



def _node(ctx, name, monkeypatch, **params):
    node = Node(name, namespace='/robot', context=ctx,
                parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    log = RecordingLog()
    monkeypatch.setattr(node, 'get_logger', lambda: log)
    return node, log


def test_silent_topics_are_named_with_why(ros_context, monkeypatch):
    node, log = _node(ros_context, 'monitor_test', monkeypatch)
    try:
        mon = InputMonitor(node, {'color': 'camera/color/image_raw', 'depth': 'camera/depth/image_raw'}, 'reliable',
                           warn_after_s=0.2)
        assert mon.check() == []  # not yet silent for long
        pub = node.create_publisher(Image, 'camera/depth/image_raw',
                                    QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        deadline = time.monotonic() + 10
        while not node.get_publishers_info_by_topic('/robot/camera/depth/image_raw') and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.25)
        warnings = mon.check()
        assert warnings == [
            'waiting for /robot/camera/color/image_raw (never received): no publisher on it; check the remapping '
            'and that the camera driver runs',
            'waiting for /robot/camera/depth/image_raw (never received): 1 publisher(s) are best-effort but this '
            'subscription is reliable: set qos_reliability:=best_effort']
        assert log.lines == [('warning', w) for w in warnings]
        mon.seen('color')
        assert [w.split(' (')[0] for w in mon.check()] == ['waiting for /robot/camera/depth/image_raw']
        time.sleep(0.25)
        assert 'waiting for /robot/camera/color/image_raw (nothing for 0 s)' in mon.check()[0]
        # a best-effort subscription has no QoS quarrel with a best-effort publisher
        be = InputMonitor(node, {'depth': 'camera/depth/image_raw'}, 'best_effort', warn_after_s=0.0)
        assert be.check()[0].endswith('1 publisher(s) but nothing received; check their stamps, QoS and the network')
        node.destroy_publisher(pub)
    finally:
        node.destroy_node()


def test_rates_are_per_stream_since_the_last_call(ros_context, monkeypatch):
    node, _ = _node(ros_context, 'rates_test', monkeypatch)
    try:
        mon = InputMonitor(node, {'color': 'c', 'depth': 'd'}, 'reliable', warn_after_s=5.0)
        for _ in range(10):
            mon.seen('color')
        time.sleep(0.5)
        rates = mon.rates()
        assert set(rates) == {'rate_hz_color', 'rate_hz_depth'} and rates['rate_hz_depth'] == 0.0
        assert 5 < rates['rate_hz_color'] <= 20
        assert mon.rates()['rate_hz_color'] == 0.0  # a new window
    finally:
        node.destroy_node()


def test_sim_time_without_a_clock_is_said(ros_context, monkeypatch):
    node, log = _node(ros_context, 'simtime_test', monkeypatch, use_sim_time=True)
    try:
        mon = InputMonitor(node, {'color': 'c'}, 'reliable', warn_after_s=0.0)
        msg, = mon.check()
        assert msg.startswith('use_sim_time is true but no /clock has been received') and 'ros2 bag play --clock' in msg
        assert log.lines == [('warning', msg)]
    finally:
        node.destroy_node()


def test_an_incompatible_publisher_is_an_error_naming_the_topic(ros_context, monkeypatch):
    node, log = _node(ros_context, 'qos_test', monkeypatch)
    try:
        mon = InputMonitor(node, {'color': 'camera/color/image_raw'}, 'reliable', warn_after_s=1.0)

        class Event:
            last_policy_kind = 'RELIABILITY'

        mon.on_incompatible_qos('color', Event())
        assert mon.incompatible_qos == 1
        (level, msg), = log.lines
        assert level == 'error' and msg.startswith('/robot/camera/color/image_raw: a publisher offers QoS incompatible')
        assert 'policy RELIABILITY' in msg and 'qos_reliability:=best_effort' in msg
    finally:
        node.destroy_node()
