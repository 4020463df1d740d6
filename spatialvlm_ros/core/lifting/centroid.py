"""'centroid' centre mode: the mean of the visible points.

A depth camera sees only the near surface, so this centre lies in front of the object's centre:
by 2R/3 for a sphere (plus the deep rim the erosion removes) and by w/2 for a face-on box; see
:mod:`.amodal` for the measurements. It is the fallback of the modes that complete a surface
('flat' when its plane is seen edge-on) and the right centre for what the camera sees whole
(a thin object lying flat, seen from above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Estimate, register_center_mode
from .cloud import Cloud, LiftConfig

__all__ = ['CentroidConfig', 'centroid']


@dataclass(frozen=True)
class CentroidConfig:
    """'centroid' has no options of its own (the cleaning options of LiftConfig decide the points)."""


@register_center_mode('centroid', CentroidConfig)
def centroid(cloud: Cloud, config: LiftConfig) -> Estimate:
    """Mean of ``cloud.points`` (float64 (3,) metres) and the visible extent."""
    return Estimate(cloud.points.mean(axis=0, dtype=np.float64), cloud.extent)
