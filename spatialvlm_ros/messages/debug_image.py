"""The debug image people look at: masks, boxes, names, depths and distances drawn on the colour
image with OpenCV (``spatial_facts``'s ``~/debug_image``)."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import cv2
import numpy as np

from ..core.types import Frame, ObjectObservation, SpatialFact

__all__ = ['draw_debug']

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
