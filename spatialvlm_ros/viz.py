"""What people look at, ROS-free: the debug image (masks, boxes, names, distances drawn with
OpenCV) and the layout of the RViz markers, which the live node (rclpy) and the offline labeller
(rosbags) both turn into visualization_msgs/MarkerArray."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import cv2
import numpy as np

from .core.types import Frame, ObjectObservation, SpatialFact

__all__ = ['MarkerSpec', 'PALETTE', 'marker_specs', 'draw_debug']

# Marker colours per object index (RGB in 0..1), shared by the markers of every output.
PALETTE = np.array(
    [[0.9, 0.2, 0.2], [0.2, 0.4, 0.95], [0.95, 0.85, 0.1], [0.2, 0.8, 0.3], [0.8, 0.3, 0.9], [0.1, 0.8, 0.9]]
)


@dataclass(frozen=True)
class MarkerSpec:
    """One visualization_msgs/Marker, message-free. ``kind``: 'cube', 'text' or 'line_list'."""

    ns: str
    id: int
    kind: str
    position: tuple = (0.0, 0.0, 0.0)
    scale: tuple = (0.0, 0.0, 0.0)
    color: tuple = (1.0, 1.0, 1.0, 1.0)
    text: str = ''
    points: tuple = ()


def marker_specs(objects: Mapping[str, Optional[ObjectObservation]], facts: Sequence[SpatialFact]) -> list[MarkerSpec]:
    """A box and a name label per object, a line and a distance label per 'distance' fact. Ids are
    stable per object/pair, so RViz updates markers in place."""
    names = list(objects)
    out: list[MarkerSpec] = []
    for i, name in enumerate(names):
        obs = objects[name]
        if obs is None:
            continue
        r, g, b = (float(v) for v in PALETTE[i % len(PALETTE)])
        c = tuple(float(v) for v in obs.center)
        out.append(MarkerSpec('objects', i, 'cube', c, tuple(max(float(v), 0.005) for v in obs.extent), (r, g, b, 0.5)))
        label = (c[0], c[1] - (float(obs.extent[1]) / 2 + 0.03), c[2])  # optical y is down: above the box
        out.append(MarkerSpec('labels', i, 'text', label, (0.0, 0.0, 0.03), text=name))
    for fact in facts:
        if fact.type != 'distance' or objects.get(fact.subject) is None or objects.get(fact.object) is None:
            continue
        a, b = objects[fact.subject], objects[fact.object]
        mid = names.index(fact.subject) * len(names) + names.index(fact.object)
        ends = (tuple(float(v) for v in a.center), tuple(float(v) for v in b.center))
        out.append(MarkerSpec('distances', mid, 'line_list', scale=(0.004, 0.0, 0.0), points=ends))
        centre = tuple(float(v) for v in (np.asarray(a.center) + np.asarray(b.center)) / 2)
        out.append(MarkerSpec('distance_labels', mid, 'text', centre, (0.0, 0.0, 0.025), (0.6, 1.0, 0.6, 1.0),
                              text=f'{fact.value * 100:.1f} cm'))
    return out

# BGR-free: we draw on RGB arrays, so these are RGB.
_COLOURS = [(230, 50, 50), (50, 100, 240), (240, 210, 30), (50, 200, 80), (200, 80, 230), (30, 200, 230)]


def _project(frame: Frame, p: np.ndarray) -> Optional[tuple[int, int]]:
    if p[2] <= 0:
        return None
    k = frame.intrinsics
    return int(round(k.fx * p[0] / p[2] + k.cx)), int(round(k.fy * p[1] / p[2] + k.cy))


def draw_debug(
    frame: Frame, objects: Mapping[str, Optional[ObjectObservation]], facts: Sequence[SpatialFact] = ()
) -> np.ndarray:
    """HxWx3 uint8 RGB: the frame with each found object's mask tinted, its bounding box, its
    name and depth, and a line with the measured distance between every pair.

    ``objects`` must be in the frame's optical frame (their centres are projected with its
    intrinsics)."""
    img = frame.rgb.copy()
    names = list(objects)
    for i, name in enumerate(names):
        obs = objects[name]
        if obs is None:
            continue
        colour = np.array(_COLOURS[i % len(_COLOURS)], dtype=np.float32)
        if obs.mask is not None:
            m = obs.mask.astype(bool)
            img[m] = (0.5 * img[m] + 0.5 * colour).astype(np.uint8)
            ys, xs = np.nonzero(m)
            if xs.size:
                cv2.rectangle(img, (int(xs.min()), int(ys.min())), (int(xs.max()), int(ys.max())),
                              tuple(int(c) for c in colour), 2)
        uv = _project(frame, obs.center)
        if uv is not None:
            cv2.circle(img, uv, 4, tuple(int(c) for c in colour), -1)
            cv2.putText(img, f'{name} {obs.center[2]:.2f}m', (uv[0] + 6, uv[1] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (255, 255, 255), 1, cv2.LINE_AA)
    for f in facts:
        if f.type != 'distance' or objects.get(f.subject) is None or objects.get(f.object) is None:
            continue
        a, b = _project(frame, objects[f.subject].center), _project(frame, objects[f.object].center)
        if a is None or b is None:
            continue
        cv2.line(img, a, b, (255, 255, 255), 1, cv2.LINE_AA)
        mid = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
        cv2.putText(img, f'{f.value * 100:.1f} cm', mid, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (120, 255, 120), 1,
                    cv2.LINE_AA)
    return img
