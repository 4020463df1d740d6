"""Colour grounder: finds "red block", "the blue target", "yellow gripper" by HSV thresholds.

Meant for simulation and lab scenes whose objects have distinct saturated colours (a MuJoCo
render with a red block, a blue target, yellow fingers on a grey table). For arbitrary
objects use an instance-mask grounder (``kind='mask'``) or an open-vocabulary model.

Hues are OpenCV 8-bit HSV: H in [0, 180) (degrees / 2), S and V in [0, 255].
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from ..errors import GroundingError
from ..types import Frame
from ..options import option
from .base import MIN_PIXELS_DOC, ObjectQuery, check_unique_names, register_grounder

__all__ = ['ColorGrounderConfig', 'ColorGrounder', 'HUE_RANGES', 'ACHROMATIC', 'SUPPORTED_COLORS', 'parse_color']

logger = logging.getLogger(__name__)

# Chromatic colours: inclusive OpenCV hue intervals. Red wraps around 0, so it has two.
HUE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    'red': ((0, 7), (170, 179)),
    'orange': ((8, 21),),
    'yellow': ((22, 37),),
    'green': ((38, 79),),
    'cyan': ((80, 99),),
    'blue': ((100, 129),),
    'purple': ((130, 149),),
    'magenta': ((150, 169),),
}
# Colours decided by saturation and value alone (hue is meaningless when S is low).
ACHROMATIC: tuple[str, ...] = ('white', 'gray', 'black')
# Words a prompt may use -> canonical colour.
_SYNONYMS: dict[str, str] = {
    **{c: c for c in HUE_RANGES},
    **{c: c for c in ACHROMATIC},
    'violet': 'purple',
    'pink': 'magenta',
    'grey': 'gray',
}
SUPPORTED_COLORS: tuple[str, ...] = tuple(sorted(_SYNONYMS))


@dataclass(frozen=True)
class ColorGrounderConfig:
    """Thresholds of :class:`ColorGrounder` (OpenCV 8-bit HSV units)."""

    # Below this saturation hue is noise (grey table, highlights).
    min_saturation: int = option(80, 'Minimum HSV saturation (0-255) of a coloured pixel.')
    # Very dark pixels have unreliable hue.
    min_value: int = option(40, 'Minimum HSV value (0-255) of a coloured pixel.')
    achromatic_max_saturation: int = option(40, 'White, gray and black pixels have at most this '
                                                'HSV saturation (0-255).')
    white_min_value: int = option(190, 'White needs at least this HSV value (0-255); gray lies '
                                       'between black_max_value and this.')
    black_max_value: int = option(50, 'Black has at most this HSV value (0-255), any saturation.')
    # Counted after keeping the largest component.
    min_pixels: int = option(30, MIN_PIXELS_DOC)
    # Specks of the same colour elsewhere (reflections, clutter) must not pull the centroid, while an
    # object in several parts (two gripper fingers) stays whole.
    keep_largest_component: bool = option(True, 'Keep only the largest 8-connected region, and '
                                                'others of at least component_keep_ratio of its area.')
    component_keep_ratio: float = option(0.3, 'Regions of at least this fraction (0-1] of the '
                                              'largest one are kept with it (1 = only the largest).')
    # Removes one-pixel speckle along colour edges.
    open_px: int = option(0, 'Radius in pixels of a morphological opening before the region '
                             'search; 0 = off.')

    def __post_init__(self) -> None:
        for name in ('min_saturation', 'min_value', 'achromatic_max_saturation', 'white_min_value', 'black_max_value'):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not 0 <= v <= 255:
                raise GroundingError(f'{name}: expected an integer in [0, 255], got {v!r}')
        if self.black_max_value >= self.white_min_value:
            raise GroundingError(
                f'black_max_value ({self.black_max_value}) must be below white_min_value ({self.white_min_value}), '
                'otherwise gray is empty'
            )
        if not isinstance(self.min_pixels, (int, np.integer)) or self.min_pixels < 1:
            raise GroundingError(f'min_pixels: expected an integer >= 1, got {self.min_pixels!r}')
        if not isinstance(self.open_px, (int, np.integer)) or self.open_px < 0:
            raise GroundingError(f'open_px: expected an integer >= 0, got {self.open_px!r}')
        if not 0.0 < self.component_keep_ratio <= 1.0:
            raise GroundingError(
                'component_keep_ratio: expected a number in (0, 1] (1 = only the largest), '
                f'got {self.component_keep_ratio!r}'
            )
        if not isinstance(self.keep_largest_component, bool):
            raise GroundingError(f'keep_largest_component: expected a bool, got {self.keep_largest_component!r}')


@functools.lru_cache(maxsize=256)
def parse_color(prompt: str) -> str:
    """The canonical colour named in ``prompt`` ("the Blue target" -> "blue").

    Raises GroundingError when the prompt names no supported colour, or several different ones
    (then it is ambiguous which object is meant).
    """
    words = re.findall(r'[a-z]+', prompt.lower())
    found = list(dict.fromkeys(_SYNONYMS[w] for w in words if w in _SYNONYMS))
    if not found:
        raise GroundingError(
            f'prompt {prompt!r} names no colour the colour grounder knows; supported colours: '
            f'{", ".join(SUPPORTED_COLORS)}. Describe the object by colour ("red block") or use an '
            "instance-mask grounder (kind='mask') for other objects",
            kind='prompt',
        )
    if len(found) > 1:
        raise GroundingError(
            f'prompt {prompt!r} names several colours ({", ".join(found)}); the colour grounder finds one '
            'colour per query, so give each object its own query',
            kind='prompt',
        )
    return found[0]


def _major_components(mask: np.ndarray, keep_ratio: float) -> np.ndarray:
    """HxW bool: the 8-connected components of a HxW uint8 0/1 mask with area >= keep_ratio * largest.

    ``keep_ratio`` >= 1 keeps exactly one component (the largest).
    """
    # Label only the bounding box of the nonzero pixels: labelling is the costly step and an
    # object usually covers a small part of the image.
    x, y, w, h = cv2.boundingRect(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask[y : y + h, x : x + w], connectivity=8)
    out = np.zeros(mask.shape, dtype=bool)
    if n <= 2:  # background plus at most one component: nothing to drop
        out[y : y + h, x : x + w] = labels > 0
        return out
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0  # background
    if keep_ratio >= 1.0:  # only the largest, even when another is as large
        keep = np.zeros(n, dtype=bool)
        keep[int(np.argmax(areas))] = True
    else:
        keep = areas >= keep_ratio * areas.max()
    out[y : y + h, x : x + w] = keep[labels]
    return out


@register_grounder('color')
class ColorGrounder:
    """Finds objects by the colour word in their prompt.

    ``ground(frame, queries)`` converts the frame to HSV once and thresholds it per query;
    returns {name: HxW bool mask or None}.
    """

    config_type = ColorGrounderConfig
    loads_model = False

    def __init__(self, config: Optional[ColorGrounderConfig] = None) -> None:
        self.config = config or ColorGrounderConfig()
        self._open_kernel = (
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.config.open_px + 1,) * 2)
            if self.config.open_px > 0
            else None
        )
        c = self.config
        # colour -> inclusive (lower, upper) HSV bounds whose union is that colour.
        self._bounds: dict[str, list[tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
            **{
                color: [((lo, c.min_saturation, c.min_value), (hi, 255, 255)) for lo, hi in ranges]
                for color, ranges in HUE_RANGES.items()
            },
            'white': [((0, 0, c.white_min_value), (179, c.achromatic_max_saturation, 255))],
            'gray': [((0, 0, c.black_max_value + 1), (179, c.achromatic_max_saturation, c.white_min_value - 1))],
            'black': [((0, 0, 0), (179, 255, c.black_max_value))],
        }

    def _threshold(self, hsv: np.ndarray, color: str) -> np.ndarray:
        """uint8 0/255 mask of ``color`` in an HxWx3 uint8 OpenCV HSV image (thresholds only)."""
        raw = None
        for lo, hi in self._bounds[color]:
            part = cv2.inRange(hsv, lo, hi)  # much faster than numpy comparisons
            raw = part if raw is None else cv2.bitwise_or(raw, part)
        return raw

    def _finish(self, raw: np.ndarray) -> Optional[np.ndarray]:
        """Opening, minimum size and component selection of a uint8 0/255 mask -> bool mask or None."""
        if self._open_kernel is not None:
            raw = cv2.morphologyEx(raw, cv2.MORPH_OPEN, self._open_kernel)
        if cv2.countNonZero(raw) < self.config.min_pixels:
            return None
        if self.config.keep_largest_component:
            mask = _major_components(raw // 255, self.config.component_keep_ratio)
        else:
            mask = raw.astype(bool)
        if int(np.count_nonzero(mask)) < self.config.min_pixels:
            return None
        return mask

    def _canonical(self, color: str) -> str:
        color = _SYNONYMS.get(color, color)
        if color not in self._bounds:
            raise GroundingError(f'unknown colour {color!r}; supported colours: {", ".join(SUPPORTED_COLORS)}')
        return color

    def color_mask(self, hsv: np.ndarray, color: str) -> Optional[np.ndarray]:
        """HxW bool mask of ``color`` in an HxWx3 uint8 OpenCV HSV image, or None if too small."""
        return self._finish(self._threshold(hsv, self._canonical(color)))

    def ground(self, frame: Frame, queries: Sequence[ObjectQuery]) -> dict[str, Optional[np.ndarray]]:
        """{query name: HxW bool mask, or None when fewer than ``min_pixels`` match}.

        Raises GroundingError when a prompt names no supported colour (checked for every
        query before any image work, so a bad task fails at once).

        Thresholding the whole image per colour was the costliest step of a frame, while objects
        cover a small part of it. So each colour is first looked for on every other pixel of
        every other row (1/4 of the work), and the exact full-resolution mask is computed
        inside the box around those hits only, grown until no region touches its border, so
        the result equals the full-image one (except for a region of this colour that misses
        every sampled pixel and touches no sampled one: at most one pixel wide).
        """
        check_unique_names(queries)
        colors = {q.name: self._canonical(parse_color(q.prompt)) for q in queries}
        if not queries:
            return {}
        rgb = frame.rgb
        h, w = rgb.shape[:2]
        # Nearest-neighbour halving samples every other pixel (10x cheaper than a strided copy).
        small = cv2.resize(rgb, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_NEAREST)
        coarse_hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        # Pixels between samples reach 1 px past the sampled box; the opening looks open_px further.
        pad = 2 + self.config.open_px + 1
        out: dict[str, Optional[np.ndarray]] = {}
        for name, color in colors.items():
            coarse = self._threshold(coarse_hsv, color)
            mask = None
            if cv2.countNonZero(coarse):
                x, y, bw, bh = cv2.boundingRect(coarse)
                r0, r1 = max(2 * y - pad, 0), min(2 * (y + bh) + pad, h)
                c0, c1 = max(2 * x - pad, 0), min(2 * (x + bw) + pad, w)
                while True:
                    raw = self._threshold(cv2.cvtColor(np.ascontiguousarray(rgb[r0:r1, c0:c1]), cv2.COLOR_RGB2HSV),
                                          color)
                    # A one-pixel-wide part between samples can run past the box: grow the box
                    # on every side the region touches until it lies inside.
                    grow = (r0 > 0 and raw[0].any(), r1 < h and raw[-1].any(),
                            c0 > 0 and raw[:, 0].any(), c1 < w and raw[:, -1].any())
                    if not any(grow):
                        break
                    step = 8 + pad
                    r0, r1 = max(r0 - step * grow[0], 0), min(r1 + step * grow[1], h)
                    c0, c1 = max(c0 - step * grow[2], 0), min(c1 + step * grow[3], w)
                box = self._finish(raw)
                if box is not None:
                    mask = np.zeros((h, w), dtype=bool)
                    mask[r0:r1, c0:c1] = box
            out[name] = mask
            if mask is None:
                logger.debug('colour grounder: no %s region of >= %d px for %r', color, self.config.min_pixels, name)
        return out
