"""Lifting: a 2D object mask plus registered depth -> a cleaned 3D point set, centre and extent.

Pipeline of :func:`lift_mask` (all vectorised, on the mask's bounding box only):

1. erode the mask by ``erode_px``: pixels on the object border mix object and background
   depth ("flying pixels") and would stretch the object towards the background;
2. drop invalid depth (NaN, <= 0, outside [min_depth_m, max_depth_m]);
3. keep pixels whose depth is within ``mad_k`` robust standard deviations (1.4826 * MAD) of
   the median, plus ``mad_tolerance_m``: removes background or occluder pixels the mask
   leaked onto;
4. back-project: x = (u - cx) z / fx, y = (v - cy) z / fy (optical frame, metres);
5. optional statistical outlier removal in 3D (``sor_neighbors`` > 0, needs scipy);
6. extent = robust per-axis size (percentile range); centre by ``center_mode``.

Centre modes. A depth camera sees only the near surface, so the mean of the visible points
('centroid') lies in front of the object's centre. 'amodal' (default) pushes the centroid
back along the viewing ray by the part of the object's half-thickness that the visible
points do not already cover, with the thickness estimated from the lateral size (a roughly
convex object is about as deep as it is wide):

    thickness = amodal_depth_ratio * min(width, height)   (perpendicular to the ray)
    push      = clip(thickness / 2 - (mean(r) - near(r)), 0, amodal_max_push_m)

with r the points' range along the ray and near(r) its low percentile. For a sphere the
visible points average 2R/3 in front of the centre and near = centre - R, so push = 2R/3;
for a box seen face-on push = half its width.

Measured on ray-cast synthetic scenes (test/test_lifting.py: 640x480, f = 525 px, default
config), centre error in mm, centroid -> amodal, with 1 mm (and 3 mm) Gaussian depth noise:

    sphere r=3 cm at 0.6 m, on axis ........................ 22.8 -> 2.2  (3 mm: 2.7)
    sphere r=3 cm at 0.7 m, 0.2 m off axis ................. 22.9 -> 1.5  (1.7)
    cube 5 cm at 0.6 m, face-on ............................ 25.0 -> 0.3  (1.2)
    cube 5 cm at 0.6 m, yawed 30 deg ....................... 20.5 -> 7.1  (7.4)
    cube 5 cm on a table, camera 45 deg down, 0.7 m ........ 19.2 -> 8.8  (9.1)

On MuJoCo renders of the Fetch pick-and-place scene (spatialvlm_ros.sim, colour grounding,
4 seeds, first frame), centroid -> amodal: block 20.0-21.0 -> 7.2-10.8 mm, target sphere
15.6-16.0 -> 0.5-0.7 mm, gripper grip site 15-16 -> 14-15 mm (two thin fingers around an
empty grip site: no convex object to complete).

'support' (the node's default) completes a box resting on the support plane (core/support.py);
'flat' completes a disc or marker under occluders (core/flat.py); 'grip' places a parallel gripper's grasp
point from its fingers and two dimensions of the gripper (``grip_height_m``, ``grip_depth_m``):
on the Fetch renders (4 seeds, 30 frames each) 18 mm -> 2 mm median where the fingertips are
in view. Where a floating target disc hides the tips (seeds 1-3 after placing), the lower edge of
the gripper body places the point instead (``grip_palm_m``): 16-19 -> 1-5 mm (gripper p95 over
the 4 seeds 19 -> 4 mm).

The oblique cubes keep a bias towards the camera: seen corner-first a box is deeper along
the ray than its smaller lateral size (1.37 w at 30 deg, 1.41 w at 45 deg), which the
thickness estimate cannot see. The centroid is biased by 2R/3 for a sphere (plus the deep rim
the erosion removes) and by w/2 for a face-on box.

'amodal' assumes a compact object; for a flat object seen face-on (a plate, a sheet of
paper) it pushes by half the object's width, so use 'flat' for such objects: a plane fitted to
the visible points, the mask filled to its convex hull (whatever rests on the object hides part
of it) and
the filled region's rays intersected with that plane. On the Fetch scene with the block placed
on the 10 cm target disc, the disc centre is off by ~2 cm with 'centroid' (the visible ring
is mostly the near half) and by a few mm with 'flat'.

Modes that complete a hidden part ('flat', 'grip', 'support') also estimate the share of the
object in view (``ObjectObservation.visible_fraction``), which scales the object's evidence and
so the confidence of its facts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping, NamedTuple, Optional

import cv2
import numpy as np

from .errors import GroundingError
from .flat import flat_surface
from .occlusion import median_or_none, occluder_above_heights
from .support import support_box
from .types import Frame, ObjectObservation
from .vec3 import cross3
from .stats import median, percentile, percentiles

__all__ = ['LiftConfig', 'CENTER_MODES', 'lift_mask', 'lift_objects']

logger = logging.getLogger(__name__)

# Scale from the median absolute deviation to the standard deviation of a normal distribution.
_MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class LiftConfig:
    """Options of :func:`lift_mask`. Lengths in metres, sizes in pixels."""

    # Erode the mask by this many pixels before lifting (removes flying pixels at borders); 0 = off.
    erode_px: int = 2
    # Depth outside [min_depth_m, max_depth_m] is invalid (sensor minimum range, far-away junk).
    min_depth_m: float = 0.05
    max_depth_m: float = 10.0
    # Depth filter: keep |z - median(z)| <= mad_k * 1.4826 * MAD(z) + mad_tolerance_m.
    mad_k: float = 3.0
    # The tolerance keeps flat objects (MAD ~ noise) from losing their own slightly tilted pixels.
    mad_tolerance_m: float = 0.01
    # Statistical outlier removal: neighbours per point (0 = off; needs scipy), and the
    # number of standard deviations above the mean neighbour distance a point may lie.
    sor_neighbors: int = 0
    sor_std_ratio: float = 2.0
    # Low/high percentile per axis whose range is the extent (robust to leftover outliers).
    extent_percentiles: tuple[float, float] = (1.0, 99.0)
    # Radius in pixels of the depth averaging used to find the nearest surface in 'amodal' mode
    # (reduces sensor noise, which would otherwise bias that surface towards the camera); 0 = off.
    near_smooth_px: int = 2
    # Medians and percentiles use at most this many evenly strided points: their cost grows with
    # N log N, and 8k samples put a percentile within ~0.15 % of the object's size.
    stats_max_points: int = 8192
    # 'amodal' (estimated object centre), 'centroid' (mean of the visible points) or 'flat'
    # (plane-completed centre of a flat object); see module doc.
    center_mode: str = 'amodal'
    # Object depth along the ray = this ratio * its smaller lateral size (1.0: as deep as wide).
    amodal_depth_ratio: float = 1.0
    # Never push the centre back by more than this (guards against a mask that spans a wall).
    amodal_max_push_m: float = 0.25
    # Fewer surviving points than this -> None (the measurement failed; the caller counts it).
    min_points: int = 30
    # 'support' mode (core/support.py): points within this of the top height form the top surface.
    cap_tolerance_m: float = 0.006
    # 'support' mode: an object whose lowest visible point is within this above the dominant
    # horizontal plane rests on it (its bottom is the support surface).
    support_max_gap_m: float = 0.05
    # 'support' mode: width in pixels of the ring around the mask where the support surface is sampled.
    support_ring_px: int = 6
    # 'support' mode: the top counts as seen when the camera looks down on the object by this much.
    min_view_down_deg: float = 15.0
    # 'grip' mode, a parallel gripper seen by its fingers (read both from the robot description):
    # height of the grasp point (tool centre point between the fingers) above the fingertips,
    # and the fingers' size along the viewing direction (their depth seen from the camera).
    # The defaults are Fetch's: grip site 1.85 cm above the tips, fingers 2.7 cm deep.
    grip_height_m: float = 0.0185
    grip_depth_m: float = 0.027
    # 'grip' mode: height of the gripper body's lower edge, where the fingers leave it as the
    # camera sees it, above the grasp point; places the point when the fingertips are hidden
    # (0 = off). Fetch: the palm's flat lower face is 5.2 cm above the grip site and its rounded
    # front edge reaches 6.6 cm; seen from ~45 deg above, the silhouette edge is at 5.6 cm
    # (median over the sim frames whose fingertips are in view, std 1.6 mm).
    grip_palm_m: float = 0.056

    def __post_init__(self) -> None:
        def _int(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise GroundingError(f'LiftConfig.{name}: expected an integer >= {lo}, got {v!r}')

        def _pos(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, (int, float, np.number)) and math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
            if not ok:
                bound = '>= 0' if allow_zero else '> 0'
                raise GroundingError(f'LiftConfig.{name}: expected a finite number {bound}, got {v!r}')

        _int('erode_px', 0)
        _int('sor_neighbors', 0)
        _int('near_smooth_px', 0)
        _int('min_points', 1)
        _int('support_ring_px', 1)
        for name in ('cap_tolerance_m', 'support_max_gap_m'):
            _pos(name)
        if not 0.0 <= self.min_view_down_deg < 90.0:
            raise GroundingError(f'LiftConfig.min_view_down_deg: expected degrees in [0, 90), got {self.min_view_down_deg!r}')
        _int('stats_max_points', 100)
        for name in ('min_depth_m', 'max_depth_m', 'mad_k', 'sor_std_ratio', 'amodal_depth_ratio'):
            _pos(name)
        for name in ('mad_tolerance_m', 'amodal_max_push_m', 'grip_height_m', 'grip_depth_m', 'grip_palm_m'):
            _pos(name, allow_zero=True)
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


def _strided(a: np.ndarray, max_n: int) -> np.ndarray:
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
class _Cloud:
    """What a centre mode works from (internal)."""

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


class _Estimate(NamedTuple):
    """What a centre mode returns (float64 metres, optical frame)."""

    center: np.ndarray  # (3,)
    extent: np.ndarray  # (3,) axis-aligned box
    size: Optional[np.ndarray] = None  # (3,) gravity-aligned (width, height, depth), from modes that measure it
    visible: float = 1.0  # share of the object in view, from modes that complete a hidden part


def _centroid(cloud: _Cloud, config: LiftConfig) -> _Estimate:
    return _Estimate(cloud.points.mean(axis=0, dtype=np.float64), cloud.extent)


def _amodal(cloud: _Cloud, config: LiftConfig) -> _Estimate:
    """Centroid pushed back along the viewing ray; the z extent becomes at least the thickness."""
    centroid = cloud.points.mean(axis=0, dtype=np.float64)
    ray = centroid / np.linalg.norm(centroid)
    # A basis perpendicular to the ray: e1 ~ image x, e2 ~ image y (for a ray along z, exactly).
    e1 = cross3((0.0, 1.0, 0.0), ray)
    e1 /= np.linalg.norm(e1)
    e2 = cross3(ray, e1)
    lateral = _strided(cloud.points, config.stats_max_points) @ np.stack([e1, e2], axis=1).astype(np.float32)
    lo, hi = percentiles(lateral, config.extent_percentiles, axis=0)
    thickness = config.amodal_depth_ratio * (float(np.min(hi - lo)) + cloud.border_m)
    # The nearest surface from locally averaged depth: a low percentile of raw depth sits about
    # 2.3 noise sigmas in front of the surface, which would pull the centre forward. Scaling a
    # point by z_smooth / z moves it along its own pixel ray to the averaged depth.
    z = cloud.points[:, 2]
    z_smooth = _local_mean(z, cloud.pixels[:, 0], cloud.pixels[:, 1], cloud.crop_shape, config.near_smooth_px)
    scale = _strided(z_smooth / z, config.stats_max_points)
    ranges = (_strided(cloud.points, config.stats_max_points) @ ray.astype(np.float32)) * scale
    near = float(percentile(ranges, config.extent_percentiles[0]))
    covered = float(centroid @ ray) - near  # how far behind the nearest surface the centroid already is
    push = float(np.clip(thickness / 2.0 - covered, 0.0, config.amodal_max_push_m))
    extent = cloud.extent.copy()
    extent[2] = max(extent[2], thickness)
    return _Estimate(centroid + push * ray, extent)


def _flat(cloud: _Cloud, config: LiftConfig) -> _Estimate:
    """Plane-completed centre of a flat object (core/flat.py); the centroid when the plane is seen edge-on."""
    res = flat_surface(
        _strided(cloud.points, config.stats_max_points), cloud.mask_crop, cloud.depth_crop, cloud.origin,
        cloud.intrinsics, cloud.frame.shape if cloud.frame is not None else None,
        min_depth_m=config.min_depth_m, max_depth_m=config.max_depth_m, min_points=config.min_points,
        percentiles=config.extent_percentiles,
    )
    if res is None:
        return _centroid(cloud, config)
    return _Estimate(res.center, res.extent, visible=res.visible)


def _support(cloud: _Cloud, config: LiftConfig) -> _Estimate:
    """Gravity-aligned box resting on the support plane (core/support.py); 'amodal' without gravity."""
    amodal = _amodal(cloud, config)
    if cloud.gravity is None or getattr(cloud.gravity, 'source', 'prior') == 'prior':
        return amodal
    from .gravity import gravity_basis

    # Forward coordinates of the points moved along their rays to the locally averaged depth, so
    # that depth noise does not pull the nearest side towards the camera (as in 'amodal').
    z = cloud.points[:, 2]
    z_smooth = _local_mean(z, cloud.pixels[:, 0], cloud.pixels[:, 1], cloud.crop_shape, config.near_smooth_px)
    fwd = gravity_basis(cloud.gravity.up)[1]
    near_fwd = (cloud.points.astype(np.float64) @ fwd) * (z_smooth / z)
    res = support_box(
        cloud.points, cloud.mask_crop, cloud.origin, cloud.frame, cloud.gravity, amodal.center, cloud.border_m,
        cap_tolerance_m=config.cap_tolerance_m, support_max_gap_m=config.support_max_gap_m,
        support_ring_px=config.support_ring_px, min_view_down_deg=config.min_view_down_deg,
        percentiles=config.extent_percentiles, min_points=config.min_points, near_fwd_values=near_fwd,
    )
    return _Estimate(res.center, res.extent, res.size[[0, 2, 1]], res.visible)  # (w, d, h) -> (w, h, d)


# 'grip' mode: the tips are hidden when they put the grasp point this much above the gripper
# body's edge does (the two agree within ~3 mm on the sim frames whose tips are in view; hidden
# tips are off by 1.1-1.9 cm there), and the body's edge needs this many columns of occluder.
_TIPS_HIDDEN_M = 0.007
_MIN_EDGE_COLUMNS = 5


def _grip(cloud: _Cloud, config: LiftConfig) -> _Estimate:
    """Grasp point of a parallel gripper seen by its fingers; 'amodal' without gravity.

    The fingers' visible points surround an empty grasp point: their centroid sits in front of
    it (only the near faces are seen) and above it (the fingers reach up to the palm). The
    fingers are symmetric about the grasp point, so across the view it is the middle of the
    visible extent (both fingers, or the near one hiding the far one); along the view it is
    half the fingers' depth (``grip_depth_m``) behind their nearest visible face; vertically
    ``grip_height_m`` above the fingertips. Exact when the camera looks across the closing
    axis; looking along it, the far finger is hidden and the point is off by about half the
    opening.

    Hidden fingertips. Something in front of the tips (a disc the fingers reach behind) cuts the
    fingers short, and the tips' height then puts the point too high. The gripper body above the
    fingers occludes their upper outline; its lower edge (``grip_palm_m`` above the grasp point)
    is read from those occluder pixels (core/occlusion.py). Where the tips place the point more
    than ``_TIPS_HIDDEN_M`` above where the body's edge does, the fingers are shorter than the
    gripper allows: the tips are hidden, and the body's edge places the point.
    """
    if cloud.gravity is None or getattr(cloud.gravity, 'source', 'prior') == 'prior':
        return _amodal(cloud, config)
    from .gravity import gravity_basis

    basis = gravity_basis(cloud.gravity.up)
    right, fwd, up = basis
    pts = _strided(cloud.points, config.stats_max_points).astype(np.float64)
    lo_p, hi_p = config.extent_percentiles
    lo, hi = percentiles(pts @ right, config.extent_percentiles)
    # Nearest face from noise-smoothed depth, as in 'amodal' (raw noise pulls it forward).
    z = cloud.points[:, 2]
    z_smooth = _local_mean(z, cloud.pixels[:, 0], cloud.pixels[:, 1], cloud.crop_shape, config.near_smooth_px)
    near_fwd = percentile(_strided((cloud.points.astype(np.float64) @ fwd) * (z_smooth / z), config.stats_max_points),
                          lo_p)
    hts = pts @ up
    # The erosion took ~border/2 off the fingertips' lower edge, seen from above at the view angle.
    mean_dir = pts.mean(axis=0)
    view_down = float(-(mean_dir @ up) / np.linalg.norm(mean_dir))
    cos_d = math.sqrt(max(1.0 - view_down**2, 0.25))
    tips = seen_tips = percentile(hts, lo_p) - cloud.border_m / 2.0 / cos_d
    top = percentile(hts, hi_p)
    grip = tips + config.grip_height_m
    if config.grip_palm_m > 0:
        edge = median_or_none(occluder_above_heights(cloud.mask_crop, cloud.depth_crop, cloud.origin,
                                                     cloud.intrinsics, up), _MIN_EDGE_COLUMNS)
        if edge is not None and grip - (edge - config.grip_palm_m) > _TIPS_HIDDEN_M:
            grip = edge - config.grip_palm_m
            tips = grip - config.grip_height_m
    center = right * (lo + hi) / 2.0 + fwd * (near_fwd + config.grip_depth_m / 2.0) + up * grip
    size = np.array([float(hi - lo) + cloud.border_m, config.grip_depth_m, max(top - tips, 0.0)])
    # Of the fingers' height below the body's edge, the share in view (1 unless the tips are hidden).
    visible = 1.0 if tips == seen_tips else float(np.clip((top - seen_tips) / max(top - tips, 1e-6), 1e-3, 1.0))
    # and the camera-axis box of the gravity-aligned one
    return _Estimate(center, np.abs(basis.T) @ size, size[[0, 2, 1]], visible)  # (w, d, h) -> (w, h, d)


# center_mode -> function(cloud, config) -> _Estimate (centre, extent, gravity-aligned size from
# modes that measure the whole object, share in view from modes that complete a hidden part).
CENTER_MODES = {'centroid': _centroid, 'amodal': _amodal, 'flat': _flat, 'support': _support, 'grip': _grip}


def lift_mask(
    frame: Frame, mask: np.ndarray, name: str, config: LiftConfig = LiftConfig(), gravity=None
) -> Optional[ObjectObservation]:
    """Lift one object mask to 3D.

    frame: the registered RGB-D frame (depth HxW float32 metres, NaN = invalid).
    mask: HxW bool (or nonzero = object), same size as the frame.
    name: the object's name, copied to the observation.
    gravity: :class:`~spatialvlm_ros.core.gravity.Gravity` of the frame; the 'support' centre mode
        needs it (without it, 'support' falls back to 'amodal').

    Returns an :class:`ObjectObservation` in ``frame.frame_id`` with ``points`` Nx3 float32,
    ``center`` and ``extent`` (3,) float64 metres, ``pixel_count`` = mask pixels; or None when
    fewer than ``config.min_points`` points survive the cleaning (the measurement failed).
    The x/y extent includes the border the erosion removed; in 'amodal' mode the z extent is at
    least the estimated thickness, in 'centroid' mode it is the visible depth spread only.
    If erosion leaves fewer than ``min_points`` valid pixels (a thin or tiny object), the
    uneroded mask is used and the depth filter alone has to remove flying pixels.
    """
    mask = np.asarray(mask)
    if mask.shape != frame.shape:
        raise GroundingError(
            f'mask of {name!r} has shape {mask.shape} but the frame is {frame.shape} (HxW); '
            'ground on the same registered colour image the depth belongs to',
            kind='size_mismatch',
        )
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

    zs = _strided(z, config.stats_max_points)
    med = median(zs)
    mad = median(np.abs(zs - med))
    inlier = np.abs(z - med) <= config.mad_k * _MAD_TO_STD * mad + config.mad_tolerance_m
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

    lo, hi = percentiles(_strided(points, config.stats_max_points), config.extent_percentiles, axis=0)
    extent = (hi - lo).astype(np.float64)
    # Lateral size lost to the erosion (erode_px on each side) and to sampling at pixel centres
    # (n pixels cover n, not n - 1, pixel widths), at the object's median depth.
    border_px = 2 * erode_used + 1
    zmed = float(median(_strided(z, config.stats_max_points)))
    extent[0] += border_px * zmed / k.fx
    extent[1] += border_px * zmed / k.fy
    cloud = _Cloud(
        points, pixels, depth.shape, extent, border_px * zmed / math.sqrt(k.fx * k.fy),
        mask_crop=mask[r0:r1, c0:c1].astype(bool), depth_crop=depth, origin=(int(r0), int(c0)), intrinsics=k,
        frame=frame, gravity=gravity, erode_used=erode_used,
    )
    est = CENTER_MODES[config.center_mode](cloud, config)
    return ObjectObservation(
        name=name,
        center=np.asarray(est.center, dtype=np.float64),
        extent=np.asarray(est.extent, dtype=np.float64),
        points=points,
        pixel_count=pixel_count,
        frame_id=frame.frame_id,
        stamp_ns=frame.stamp_ns,
        mask=mask,
        size=None if est.size is None else np.asarray(est.size, dtype=np.float64),
        border_m=float(cloud.border_m),
        visible_fraction=float(est.visible),
    )


def lift_objects(
    frame: Frame,
    masks: Mapping[str, Optional[np.ndarray]],
    config: LiftConfig = LiftConfig(),
    per_object: Optional[Mapping[str, LiftConfig]] = None,
    gravity=None,
) -> dict[str, Optional[ObjectObservation]]:
    """:func:`lift_mask` for every {name: mask}; a None mask (not grounded) stays None.

    per_object: name -> config overriding ``config`` for that object (e.g. 'centroid' mode
        for a flat object, which 'amodal' would push back by half its width).
    """
    per_object = per_object or {}
    return {
        name: (None if m is None else lift_mask(frame, m, name, per_object.get(name, config), gravity))
        for name, m in masks.items()
    }
