"""ros.qos: sensor inputs best effort (or reliable for replay), results reliable, bad settings named."""

import pytest

pytest.importorskip('rclpy')

from rclpy.qos import HistoryPolicy, ReliabilityPolicy  # noqa: E402

from spatialvlm_ros.ros.errors import NodeError  # noqa: E402
from spatialvlm_ros.ros.qos import results_qos, sensor_qos  # noqa: E402


def test_sensor_and_results_qos():
    s = sensor_qos()
    assert (s.reliability, s.history, s.depth) == (ReliabilityPolicy.BEST_EFFORT, HistoryPolicy.KEEP_LAST, 5)
    assert sensor_qos('reliable', 3).reliability == ReliabilityPolicy.RELIABLE and sensor_qos('reliable', 3).depth == 3
    r = results_qos()
    assert (r.reliability, r.depth) == (ReliabilityPolicy.RELIABLE, 10)
    with pytest.raises(NodeError, match="qos_reliability must be 'best_effort' or 'reliable', got 'fast'"):
        sensor_qos('fast')
    with pytest.raises(NodeError, match='qos_depth must be >= 1, got 0'):
        sensor_qos(depth=0)
