"""The error of the message layer: a bag, a message or a file that cannot be read."""

from __future__ import annotations

from ..core.errors import SpatialVLMError

__all__ = ['MessageError']


class MessageError(SpatialVLMError):
    """A bag cannot be opened or lacks the topics asked for, or a message cannot be decoded.

    ``kind``: 'no_bag', 'unreadable', 'missing_topics', 'decode', ...
    """

    kind = 'message'
