"""The one exception type of ``spatialvlm_ros.offline``."""

from __future__ import annotations

from ..core.errors import SpatialVLMError

__all__ = ['OfflineError']


class OfflineError(SpatialVLMError):
    """An offline job cannot run or cannot go on: a bag without the needed topics, a bad option,
    an output that exists with another configuration. The message says what and what to do.

    ``kind`` is a short machine-readable category ('missing_topics', 'ambiguous_topics', ...).
    """

    kind = 'offline'
