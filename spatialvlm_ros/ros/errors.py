"""The error of the ROS layer: a node parameter that cannot be used."""

from __future__ import annotations

from ..core.errors import SpatialVLMError

__all__ = ['NodeError']


class NodeError(SpatialVLMError):
    """A node cannot be configured as asked; a failed configure reports it (lifecycle) and says what to set."""

    kind = 'params'
