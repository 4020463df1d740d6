"""QoS profiles: sensor-data for camera inputs (reliability configurable), reliable for results."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from .errors import NodeError

__all__ = ['sensor_qos', 'results_qos']

_RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT, 'reliable': ReliabilityPolicy.RELIABLE}


def sensor_qos(reliability: str = 'best_effort', depth: int = 5) -> QoSProfile:
    """Keep-last sensor-data QoS. Best effort matches every camera driver (a reliable
    subscriber does not match a best-effort publisher); 'reliable' for lossless bag replay."""
    if reliability not in _RELIABILITY:
        raise NodeError(f"qos_reliability must be 'best_effort' or 'reliable', got {reliability!r}")
    if depth < 1:
        raise NodeError(f'qos_depth must be >= 1, got {depth}')
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=_RELIABILITY[reliability],
        durability=DurabilityPolicy.VOLATILE,
    )


def results_qos(depth: int = 10) -> QoSProfile:
    """Reliable keep-last for what we publish: consumers (rewards for RL) must not lose samples."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE)
