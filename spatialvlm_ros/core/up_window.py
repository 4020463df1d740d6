"""A static camera's up from its recent frames: the per-frame estimates that agree, averaged.

One frame's up (:func:`.gravity.estimate_gravity`) moves by a few hundredths of a degree from one
frame to the next of a static camera, and by up to half a degree now and then, with the sensor's
noise. :func:`steady_up` replaces the current frame's up by the confidence-weighted mean of the
estimates among the last ``GravityConfig.window_frames`` that agree with it (within
``window_deg``; all from planes, each at most ``window_gap_s`` older than the one after it). A
camera that turns moves its up by more than that between frames and keeps its own estimate; a
frame of another stream (an earlier stamp: a bag looped, an episode began again) starts over.

The rule reads only the estimates of the frames before, so live frames, a replayed bag and an
offline labelling cut into chunks get the same up as long as each chunk is given the frames before
it (``offline`` passes ``window_frames - 1`` lead frames); :class:`UpWindow` holds them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from typing import Sequence

import numpy as np

from .gravity import Gravity, GravityConfig, tilt_of

__all__ = ['steady_up', 'UpWindow']

# A frame whose up is this unsure still counts a little (its weight in the mean).
_MIN_WEIGHT = 1e-3


def steady_up(recent: Sequence[tuple[int, Gravity]], config: GravityConfig) -> Gravity:
    """The current frame's gravity (``recent[-1]``) with its up averaged over the recent frames
    that agree with it; ``recent``: ((stamp ns, per-frame Gravity), ...) oldest first, stamps
    increasing. Unchanged unless the current up comes from planes (a given rotation is exact, a
    prior is no measurement). ``averaged_frames`` says how many frames the up is the mean of."""
    stamp, current = recent[-1]
    if current.source != 'plane' or config.window_frames <= 1 or len(recent) < 2:
        return current
    cos_agree = math.cos(math.radians(config.window_deg))
    gap_ns = config.window_gap_s * 1e9
    total = max(current.confidence, _MIN_WEIGHT) * np.asarray(current.up, np.float64)
    used, later = 1, stamp
    for s, g in reversed(recent[-config.window_frames:-1]):
        if not 0 < later - s <= gap_ns:
            break  # an older frame is further away still
        later = s
        if g.source == 'plane' and float(np.dot(g.up, current.up)) >= cos_agree:
            total = total + max(g.confidence, _MIN_WEIGHT) * np.asarray(g.up, np.float64)
            used += 1
    if used == 1:
        return current
    up = total / np.linalg.norm(total)
    return dataclasses.replace(current, up=up, tilt_deg=tilt_of(up), averaged_frames=used)


class UpWindow:
    """The per-frame estimates of the last ``config.window_frames`` frames of one stream."""

    def __init__(self, config: GravityConfig) -> None:
        self.config = config
        self._recent: deque = deque(maxlen=max(1, config.window_frames))

    def push(self, stamp_ns: int, gravity: Gravity) -> Gravity:
        """Add this frame's own estimate; returns its steady gravity (:func:`steady_up`)."""
        if self._recent and int(stamp_ns) <= self._recent[-1][0]:
            self._recent.clear()  # not later than the last frame: another stream, or time went back
        self._recent.append((int(stamp_ns), gravity))
        return steady_up(tuple(self._recent), self.config)

    def clear(self) -> None:
        self._recent.clear()
