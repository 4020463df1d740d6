"""Lifting, common part: a 2D object mask plus registered depth -> a cleaned 3D point set.

Pipeline of :func:`clean_cloud` (all vectorised, on the mask's bounding box only):

1. erode the mask by ``erode_px``: pixels on the object border mix object and background
   depth ("flying pixels") and would stretch the object towards the background;
2. drop invalid depth (NaN, <= 0, outside [min_depth_m, max_depth_m]);
3. keep pixels whose depth is within ``mad_k`` robust standard deviations (1.4826 * MAD) of
   the median, plus ``mad_tolerance_m``, or, for pixels whose depth agrees with their 3x3
   neighbourhood (not flying pixels), within the run of depths reached from the median without
   a jump of ``bleed_jump_m`` (growing with z^2) between sorted depths: removes background or
   occluder pixels the mask leaked onto, while an object that reaches far along the view (a tool
   pointing away, a table seen obliquely), whose depths spread far beyond a band about their
   median without a gap, keeps its ends;
4. back-project: x = (u - cx) z / fx, y = (v - cy) z / fy (optical frame, metres);
5. optional statistical outlier removal in 3D (``sor_neighbors`` > 0, needs scipy);
6. extent = robust per-axis size (percentile range); the centre comes from the centre mode
   ``center_mode`` (:data:`~.base.CENTER_MODES`, one module each in this package).

:class:`LiftConfig` holds the options of these steps and, under ``modes``, one config per
registered centre mode.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import cv2
import numpy as np

from ..errors import GroundingError
from ..options import option
from ..stats import median, percentiles
from ..types import Frame
from .base import CENTER_MODES, ModeConfigs, check_int, check_number

__all__ = ['LiftConfig', 'Cloud', 'clean_cloud', 'strided']

logger = logging.getLogger(__name__)

# Scale from the median absolute deviation to the standard deviation of a normal distribution.
_MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class LiftConfig:
    """Options of :func:`~spatialvlm_ros.core.lifting.lift_mask`. Lengths in metres, sizes in pixels.

    ``modes``: centre mode name -> that mode's config (its ``config_type`` in
    :data:`~.base.CENTER_MODES`); modes not given get their defaults, so every registered mode
    has one. ``dataclasses.replace(config, center_mode=m)`` keeps them (per-object modes).
    """

    erode_px: int = option(2, 'Mask erosion in pixels before lifting, against flying pixels at object '
                              'edges; 0 = off.')
    # Sensor minimum range below, far-away junk above.
    min_depth_m: float = option(0.05, 'Depth readings closer than this (metres) are invalid.')
    max_depth_m: float = option(10.0, 'Depth readings farther than this (metres) are invalid.')
    mad_k: float = option(3.0, 'Depth filter: keep |z - median(z)| <= mad_k * 1.4826 * MAD(z) + mad_tolerance_m, '
                               'and the depths of smooth pixels reached from the median without a jump of '
                               'bleed_jump_m.')
    # The tolerance keeps flat objects (MAD ~ noise) from losing their own slightly tilted pixels.
    mad_tolerance_m: float = option(0.01, 'Depth filter tolerance added to the MAD band (metres).')
    sor_neighbors: int = option(0, 'Statistical outlier removal: neighbours per point (0 = off; needs scipy).')
    sor_std_ratio: float = option(2.0, 'Statistical outlier removal: standard deviations above the mean '
                                       'neighbour distance a point may lie.')
    # Robust to leftover outliers.
    extent_percentiles: tuple[float, float] = option((1.0, 99.0), 'Low/high percentile per axis whose range '
                                                                  'is the extent.')
    # Sensor noise would otherwise bias the nearest surface towards the camera.
    near_smooth_px: int = option(2, 'Radius in pixels of the depth averaging used to find the nearest '
                                    'surface (amodal, support, grip); 0 = off.')
    # Their cost grows with N log N, and 8k samples put a percentile within ~0.15 % of the object's size.
    stats_max_points: int = option(8192, 'Medians and percentiles use at most this many evenly strided points.')
    # Real masks bleed a few pixels past the object's outline onto what lies behind or in front.
    bleed_split: bool = option(True, 'Drop the mask pixels that are cut off from the mask core by depth jumps '
                                     '(a mask bled onto the background or onto a nearer surface).')
    bleed_jump_m: float = option(0.02, 'Depth jump between neighbouring pixels that separates surfaces, at 1 m; '
                                       'it grows with the depth (metres).')
    center_mode: str = option('amodal', 'Centre mode: a name registered in core.lifting.CENTER_MODES.')
    # The caller counts the failures.
    min_points: int = option(30, 'Fewest valid 3D points for an object to be measured (else None).')
    modes: Mapping[str, Any] = dataclasses.field(default_factory=ModeConfigs)

    def __post_init__(self) -> None:
        for name, lo in (('erode_px', 0), ('sor_neighbors', 0), ('near_smooth_px', 0), ('min_points', 1),
                         ('stats_max_points', 100)):
            check_int(self, name, lo)
        for name in ('min_depth_m', 'max_depth_m', 'mad_k', 'sor_std_ratio', 'bleed_jump_m'):
            check_number(self, name)
        check_number(self, 'mad_tolerance_m', allow_zero=True)
        if self.min_depth_m >= self.max_depth_m:
            raise GroundingError(
                f'LiftConfig: min_depth_m ({self.min_depth_m}) must be below max_depth_m ({self.max_depth_m})'
            )
        lo, hi = self.extent_percentiles
        if not 0.0 <= lo < hi <= 100.0:
            raise GroundingError(f'LiftConfig.extent_percentiles: expected 0 <= low < high <= 100, got {(lo, hi)}')
        if self.center_mode not in CENTER_MODES:
            raise GroundingError(
                f'LiftConfig.center_mode: expected one of {sorted(CENTER_MODES)}, got {self.center_mode!r}'
            )
        modes = dict(self.modes)
        unknown = sorted(set(modes) - set(CENTER_MODES))
        if unknown:
            raise GroundingError(f'LiftConfig.modes: unknown centre modes {unknown}; expected names from '
                                 f'{sorted(CENTER_MODES)}')
        for name, mode in CENTER_MODES.items():
            cfg = modes.setdefault(name, mode.config_type())
            if not isinstance(cfg, mode.config_type):
                raise GroundingError(f'LiftConfig.modes[{name!r}]: expected a {mode.config_type.__name__}, '
                                     f'got {cfg!r}')
        object.__setattr__(self, 'modes', ModeConfigs(modes))

    def with_mode_options(self, mode: str, **changes: Any) -> 'LiftConfig':
        """This config with ``changes`` to the options of centre mode ``mode`` (e.g.
        ``with_mode_options('grip', grip_palm_m=0.0)``); ``center_mode`` is unchanged."""
        modes = dict(self.modes)
        modes[mode] = dataclasses.replace(modes[mode], **changes)
        return dataclasses.replace(self, modes=modes)


def _erode(mask: np.ndarray, r0: int, r1: int, c0: int, c1: int, erode_px: int) -> np.ndarray:
    """``mask[r0:r1, c0:c1]`` eroded by ``erode_px`` (bool), treating outside-the-image as object.

    The crop already carries an ``erode_px`` margin of real mask pixels wherever it is not at the
    image border; OpenCV's default border (maximum) then leaves only image borders uneroded,
    which is right: an object cut by the image edge has no depth discontinuity there.
    """
    crop = np.ascontiguousarray(mask[r0:r1, c0:c1] != 0).view(np.uint8)
    if erode_px == 0:
        return crop.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
    return cv2.erode(crop, kernel).astype(bool)


def split_bleed(depth: np.ndarray, mask: np.ndarray, jump_m: float, core_px: int = 4,
                fringe_px: float = 8.0) -> np.ndarray:
    """The pixels of ``mask`` (HxW bool crop, valid depth only) connected to its core without crossing
    a depth jump: HxW bool.

    A pixel with a 4-neighbour in the mask more than ``jump_m * max(z, 1)^2`` away in depth (noise
    grows with z^2) is a cut; the connected pieces of the rest that hold a share of the core (the
    mask eroded by ``core_px``) stay, so do pieces reaching more than ``fringe_px`` from them (parts,
    not a fringe of bleed), and the cut pixels next to them on their side of the jump. Bleed past a depth edge
    (the wall behind, the box face in front of a can standing on it) falls away; a surface that
    continues the object without a jump (the table at its foot) stays, where it changes nothing.
    """
    z = np.where(mask & np.isfinite(depth), depth, np.nan).astype(np.float32)
    valid = np.isfinite(z)
    if np.count_nonzero(valid) < 20:
        return valid
    tau = np.float32(jump_m) * np.maximum(np.nan_to_num(z, nan=1.0), np.float32(1.0)) ** 2
    cut = np.zeros(z.shape, bool)
    with np.errstate(invalid='ignore'):
        for dz in (np.abs(z[1:, :] - z[:-1, :]), ):
            big = dz > np.minimum(tau[1:, :], tau[:-1, :])
            cut[1:, :] |= big
            cut[:-1, :] |= big
        dz = np.abs(z[:, 1:] - z[:, :-1])
        big = dz > np.minimum(tau[:, 1:], tau[:, :-1])
        cut[:, 1:] |= big
        cut[:, :-1] |= big
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * core_px + 1, 2 * core_px + 1))
    core = cv2.erode(valid.view(np.uint8), kernel).astype(bool) & ~cut
    if np.count_nonzero(core) < 10:
        return valid
    body = valid & ~cut
    n, lab = cv2.connectedComponents(body.view(np.uint8), connectivity=4)
    per = np.bincount(lab[core], minlength=n)
    per[0] = 0
    keep_labels = np.flatnonzero(per >= max(1, 0.2 * per.max()))
    kept = np.isin(lab, keep_labels)
    # A piece without core that reaches farther than a bleed from the body is a part of the object
    # (a thin handle, a tool's blade, a lamp's pole behind a depth step), not a fringe: it stays.
    rest = body & ~kept
    if rest.any():
        dist = cv2.distanceTransform((~kept).view(np.uint8), cv2.DIST_L2, 3)
        far = rest & (dist > fringe_px)
        parts = np.unique(lab[far])
        if parts.size:
            kept |= np.isin(lab, parts)
    # cut pixels on the kept side of their jump: next to a kept pixel within the threshold
    zk = np.where(kept, z, np.nan)
    grown = kept.copy()
    with np.errstate(invalid='ignore'):
        for sl_a, sl_b in (((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
                           ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                           ((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                           ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
            near = cut[sl_a] & (np.abs(z[sl_a] - zk[sl_b]) <= tau[sl_a])
            grown[sl_a] |= near
    return grown & valid


def _gap_free_run(z: np.ndarray, center: float, jump_m: float) -> tuple[float, float]:
    """(low, high) metres: the depths of ``z`` (N,) reached from ``center`` through sorted depths
    no farther apart than ``jump_m * max(z, 1)^2`` (the depth jump that separates surfaces)."""
    zs = np.sort(z.astype(np.float64))
    if zs.size < 2:
        return float(center), float(center)
    gap = np.diff(zs) > jump_m * np.maximum(zs[1:], 1.0) ** 2
    i = int(np.searchsorted(zs, center))
    below = np.flatnonzero(gap[:max(i, 0)])
    above = np.flatnonzero(gap[i:])
    lo = zs[below[-1] + 1] if below.size else zs[0]
    hi = zs[i + above[0]] if above.size else zs[-1]
    return float(lo), float(hi)


def depth_agrees(depth: np.ndarray, vs: np.ndarray, us: np.ndarray, z: np.ndarray, jump_m: float) -> np.ndarray:
    """(N,) bool: whether each pixel's depth ``z`` (rows ``vs``, columns ``us`` of the HxW crop
    ``depth``, metres) lies within half the jump ``jump_m * max(z, 1)^2`` of the median of its 3x3
    neighbourhood: a flying pixel (a random mix of the depths either side of an edge) mostly does
    not, a pixel of a surface or of a thin part does."""
    med3 = cv2.medianBlur(np.where(np.isfinite(depth), depth, 0.0).astype(np.float32), 3)[vs, us]
    return np.abs(z - med3) <= 0.5 * jump_m * np.maximum(z, 1.0) ** 2


def strided(a: np.ndarray, max_n: int) -> np.ndarray:
    """Every k-th row of ``a`` so that at most ``max_n`` remain (a view; ``a`` itself if small).

    Pixels are in row-major order, so a stride samples the object evenly in the image.
    """
    step = -(-len(a) // max_n)
    return a if step <= 1 else a[::step]


def _local_mean(z: np.ndarray, vs: np.ndarray, us: np.ndarray, shape: tuple[int, int], radius: int) -> np.ndarray:
    """Mean depth over the kept pixels in a (2 radius + 1)^2 window around each kept pixel.

    z, vs, us: N depths (float32 metres) and their rows/columns in an image of ``shape``.
    Normalised box filtering: only kept pixels contribute, so background never mixes in.
    """
    if radius == 0:
        return z
    zimg = np.zeros(shape, np.float32)
    wimg = np.zeros(shape, np.float32)
    zimg[vs, us] = z
    wimg[vs, us] = 1.0
    ksize = (2 * radius + 1, 2 * radius + 1)
    zsum = cv2.boxFilter(zimg, -1, ksize, normalize=False, borderType=cv2.BORDER_CONSTANT)
    wsum = cv2.boxFilter(wimg, -1, ksize, normalize=False, borderType=cv2.BORDER_CONSTANT)
    return zsum[vs, us] / wsum[vs, us]


def _sor_keep(points: np.ndarray, k: int, std_ratio: float) -> np.ndarray:
    """Bool keep-mask of statistical outlier removal (mean distance to k neighbours)."""
    try:
        from scipy.spatial import cKDTree
    except ImportError as err:
        raise GroundingError(
            'LiftConfig.sor_neighbors > 0 needs scipy; install it (pip install scipy / apt install python3-scipy) '
            'or set sor_neighbors=0'
        ) from err
    if len(points) <= k:
        return np.ones(len(points), dtype=bool)
    dist, _ = cKDTree(points).query(points, k=k + 1)  # first neighbour is the point itself
    mean_d = dist[:, 1:].mean(axis=1)
    return mean_d <= mean_d.mean() + std_ratio * mean_d.std()


@dataclass(frozen=True)
class Cloud:
    """What a centre mode works from: one object's cleaned points and its crop."""

    points: np.ndarray  # Nx3 float32, the cleaned points
    pixels: np.ndarray  # Nx2 int (row, column) of each point in the crop of ``crop_shape``
    crop_shape: tuple[int, int]
    extent: np.ndarray  # (3,) float64, robust visible size incl. the erosion border
    border_m: float  # lateral size the erosion and pixel sampling removed, metres
    mask_crop: np.ndarray  # bool, the object mask on the crop
    depth_crop: np.ndarray  # HxW float32 metres of the crop (NaN = invalid)
    origin: tuple[int, int]  # (row, column) of the crop in the image
    intrinsics: object  # the frame's Intrinsics
    frame: object = None  # the Frame (for modes that look around the object)
    gravity: object = None  # core.gravity.Gravity, or None when unknown
    erode_used: int = 0  # the erosion radius actually applied (px)

    @property
    def gravity_known(self) -> bool:
        """Whether up was measured (given or from a plane), not just assumed: the gravity-aligned
        modes fall back to 'amodal' otherwise."""
        return self.gravity is not None and getattr(self.gravity, 'source', 'prior') != 'prior'

    def smoothed_depth(self, radius: int) -> np.ndarray:
        """(N,) float32 depth of each point averaged over its kept neighbours within ``radius`` px."""
        return _local_mean(self.points[:, 2], self.pixels[:, 0], self.pixels[:, 1], self.crop_shape, radius)

    def smoothed_along(self, direction: np.ndarray, radius: int) -> np.ndarray:
        """(N,) float64 coordinates along ``direction`` (3,) of the points moved along their rays
        to the locally averaged depth: depth noise then does not pull the nearest side towards
        the camera (a low percentile of raw depth sits ~2.3 noise sigmas in front of the surface)."""
        z = self.points[:, 2]
        return (self.points.astype(np.float64) @ direction) * (self.smoothed_depth(radius) / z)


def clean_cloud(
    frame: Frame, mask: np.ndarray, name: str, config: LiftConfig, gravity=None
) -> Optional[tuple[Cloud, int]]:
    """Steps 1-6 of the module docstring: (cloud, pixel count of the mask) or None when fewer
    than ``config.min_points`` points survive (logged at debug level under ``name``).

    frame: the registered RGB-D frame (depth HxW float32 metres, NaN = invalid).
    mask: HxW bool (or nonzero = object), same size as the frame (checked by the caller).
    If erosion leaves fewer than ``min_points`` valid pixels (a thin or tiny object), the
    uneroded mask is used and the depth filter alone has to remove flying pixels.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        logger.debug('lift %r: empty mask', name)
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = frame.shape
    pad = config.erode_px
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, h)
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, w)
    pixel_count = int(np.count_nonzero(mask[r0:r1, c0:c1]))

    depth = frame.depth[r0:r1, c0:c1]
    # NaN compares False, so this also drops NaN; +-inf fall outside the range.
    valid = (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
    mask_crop = mask[r0:r1, c0:c1] != 0
    if config.bleed_split:
        connected = split_bleed(depth, mask_crop & valid, config.bleed_jump_m)
        valid = valid & (connected | ~mask_crop)
        mask_crop = mask_crop & (connected | ~np.isfinite(depth))
    erode_used = config.erode_px
    keep = _erode(mask, r0, r1, c0, c1, erode_used) & valid
    if erode_used and np.count_nonzero(keep) < config.min_points:
        erode_used = 0
        keep = _erode(mask, r0, r1, c0, c1, 0) & valid
        logger.debug('lift %r: erosion left too few pixels, using the uneroded mask', name)
    vs, us = np.nonzero(keep)
    z = depth[vs, us]
    if z.size < config.min_points:
        logger.debug('lift %r: %d valid depth pixels < min_points=%d', name, z.size, config.min_points)
        return None

    zs = strided(z, config.stats_max_points)
    med = median(zs)
    mad = median(np.abs(zs - med))
    band = config.mad_k * _MAD_TO_STD * mad + config.mad_tolerance_m
    inlier = np.abs(z - med) <= band
    # Beyond the band, the depths reached without a jump, of pixels that agree with their
    # neighbours: a surface reaching far along the view, not a streak of flying pixels (their
    # mixed depths fill the range to the background without a gap, but not smoothly).
    smooth = depth_agrees(depth, vs, us, z, config.bleed_jump_m)
    if np.count_nonzero(smooth) >= 2:
        lo_z, hi_z = _gap_free_run(z[smooth], med, config.bleed_jump_m)
        inlier |= smooth & (z >= lo_z) & (z <= hi_z)
    z, us, vs = z[inlier], us[inlier], vs[inlier]

    k = frame.intrinsics
    xs = (us + (c0 - k.cx)).astype(np.float32) / np.float32(k.fx)  # x / z of each pixel's ray
    ys = (vs + (r0 - k.cy)).astype(np.float32) / np.float32(k.fy)
    points = np.stack([xs * z, ys * z, z], axis=1)
    pixels = np.stack([vs, us], axis=1)
    if config.sor_neighbors > 0 and len(points) >= config.min_points:
        sor = _sor_keep(points, config.sor_neighbors, config.sor_std_ratio)
        points, pixels = points[sor], pixels[sor]
    if len(points) < config.min_points:
        logger.debug('lift %r: %d points after outlier removal < min_points=%d', name, len(points), config.min_points)
        return None

    lo, hi = percentiles(strided(points, config.stats_max_points), config.extent_percentiles, axis=0)
    extent = (hi - lo).astype(np.float64)
    # Lateral size lost to the erosion (erode_px on each side) and to sampling at pixel centres
    # (n pixels cover n, not n - 1, pixel widths), at the object's median depth.
    border_px = 2 * erode_used + 1
    zmed = float(median(strided(z, config.stats_max_points)))
    extent[0] += border_px * zmed / k.fx
    extent[1] += border_px * zmed / k.fy
    cloud = Cloud(
        points, pixels, depth.shape, extent, border_px * zmed / math.sqrt(k.fx * k.fy),
        mask_crop=mask_crop, depth_crop=depth, origin=(int(r0), int(c0)), intrinsics=k,
        frame=frame, gravity=gravity, erode_used=erode_used,
    )
    return cloud, pixel_count
