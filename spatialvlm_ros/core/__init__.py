"""ROS-free core: types, depth handling, grounding, lifting, facts, reward. Never imports rclpy."""

from .errors import FrameError, GroundingError, SpatialError, TaskSpecError
from .types import Frame, Intrinsics, ObjectObservation, RewardSample, SpatialFact

__all__ = [
    'Frame',
    'FrameError',
    'GroundingError',
    'Intrinsics',
    'ObjectObservation',
    'RewardSample',
    'SpatialError',
    'SpatialFact',
    'TaskSpecError',
]
