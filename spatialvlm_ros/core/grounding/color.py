"""Colour grounder: finds "red block", "the blue target", "yellow gripper" by HSV thresholds.

Meant for simulation and lab scenes whose objects have distinct saturated colours (a MuJoCo
render with a red block, a blue target, yellow fingers on a grey table). For arbitrary
objects use an instance-mask grounder (``kind='mask'``) or an open-vocabulary model.

Hues are OpenCV 8-bit HSV: H in [0, 180) (degrees / 2), S and V in [0, 255].

JPEG colour (ROS ``compressed`` image transport, webcams' MJPEG) stores chroma at half resolution
(4:2:0: one Cb/Cr sample per 2x2 block, interpolated back on decoding) and luma at full resolution.
Next to a colour edge a pixel's chroma is then a blend of both sides: the bottom row of a red block
over a blue target turns magenta and drops out, a grey row above it turns reddish, and the mask
moves by a pixel (a millimetre of a lifted centre). :meth:`ColorGrounder.ground` re-decides such
boundary pixels from their luma (``jpeg_edges``, see :func:`_jpeg_edges`); on images whose chroma
is as sharp as their luma (raw, PNG) the masks stay exactly the thresholded ones.
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
    # JPEG keeps luma at full resolution but blends chroma across edges (module docstring).
    jpeg_edges: bool = option(True, 'Re-decide mask boundary pixels from their luma where the chroma is '
                                    'blurred by JPEG 4:2:0 subsampling; images with sharp chroma are unchanged.')
    jpeg_luma_tolerance: float = option(3.0, 'jpeg_edges: luma error (0-255 levels) allowed for; a pixel is '
                                             're-decided only when its decision holds within it.')

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
        for name in ('keep_largest_component', 'jpeg_edges'):
            if not isinstance(getattr(self, name), bool):
                raise GroundingError(f'{name}: expected a bool, got {getattr(self, name)!r}')
        t = self.jpeg_luma_tolerance
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not 0.0 < t <= 32.0:
            raise GroundingError(f'jpeg_luma_tolerance: expected luma levels in (0, 32], got {t!r}')


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


# A 4:2:0 JPEG pixel's chroma is interpolated from the 2x2-block samples of its own block and the
# adjacent ones: up to this many pixels from a colour edge it carries some of the other side's
# chroma, further in only its own.
_CHROMA_REACH_PX = 2
_CORE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _CHROMA_REACH_PX + 1,) * 2)
# Fewest boundary pixels whose vote tells whether a frame's chroma is blurred (fewer: not re-decided).
_FRAME_VOTES = 20


def _blur_420(chroma: np.ndarray) -> np.ndarray:
    """What JPEG 4:2:0 makes of an HxWx2 float32 chroma image whose (0, 0) is on the JPEG block grid:
    the means of its 2x2 blocks, bilinearly interpolated back (libjpeg's "fancy" upsampling)."""
    h, w = chroma.shape[:2]
    if h & 1 or w & 1:
        chroma = cv2.copyMakeBorder(chroma, 0, h & 1, 0, w & 1, cv2.BORDER_REPLICATE)
    small = cv2.resize(chroma, (chroma.shape[1] // 2, chroma.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (chroma.shape[1], chroma.shape[0]), interpolation=cv2.INTER_LINEAR)[:h, :w]


def _nearest(core: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Flat indices of the nonzero pixels of HxW uint8 ``core`` nearest to the pixels at flat indices ``at``."""
    _, labels = cv2.distanceTransformWithLabels(1 - core, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    return np.flatnonzero(core)[labels.reshape(-1)[at] - 1]  # labels number the core pixels in raster order


def _jpeg_edges(rgb: np.ndarray, raw: np.ndarray, decide, tolerance: float,
                blurred: Optional[bool]) -> tuple[np.ndarray, Optional[bool]]:
    """Boundary pixels of a thresholded mask re-decided from their luma where the chroma is JPEG-blurred.

    rgb: HxWx3 uint8 crop whose (0, 0) is on the 2x2 JPEG block grid (even image coordinates);
    raw: its HxW uint8 0/255 threshold mask; decide: Nx1x3 uint8 RGB -> N uint8 0/255 (the colour's
    thresholds); tolerance: luma error in levels; blurred: True when the frame is already known to
    be chroma-blurred, None when this crop is to tell. Returns the mask and what this crop told
    about the frame (None: too little to tell, and the mask is left as thresholded).

    The boundary band is the pixels within the chroma's reach (``_CHROMA_REACH_PX``) of the mask's
    border, on either side; beyond it are the inner and outer cores, whose chroma is their own. A
    band pixel is modelled as a blend of its nearest inner and outer core colours: the fraction
    alpha of the inner one comes from its luma, which JPEG keeps, and gives its chroma. On a raw
    image that model explains the band's chroma better than the model blurred the way 4:2:0 blurs
    (a two-colour anti-aliased edge, exactly); on a JPEG image the blurred model explains it better.
    The majority of the band pixels where either misses by more than 2 ``tolerance`` (at least
    ``_FRAME_VOTES`` of them) decides; only then is a pixel re-decided (the thresholds applied to
    its modelled colour), and only where the model holds: the two sides differ by at least
    4 ``tolerance`` in luma and in chroma, its luma lies between theirs, the blurred model matches
    its chroma to 3 ``tolerance`` (else a third colour is there: an outline, a shadow), and the
    decision is the same over the alpha range that errors of ``tolerance`` in its luma and in the
    core colours allow.
    """
    mu = (raw > 0).view(np.uint8)
    core_in = cv2.erode(mu, _CORE_KERNEL, borderType=cv2.BORDER_REPLICATE)
    core_out = cv2.erode(1 - mu, _CORE_KERNEL, borderType=cv2.BORDER_REPLICATE)
    if not core_in.any() or not core_out.any():
        return raw, None
    band = np.flatnonzero((core_in | core_out) == 0)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).reshape(-1, 3)  # Y, Cr + 128, Cb + 128
    inner = ycc[_nearest(core_in, band)].astype(np.float32)
    outer = ycc[_nearest(core_out, band)].astype(np.float32)
    seen = ycc[band].astype(np.float32)
    y, yi, yo = seen[:, 0], inner[:, 0], outer[:, 0]
    dy = yi - yo
    dc = inner[:, 1:] - outer[:, 1:]
    dc2 = np.square(dc).sum(1)
    step = 4.0 * tolerance
    ok = (np.abs(dy) >= step) & (dc2 >= step * step)
    ok &= (y >= np.minimum(yi, yo) - tolerance) & (y <= np.maximum(yi, yo) + tolerance)
    if not ok.any():
        return raw, None
    band, seen, dy, dc, dc2 = band[ok], seen[ok], dy[ok], dc[ok], dc2[ok]
    base = outer[ok, 1:]
    alpha = (seen[:, 0] - outer[ok, 0]) / dy
    chroma = seen[:, 1:]
    model = ycc[:, 1:].astype(np.float32)  # the chroma image, the band's pixels replaced by their blends
    blend = base + np.clip(alpha, 0.0, 1.0)[:, None] * dc
    model[band] = blend
    r_sharp = np.square(chroma - blend).sum(1)
    r_blur = np.square(chroma - _blur_420(model.reshape(*raw.shape, 2)).reshape(-1, 2)[band]).sum(1)
    told = None
    if blurred is None:
        votes = np.maximum(r_sharp, r_blur) > (2.0 * tolerance) ** 2
        n = int(np.count_nonzero(votes))
        if n < _FRAME_VOTES:  # too little to tell: left as thresholded
            return raw, None
        told = blurred = 2 * int(np.count_nonzero(r_blur[votes] < r_sharp[votes])) > n
        if not blurred:
            return raw, told
    # alpha's uncertainty: the pixel's luma and the core colours are each known to about the tolerance
    da = tolerance / np.abs(dy) + tolerance / np.sqrt(dc2)
    n = alpha.size
    ends = np.empty((2 * n, 1, 3), np.float32)
    ends[:n, 0, 0] = ends[n:, 0, 0] = seen[:, 0]
    ends[:n, 0, 1:] = base + np.clip(alpha - da, 0.0, 1.0)[:, None] * dc
    ends[n:, 0, 1:] = base + np.clip(alpha + da, 0.0, 1.0)[:, None] * dc
    both = decide(cv2.cvtColor(np.rint(ends).astype(np.uint8), cv2.COLOR_YCrCb2RGB))
    sure = (both[:n] == both[n:]) & (r_blur <= (3.0 * tolerance) ** 2)
    out = raw.copy().reshape(-1)
    out[band[sure]] = both[:n][sure]
    return out.reshape(raw.shape), told


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

    def _decide(self, rgb: np.ndarray, color: str) -> np.ndarray:
        """Flat uint8 0/255 thresholds of ``color`` for an Nx1x3 uint8 RGB array of pixels."""
        return self._threshold(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), color).reshape(-1)

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
        """HxW bool mask of ``color`` in an HxWx3 uint8 OpenCV HSV image, or None if too small.

        Thresholds only: without the ``jpeg_edges`` step of :meth:`ground`, which needs the RGB image.
        """
        return self._finish(self._threshold(hsv, self._canonical(color)))

    def ground(self, frame: Frame, queries: Sequence[ObjectQuery]) -> dict[str, Optional[np.ndarray]]:
        """{query name: HxW bool mask, or None when fewer than ``min_pixels`` match}.

        Raises GroundingError when a prompt names no supported colour (checked for every
        query before any image work, so a bad task fails at once).

        Thresholding the whole image per colour was the costliest step of a frame, while objects
        cover a small part of it. So each colour is first looked for on every other pixel of
        every other row (1/4 of the work), and the exact full-resolution mask is computed
        inside the box around those hits only, grown until no region comes near its border, so
        the result equals the full-image one (except for a region of this colour that misses
        every sampled pixel and touches no sampled one: at most one pixel wide).

        With ``jpeg_edges`` the boundary pixels of each box's mask are then re-decided from their
        luma when the frame's chroma is JPEG-blurred (:func:`_jpeg_edges`). The first box whose
        boundary tells (most do) decides that for the whole frame, so a raw frame costs one test;
        with sharp chroma the masks are exactly the thresholded ones.
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
        jpeg = self.config.jpeg_edges
        # Pixels between samples reach 1 px past the sampled box; the opening looks open_px further;
        # jpeg_edges looks at a band of _CHROMA_REACH_PX around the mask and the cores beyond it.
        margin = 2 * _CHROMA_REACH_PX + 2 if jpeg else 1
        pad = 2 + self.config.open_px + margin
        blurred: Optional[bool] = None  # whether this frame's chroma is JPEG-blurred (None: not known yet)
        out: dict[str, Optional[np.ndarray]] = {}
        for name, color in colors.items():
            coarse = self._threshold(coarse_hsv, color)
            mask = None
            if cv2.countNonZero(coarse):
                x, y, bw, bh = cv2.boundingRect(coarse)
                # even origin: the crop starts on the 2x2 block grid of a JPEG's chroma
                r0, r1 = max(2 * y - pad, 0) & ~1, min(2 * (y + bh) + pad, h)
                c0, c1 = max(2 * x - pad, 0) & ~1, min(2 * (x + bw) + pad, w)
                while True:
                    crop = np.ascontiguousarray(rgb[r0:r1, c0:c1])
                    raw = self._threshold(cv2.cvtColor(crop, cv2.COLOR_RGB2HSV), color)
                    # A one-pixel-wide part between samples can run past the box: grow the box
                    # on every side the region comes within the margin of, until it lies inside.
                    grow = (r0 > 0 and raw[:margin].any(), r1 < h and raw[-margin:].any(),
                            c0 > 0 and raw[:, :margin].any(), c1 < w and raw[:, -margin:].any())
                    if not any(grow):
                        break
                    step = 8 + pad
                    r0, r1 = max(r0 - step * grow[0], 0) & ~1, min(r1 + step * grow[1], h)
                    c0, c1 = max(c0 - step * grow[2], 0) & ~1, min(c1 + step * grow[3], w)
                if jpeg and blurred is not False:
                    raw, told = _jpeg_edges(crop, raw, functools.partial(self._decide, color=color),
                                            float(self.config.jpeg_luma_tolerance), blurred)
                    blurred = told if told is not None else blurred
                box = self._finish(raw)
                if box is not None:
                    mask = np.zeros((h, w), dtype=bool)
                    mask[r0:r1, c0:c1] = box
            out[name] = mask
            if mask is None:
                logger.debug('colour grounder: no %s region of >= %d px for %r', color, self.config.min_pixels, name)
        return out
