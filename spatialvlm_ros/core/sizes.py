"""Object sizes as the documents report them: the gravity-aligned box as [width, height, depth].

One definition for ``spatialvlm facts --json``, the live objects topic and labelled bags, giving the
same numbers as the width/height/depth facts (both come from :func:`facts_gravity.gravity_size`):
width along the camera's right made horizontal, height along up, depth horizontal away from the
camera. The camera-axis box (``ObjectObservation.extent``) is another quantity: what RViz boxes
are drawn with, and what :func:`transform_observation` carries into other frames.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .facts_gravity import gravity_size
from .gravity import Gravity, gravity_basis
from .types import ObjectObservation, SpatialFact

__all__ = ['CAMERA_UP', 'gravity_extent', 'gravity_extents']

# Up when no gravity frame was estimated: the camera's -y (image up), as the facts then assume.
CAMERA_UP = np.array([0.0, -1.0, 0.0])
# The per-object size facts, in the order of an extent.
_SIZE_FACTS = ('width', 'height', 'depth')


def gravity_extent(obs: ObjectObservation, up: np.ndarray) -> np.ndarray:
    """(3,) float64 [width, height, depth] in metres of ``obs``'s gravity-aligned box.

    obs: in the camera optical frame, where ``up`` (a unit vector) and the width axis (the
        camera's x made horizontal) are defined; never a transformed observation.
    An observation without points (one read back from a document) gets the gravity-aligned bound
    of its axis-aligned box instead: the points are what the size is measured from.
    """
    up = np.asarray(up, dtype=np.float64)
    if len(obs.points):
        width, depth, height = gravity_size(obs, up)
    else:
        width, depth, height = np.abs(gravity_basis(up)) @ np.asarray(obs.extent, dtype=np.float64)
    return np.array([width, height, depth], dtype=np.float64)


def gravity_extents(
    objects: Mapping[str, Optional[ObjectObservation]],
    gravity: Optional[Gravity],
    facts: Sequence[SpatialFact] = (),
) -> dict[str, np.ndarray]:
    """name -> :func:`gravity_extent` of every found object (camera frame), with ``gravity.up``.

    gravity: the frame's :class:`Gravity` (``PipelineResult.gravity``); None (gravity estimation
        off) uses :data:`CAMERA_UP`.
    facts: the frame's facts (``PipelineResult.facts``). With gravity they hold every object's
        width/height/depth, made by the same function with the same up: those are taken as they
        are rather than measured twice (a percentile pass over the points, ~0.1 ms an object on
        the live path). An object without them is measured here.
    """
    up = CAMERA_UP if gravity is None else np.asarray(gravity.up, dtype=np.float64)
    given: dict[str, dict[str, float]] = {}
    if gravity is not None:
        for f in facts:
            if f.type in _SIZE_FACTS and not f.object:
                given.setdefault(f.subject, {})[f.type] = float(f.value)
    out = {}
    for name, obs in objects.items():
        if obs is None:
            continue
        sizes = given.get(name, {})
        if len(sizes) == len(_SIZE_FACTS):
            out[name] = np.array([sizes[k] for k in _SIZE_FACTS], dtype=np.float64)
        else:
            out[name] = gravity_extent(obs, up)
    return out
