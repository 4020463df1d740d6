"""The error of the simulator subpackage."""

from __future__ import annotations

from ..core.errors import SpatialVLMError

__all__ = ['SimError']


class SimError(SpatialVLMError):
    """A simulator request that cannot be met (frame count, image size, action shape, noise model)."""

    kind = 'sim'
