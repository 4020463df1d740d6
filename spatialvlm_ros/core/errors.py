"""Errors raised by the ROS-free core. Messages say what was wrong and what to do."""

__all__ = ['SpatialError', 'FrameError', 'GroundingError', 'TaskSpecError']


class SpatialError(Exception):
    """Base class of every error the core raises.

    ``kind`` is a short machine-readable category ('encoding', 'size_mismatch', ...) that
    nodes count per kind in diagnostics; the message is for people.
    """

    kind = 'spatial'

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class FrameError(SpatialError):
    """An RGB-D frame, its encoding or its intrinsics cannot be used."""

    kind = 'bad_frame'


class GroundingError(SpatialError):
    """An object description cannot be grounded (unknown colour, bad mask, ...)."""

    kind = 'grounding'


class TaskSpecError(SpatialError):
    """A task (reward) specification is malformed."""

    kind = 'task_spec'
