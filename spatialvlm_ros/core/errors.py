"""The package's one error base, and the errors of the ROS-free core.

Every error the package raises on purpose is a :class:`SpatialVLMError`, one subclass per
subpackage: :class:`SpatialError` (core), ``MessageError`` (messages), ``VLMError`` (vlm),
``OfflineError`` (offline), ``SimError`` (sim, demo), ``NodeError`` (ros). The CLI catches the base
once; nodes count rejects by ``kind``. Messages say what was wrong and what to do.
"""

__all__ = ['SpatialVLMError', 'SpatialError', 'FrameError', 'GroundingError', 'TaskSpecError']


class SpatialVLMError(Exception):
    """Base of every error the package raises on purpose.

    ``kind`` is a short machine-readable category ('encoding', 'size_mismatch', 'timeout', ...)
    that nodes count per kind in diagnostics and tools report; the message is for people.
    """

    kind = 'error'

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class SpatialError(SpatialVLMError):
    """An error of the core: a frame, a grounding query, a task or a parameter that cannot be used."""

    kind = 'spatial'


class FrameError(SpatialError):
    """An RGB-D frame, its encoding or its intrinsics cannot be used."""

    kind = 'bad_frame'


class GroundingError(SpatialError):
    """An object description cannot be grounded (unknown colour, bad mask, ...)."""

    kind = 'grounding'


class TaskSpecError(SpatialError):
    """A task (reward) specification is malformed."""

    kind = 'task_spec'
