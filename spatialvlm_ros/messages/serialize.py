"""JSON documents the nodes publish (std_msgs/String) and the offline tools write.

One schema for live topics, ``facts.jsonl`` and labelled bags, so a consumer written against
one works on the others. Every document carries the source frame's stamp and frame_id.

objects document::

    {"stamp": {"sec": s, "nanosec": ns}, "stamp_ns": int, "frame_id": str,
     "objects": [{"name", "center_m": [x, y, z], "extent_m": [width, height, depth],
                  "extent_camera_m": [dx, dy, dz], "points": n, "pixels": n,
                  "source": "depth" | "kinematic", "visible_fraction": f}],
     "missing": [names not found in this frame]}

``center_m`` is in ``frame_id``. ``extent_m`` is the size of the gravity-aligned box, as
``spatialvlm facts --json`` and the width/height/depth facts report it (height along up; see
:mod:`.sizes`); it does not depend on ``frame_id``. ``extent_camera_m`` is the axis-aligned box
along the axes of ``frame_id`` (the camera optical frame unless a target frame is configured):
the box RViz markers draw. Documents written before ``extent_camera_m`` existed carried that box
as ``extent_m``; :func:`objects_from_doc` reads both. ``visible_fraction`` is the estimated share
of the object in view (``ObjectObservation.visible_fraction``; 1 in documents written before it).

facts document: same header keys plus ``"facts": [SpatialFact.to_dict(), ...]`` and, when the
facts were read along an up, ``"up": {"source": "given" | "plane" | "prior", "confidence": c,
"averaged_frames": n}`` (``Gravity``): how far to trust every fact but the distances, whose
confidences already include ``c``.
reward document: same header keys plus ``RewardSample.to_dict()``.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence

import numpy as np

from ..core.errors import SpatialError
from ..core.types import ObjectObservation, RewardSample, SpatialFact, ns_to_stamp, published

__all__ = ['header_dict', 'up_from_doc', 'objects_to_doc', 'objects_from_doc', 'facts_to_doc', 'reward_to_doc', 'dumps', 'loads']


def header_dict(stamp_ns: int, frame_id: str) -> dict:
    sec, nanosec = ns_to_stamp(stamp_ns)
    return {'stamp': {'sec': sec, 'nanosec': nanosec}, 'stamp_ns': int(stamp_ns), 'frame_id': frame_id}


def objects_to_doc(
    objects: Mapping[str, Optional[ObjectObservation]],
    stamp_ns: int,
    frame_id: str,
    extents: Mapping[str, Sequence[float]],
    up: Optional[Sequence[float]] = None,
) -> dict:
    """The objects document of ``objects`` (in ``frame_id``).

    extents: name -> gravity-aligned [width, height, depth] of every found object, from
        :func:`.sizes.gravity_extents` on the camera-frame observations (before any transform to
        ``frame_id``: the gravity frame is defined in the camera frame).
    """
    doc = header_dict(stamp_ns, frame_id)
    doc['objects'] = [
        {
            'name': name,
            'center_m': published(obs.center),
            'extent_m': published(extents[name]),
            'extent_camera_m': published(obs.extent),
            'points': obs.point_count,
            'pixels': int(obs.pixel_count),
            'source': obs.source,
            'visible_fraction': round(float(obs.visible_fraction), 3),
        }
        for name, obs in objects.items()
        if obs is not None
    ]
    doc['missing'] = [name for name, obs in objects.items() if obs is None]
    if up is not None:  # the frame's gravity up, a unit vector in frame_id (what the sizes are measured along)
        doc['up'] = published(up)
    return doc


def objects_from_doc(doc: Mapping) -> tuple[int, str, dict[str, Optional[ObjectObservation]]]:
    """Inverse of :func:`objects_to_doc` (points are not carried: ``points`` is empty).

    ``extent`` of each observation is the axis-aligned box (``extent_camera_m``, or ``extent_m`` of
    a document older than that key), as :class:`ObjectObservation` defines it.
    """
    try:
        stamp_ns = int(doc['stamp_ns'])
        frame_id = str(doc['frame_id'])
        out: dict[str, Optional[ObjectObservation]] = {}
        for o in doc['objects']:
            out[str(o['name'])] = ObjectObservation(
                name=str(o['name']),
                center=np.asarray(o['center_m'], dtype=np.float64).reshape(3),
                extent=np.asarray(o['extent_camera_m'] if 'extent_camera_m' in o else o['extent_m'],
                                  dtype=np.float64).reshape(3),
                points=np.empty((0, 3), np.float32),
                pixel_count=int(o.get('pixels', 0)),
                frame_id=frame_id,
                stamp_ns=stamp_ns,
                source=str(o.get('source', 'depth')),
                # the gravity-aligned (width, height, depth) the document reports (extent_m)
                size=np.asarray(o['extent_m'], dtype=np.float64).reshape(3) if 'extent_camera_m' in o else None,
                visible_fraction=float(o.get('visible_fraction', 1.0)),
            )
        for name in doc.get('missing', []):
            out[str(name)] = None
    except (KeyError, TypeError, ValueError) as err:
        raise SpatialError(f'malformed objects document ({err!r}); expected the schema of spatialvlm_ros.messages.serialize') from err
    return stamp_ns, frame_id, out


def facts_to_doc(facts: Sequence[SpatialFact], stamp_ns: int, frame_id: str, gravity=None) -> dict:
    """gravity: the frame's ``core.gravity.Gravity`` (None: facts in the camera frame, no ``up``)."""
    doc = header_dict(stamp_ns, frame_id)
    if gravity is not None:
        doc['up'] = {'source': gravity.source, 'confidence': round(float(gravity.confidence), 6),
                     'averaged_frames': int(gravity.averaged_frames)}
    doc['facts'] = [f.to_dict() for f in facts]
    return doc


def reward_to_doc(sample: RewardSample, frame_id: str) -> dict:
    doc = header_dict(sample.stamp_ns, frame_id)
    doc.update(sample.to_dict())
    return doc


def dumps(doc: Mapping) -> str:
    return json.dumps(doc, separators=(',', ':'), allow_nan=False)


def loads(text: str) -> dict:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpatialError(f'not a JSON document: {err}') from err
    if not isinstance(doc, dict):
        raise SpatialError(f'expected a JSON object, got {type(doc).__name__}')
    return doc


def up_from_doc(doc: Mapping) -> Optional[np.ndarray]:
    """The gravity up (3,) float64 of an objects document, in its frame_id; None when it has none
    (gravity off, or a document written before the key existed)."""
    up = doc.get('up')
    return None if up is None else np.asarray(up, dtype=np.float64).reshape(3)
