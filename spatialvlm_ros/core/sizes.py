"""Object sizes: the one owner of size measurement, the gravity-aligned box as (width, height, depth).

One definition for the width/height/depth facts, ``spatialvlm facts --json``, the live objects topic
and labelled bags (their ``extent_m``): width along the camera's right made horizontal, height
along up, depth horizontal away from the camera. The camera-axis box (``ObjectObservation.extent``)
is another quantity: what RViz boxes are drawn with, and what :func:`transform_observation`
carries into other frames. :func:`object_sizes` is called once per frame (the pipeline's
``perceive``), and the sizes are passed to the facts rather than measured twice.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from .gravity import Gravity, gravity_basis
from .stats import percentiles
from .types import ObjectObservation
from .vocabulary import CAMERA_UP

__all__ = ['CAMERA_UP', 'gravity_size', 'gravity_extent', 'gravity_extents', 'object_sizes']

# rows of gravity_basis (right, forward, up) -> (width, height, depth)
_WHD = (0, 2, 1)


def gravity_size(obs: ObjectObservation, up: np.ndarray) -> np.ndarray:
    """(3,) float64 (width, height, depth) metres of the object's gravity-aligned box, from its points.

    The lifting's own measurement when its centre mode measured the whole object
    (``obs.size``: 'support', 'grip'). Otherwise read from the visible points about the (amodal)
    centre: along each axis the box reaches the farther of the visible extremes, mirrored about
    the centre, so the hidden back and the hidden bottom are completed as far as the centre
    implies (height = 2 (top - centre height) for an object whose centre was put half-way
    between its top and its support); width and height, which span the image plane, get back
    what the mask erosion took there (``obs.border_m``).
    """
    if obs.size is not None:
        return np.array(obs.size, dtype=np.float64)
    basis = gravity_basis(up)
    pts = obs.points.astype(np.float64) @ basis.T
    c = basis @ np.asarray(obs.center, np.float64)
    lo, hi = percentiles(pts, (1.0, 99.0), axis=0)
    size = np.empty(3)  # along (right, forward, up)
    for i in range(3):
        size[i] = max(hi[i] - lo[i], 2.0 * max(c[i] - lo[i], hi[i] - c[i]) if i > 0 else hi[i] - lo[i])
    size[0] += obs.border_m
    size[2] += obs.border_m
    return size[list(_WHD)]


def gravity_extent(obs: ObjectObservation, up: np.ndarray) -> np.ndarray:
    """(3,) float64 [width, height, depth] in metres of ``obs``'s gravity-aligned box.

    obs: in the camera optical frame, where ``up`` (a unit vector) and the width axis (the
        camera's x made horizontal) are defined; never a transformed observation.
    An observation without points (one read back from a document) gets the gravity-aligned bound
    of its axis-aligned box instead: the points are what the size is measured from.
    """
    up = np.asarray(up, dtype=np.float64)
    if len(obs.points):
        return gravity_size(obs, up)
    return (np.abs(gravity_basis(up)) @ np.asarray(obs.extent, dtype=np.float64))[list(_WHD)]


def object_sizes(objects: Mapping[str, Optional[ObjectObservation]], up) -> dict[str, np.ndarray]:
    """name -> :func:`gravity_extent` (3,) float64 (width, height, depth) metres of every found
    object (camera frame) with ``up`` ((3,) unit vector; :data:`CAMERA_UP` without gravity)."""
    up = np.asarray(up, dtype=np.float64)
    return {name: gravity_extent(obs, up) for name, obs in objects.items() if obs is not None}


def gravity_extents(objects: Mapping[str, Optional[ObjectObservation]], gravity: Optional[Gravity]) -> dict:
    """:func:`object_sizes` with ``gravity.up`` (the frame's :class:`Gravity`; None: :data:`CAMERA_UP`)."""
    return object_sizes(objects, CAMERA_UP if gravity is None else gravity.up)
