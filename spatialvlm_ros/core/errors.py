"""Errors raised by the ROS-free core. Messages say what was wrong and what to do."""

__all__ = ['SpatialError', 'FrameError', 'GroundingError', 'TaskSpecError']


class SpatialError(Exception):
    """Base class of every error the core raises."""


class FrameError(SpatialError):
    """An RGB-D frame, its encoding or its intrinsics cannot be used."""


class GroundingError(SpatialError):
    """An object description cannot be grounded (unknown colour, bad mask, ...)."""


class TaskSpecError(SpatialError):
    """A task (reward) specification is malformed."""
