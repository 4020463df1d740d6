"""'support' centre mode (the node's default): a support-plane-aware amodal box.

A depth camera sees an object's top and the faces turned towards it. In the gravity-aligned frame
(:mod:`spatialvlm_ros.core.gravity`) three things about a compact object on a table are known much
better than its depth along the viewing ray:

- its **top**: the highest visible surface. The top surface ("cap": pixels of the *uneroded* mask
  within ``cap_tolerance_m`` of the top height) is taken from the full mask, because a pixel on the
  mask border that really belongs to the background lies far below the top and drops out by its
  height alone; the top height is the median of the cap (unbiased by depth noise on a flat top),
  or, for an open top (a rim round a hollow: a bowl, a mug), the rim's crest (the cap's median
  lies below it, on the surfaces falling away either side);
- its **bottom**: an object whose lowest visible point is within ``support_max_gap_m`` of the
  frame's dominant horizontal plane rests on it, so its bottom is the support surface: the
  plane, or a thin object lying on the plane under it (a mat, a marker: sampled in a ring of
  ``support_ring_px`` around the mask). Its own support is the highest horizontal surface seen
  around its foot (another object, a night stand) when that lies above the dominant plane. One
  whose lowest visible point reaches that surface (within ``support_contact_m``: its foot, or its
  mask's fringe lying on the surface, which depth noise spreads a few mm below it) stands there;
  one whose lowest visible point is higher stands there too unless the surface is seen through
  free space under it, inside its footprint (the outline of its top when that is in view, not
  its bounding square, which also covers the table beside a round or a yawed object). An object
  in the air keeps its lowest visible point;
- its **horizontal box**: when the camera looks down on the object by at least
  ``min_view_down_deg``, the whole top surface is in view. The rays through the corners of the
  cap's pixels meet the top's level where the face is, whatever the depth noise along them (the
  upper band of a side face, within the height tolerance but behind the level along its rays,
  is left out), so the top's outline holds the far corner of a yawed box that a percentile of
  noisy points cuts off. The box holds that outline and the visible sides where they reach past
  it (a bottle's body, a mug's handle); its near side is the nearest visible point (the top's
  near edge meets the front face without a depth jump). The mask's fringe lying on the support
  in front of, beside and behind a standing object (where no depth jump cuts it off) is not
  part of it: the pixels whose local median height rises above the support count, which keeps
  a part a few pixels wide and a few mm high (a tool's shaft). Seen from the side, or with
  something in front of the top, the horizontal centre comes from the ray push of the 'amodal'
  mode, the far side from a cross-section as deep as it is wide; with the top out of view and a
  wall seen right above the object (furniture pushed against it), from a footprint square to
  that wall, reaching back to it.

centre = horizontal centre + up * (top + bottom) / 2. The size is the gravity-aligned box (width
along the camera's horizontal right, depth along the horizontal viewing direction, height = top -
bottom), returned as the camera-axis bounding box of that box (``ObjectObservation.extent`` stays
camera-axis aligned); :func:`spatialvlm_ros.core.geometry.gravity_box` recovers the box itself.

Measured on realistic rendered tabletops and rooms with exact truth (``bench/realistic.py``):
see ``bench/results/realistic.json``.

Without a measured up direction (gravity unknown or only the prior) the mode is 'amodal'.
Measured on the sim episodes: see ``bench/spatial_core.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .. import stats
from ..errors import GroundingError
from ..gravity import Gravity, gravity_basis
from ..options import option
from .amodal import amodal
from .base import Estimate, check_int, check_number, register_center_mode
from .cloud import _MAD_TO_STD, Cloud, LiftConfig, depth_agrees

__all__ = ['SupportConfig', 'SupportResult', 'support', 'support_box']


@dataclass(frozen=True)
class SupportConfig:
    """Options of the 'support' centre mode (see the module docstring). Lengths in metres."""

    cap_tolerance_m: float = option(0.006, "'support' mode: points within this of the top height form the "
                                           'top surface (metres).')
    # Its bottom is then the support surface.
    support_max_gap_m: float = option(0.05, "'support' mode: an object whose lowest visible point is within "
                                            'this above the dominant horizontal plane rests on it (metres).')
    # The 1st percentile of a foot's heights, with depth noise, and the mask's fringe on the plane.
    support_contact_m: float = option(0.008, "'support' mode: an object whose lowest visible point is within "
                                             'this above its support surface touches it: it stands there, '
                                             'whatever is seen beside it (metres).')
    support_ring_px: int = option(6, "'support' mode: width in pixels of the ring around the mask where the "
                                     'support surface is sampled.')
    min_view_down_deg: float = option(15.0, "'support' mode: the top counts as seen when the camera looks down "
                                            'on the object by this much (degrees).')

    def __post_init__(self) -> None:
        check_int(self, 'support_ring_px', 1)
        for name in ('cap_tolerance_m', 'support_max_gap_m', 'support_contact_m'):
            check_number(self, name)
        if not 0.0 <= self.min_view_down_deg < 90.0:
            raise GroundingError(
                f'SupportConfig.min_view_down_deg: expected degrees in [0, 90), got {self.min_view_down_deg!r}'
            )


@dataclass(frozen=True)
class SupportResult:
    """What :func:`support_box` found (float64 metres, optical frame)."""

    center: np.ndarray  # (3,)
    extent: np.ndarray  # (3,) camera-axis bounding box of the gravity-aligned box
    size: np.ndarray  # (3,) gravity-aligned (width, depth, height)
    resting: bool  # bottom taken from the support surface
    top_visible: bool  # horizontal centre taken from the top surface
    visible: float = 1.0  # share of the height in view when the lower part is hidden, else 1


def _backproject(vs: np.ndarray, us: np.ndarray, z: np.ndarray, origin: tuple[int, int], k) -> np.ndarray:
    x = (us + origin[1] - k.cx) / k.fx
    y = (vs + origin[0] - k.cy) / k.fy
    return np.stack([x * z, y * z, z], axis=1)


def _ring_points(frame, mask_crop: np.ndarray, origin: tuple[int, int], ring_px: int,
                 drop_flying: bool = False) -> np.ndarray:
    """Mx3 float64 points of the valid depth pixels in a ``ring_px`` band around the mask; with
    ``drop_flying``, only those whose depth agrees with their 3x3 neighbours' (not flying pixels:
    :func:`depth_agrees`)."""
    h, w = frame.shape
    r0, c0 = origin
    rr0, cc0 = max(r0 - ring_px, 0), max(c0 - ring_px, 0)
    rr1, cc1 = min(r0 + mask_crop.shape[0] + ring_px, h), min(c0 + mask_crop.shape[1] + ring_px, w)
    big = np.zeros((rr1 - rr0, cc1 - cc0), np.uint8)
    big[r0 - rr0 : r0 - rr0 + mask_crop.shape[0], c0 - cc0 : c0 - cc0 + mask_crop.shape[1]] = mask_crop
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    ring = cv2.dilate(big, kernel).astype(bool) & ~big.astype(bool)
    depth = frame.depth[rr0:rr1, cc0:cc1]
    ring &= np.isfinite(depth)
    vs, us = np.nonzero(ring)
    z = depth[vs, us].astype(np.float64)
    if drop_flying:
        keep = depth_agrees(depth, vs, us, z, _AGREE_JUMP_M)
        vs, us, z = vs[keep], us[keep], z[keep]
    return _backproject(vs, us, z, (rr0, cc0), frame.intrinsics)


def _cap_occluded(frame, mask_crop, origin, cap_vs, cap_us, cap_z, ring_px: int = 3, step_m: float = 0.01) -> bool:
    """Whether something nearer than the top surface borders it in the image (hides part of it).

    Looks at the pixels within ``ring_px`` outside the mask next to the cap; a few of them more
    than ``step_m`` (at 1 m; depth noise grows with z^2) in front of the cap pixels near them (the
    nearest within ``ring_px``: an object in front of the top's far part is farther than the top's
    near edge) means an occluder.
    """
    h, w = frame.shape
    r0, c0 = origin
    rr0, cc0 = max(r0 - ring_px, 0), max(c0 - ring_px, 0)
    rr1, cc1 = min(r0 + mask_crop.shape[0] + ring_px, h), min(c0 + mask_crop.shape[1] + ring_px, w)
    shape = (rr1 - rr0, cc1 - cc0)
    cap_depth = np.full(shape, np.inf, np.float32)
    cap_depth[cap_vs + r0 - rr0, cap_us + c0 - cc0] = cap_z
    obj = np.zeros(shape, np.uint8)
    obj[r0 - rr0 : r0 - rr0 + mask_crop.shape[0], c0 - cc0 : c0 - cc0 + mask_crop.shape[1]] = mask_crop
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    local = cv2.erode(cap_depth, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=np.inf)  # nearest cap depth
    near_cap = np.isfinite(local) & ~obj.astype(bool)
    depth = frame.depth[rr0:rr1, cc0:cc1]
    with np.errstate(invalid='ignore'):
        occluders = near_cap & (depth < local - step_m * np.maximum(local, 1.0) ** 2)
    return int(np.count_nonzero(occluders)) >= max(3, ring_px)


def _foot_occluded(frame, mask_crop, origin, foot_vs, foot_us, foot_pts, up: np.ndarray, above: float,
                   reach_px: int = 2, step_m: float = 0.01) -> bool:
    """Whether something nearer hides what lies below an object's lowest visible part.

    foot_vs, foot_us: crop rows and columns of its lowest visible pixels, foot_pts their Nx3
    points; up: (3,) unit vector. Looks up to ``reach_px`` pixels from each of them in the image
    direction of down, outside the mask: a few pixels there more than ``step_m`` (at 1 m, growing
    with z^2) nearer than the foot pixel and higher than ``above`` (an object in front that rises
    above the foot; not the surface in front of a foot standing on it, nor one beside it) hide it.
    """
    k = frame.intrinsics
    h, w = frame.shape
    p = foot_pts.mean(axis=0)
    # image motion of the mean foot point moved down along -up
    du = k.fx * (-up[0] / p[2] + p[0] * up[2] / p[2] ** 2)
    dv = k.fy * (-up[1] / p[2] + p[1] * up[2] / p[2] ** 2)
    norm = math.hypot(du, dv)
    if norm < 1e-9:
        return False
    du, dv = du / norm, dv / norm
    rows0, cols0 = foot_vs + origin[0], foot_us + origin[1]
    mask_full = np.zeros((h, w), bool)
    mask_full[origin[0]:origin[0] + mask_crop.shape[0], origin[1]:origin[1] + mask_crop.shape[1]] = mask_crop
    z_foot = foot_pts[:, 2]
    hits = np.zeros(len(foot_vs), bool)
    for step in range(1, reach_px + 1):
        r = np.rint(rows0 + step * dv).astype(int)
        c = np.rint(cols0 + step * du).astype(int)
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        r, c = np.where(ok, r, 0), np.where(ok, c, 0)
        z = frame.depth[r, c].astype(np.float64)
        height = ((c - k.cx) / k.fx * up[0] + (r - k.cy) / k.fy * up[1] + up[2]) * z
        with np.errstate(invalid='ignore'):
            hits |= ok & ~mask_full[r, c] & (z < z_foot - step_m * np.maximum(z_foot, 1.0) ** 2) & (height > above)
    return int(np.count_nonzero(hits)) >= max(3, len(foot_vs) // 10)


# The nearest point and the top's outline are extremes, where a yawed box's corner holds few
# points: a percentile of 1 cuts ~6 % off a 45-degree corner's reach. The outline's footprints are
# noise-free, so only the outermost pixel of each side is dropped; the nearest point is noisy.
_NEAR_PCT = 0.2
# A top narrower than this share of the object's width does not bound its far side.
_NARROW_TOP = 0.6
# Depth jump (at 1 m, growing with z^2) of which half between a point and its neighbours' median
# makes it a flying pixel (LiftConfig.bleed_jump_m's default).
_AGREE_JUMP_M = 0.02
# A top whose outline holds this share of pixels lower than it is open (a rim round a hollow):
# flat tops hold <= 0.15 (noise), bowls and mugs seen from above 0.4-0.9.
_HOLLOW = 0.3
# Pixels nearest each side of the top's outline whose corners are projected.
_EDGE_PIXELS = 48


def _footprint_on_level(vs: np.ndarray, us: np.ndarray, origin: tuple[int, int], k, basis: np.ndarray,
                        level: float, points: np.ndarray) -> np.ndarray | None:
    """(4M, 2) float64 (right, forward) metres where the rays through the 4 corners of the pixels
    on the horizontal plane at height ``level`` meet it: the pixels' footprint on a level surface
    (a top face), exact whatever the depth noise; of the ``_EDGE_PIXELS`` pixels nearest each side
    (M <= 4 of them), the only ones that can hold an extreme.

    vs, us: rows and columns (crop at ``origin``) of N candidate pixels; points: their Nx3 points.
    basis: rows right, forward, up (:func:`gravity_basis`). A pixel is on the plane when its depth
    lies within 3 robust noise sigmas of where its ray meets the plane: the upper band of a side
    face, within the cap's height tolerance, lies behind the plane along its rays, and would
    widen the footprint by that band over the tangent of the view's depression. None where a ray
    runs (nearly) parallel to the plane or meets it behind the camera or beyond 4 times the
    median range, or fewer than 3 pixels are on it.
    """
    ray = np.stack([(us + (origin[1] - k.cx)) / k.fx, (vs + (origin[0] - k.cy)) / k.fy, np.ones(len(us))], axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        t = level / (ray @ basis[2])  # the depth where each pixel's ray meets the plane
    if not np.all(np.isfinite(t)) or np.any(t <= 0) or float(t.max()) > 4.0 * float(np.median(t)):
        return None
    resid = points[:, 2] - t  # > 0: behind the plane (a side face below the top)
    sigma = _MAD_TO_STD * float(stats.median(np.abs(resid)))
    on = resid <= 3.0 * sigma + 1e-4 * t
    if np.count_nonzero(on) < 3:
        return None
    # Only the pixels nearest each side can hold an extreme corner: their centres' footprints.
    g_on = ray[on] @ basis.T
    centres = g_on[:, :2] * (level / g_on[:, 2:3])
    m = min(len(centres), _EDGE_PIXELS)
    idx = np.unique(np.concatenate([np.argpartition(centres[:, j], (m - 1, len(centres) - m))[sl]
                                    for j in (0, 1) for sl in (slice(None, m), slice(len(centres) - m, None))]))
    du = np.array([-0.5, 0.5, 0.5, -0.5])
    dv = np.array([-0.5, -0.5, 0.5, 0.5])
    x = ((us[on][idx, None] + du[None, :]) + (origin[1] - k.cx)) / k.fx
    y = ((vs[on][idx, None] + dv[None, :]) + (origin[0] - k.cy)) / k.fy
    rays = np.stack([x.ravel(), y.ravel(), np.ones(x.size)], axis=1)
    g = rays @ basis.T  # (right, forward, up) of each corner ray
    with np.errstate(divide='ignore', invalid='ignore'):
        tc = level / g[:, 2]
    if not np.all(np.isfinite(tc)) or np.any(tc <= 0):
        return None
    return g[:, :2] * tc[:, None]


def _median_heights(depth: np.ndarray, origin: tuple[int, int], k, up: np.ndarray, window_px: int = 3) -> np.ndarray:
    """HxW float64 heights along ``up`` of the crop's pixels, each the median over a ``window_px``
    square (pixels without depth count as far below); NaN where the pixel has no depth."""
    h, w = depth.shape
    rows, cols = np.mgrid[0:h, 0:w]
    z = depth.astype(np.float64)
    heights = ((cols + origin[1] - k.cx) / k.fx * up[0] + (rows + origin[0] - k.cy) / k.fy * up[1] + up[2]) * z
    valid = np.isfinite(heights)
    med = cv2.medianBlur(np.where(valid, heights, -1e3).astype(np.float32), window_px).astype(np.float64)
    return np.where(valid, med, np.nan)


def _hollow_share(shape: tuple[int, int], vs: np.ndarray, us: np.ndarray, cap: np.ndarray, level: np.ndarray,
                  top: float, tol_m: float) -> float:
    """Share of the image region the top outlines whose pixels lie well below it: the hollow inside
    a rim (a bowl, a cup), ~0 for a flat top.

    shape: the crop's (H, W); vs, us: rows and columns of the N mask pixels with depth, ``level``
    their noise-smoothed heights (metres, :func:`_median_heights`); cap: (N,) bool, the top band.
    The outline is the convex hull of the band's pixels whose smoothed height is at ``top``
    (within ``tol_m``: not a noisy pixel of the support that reaches the band), convex for a
    flat top seen from anywhere; well below = by more than twice ``tol_m``, beyond the noise.
    """
    at_top = cap & (np.abs(level - top) <= tol_m)
    if np.count_nonzero(at_top) < 3:
        return 0.0
    hull = cv2.convexHull(np.stack([us[at_top], vs[at_top]], axis=1).astype(np.int32))
    region = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(region, hull, 1)
    low = np.zeros(shape, bool)
    with np.errstate(invalid='ignore'):
        below = level < top - 2.0 * tol_m
    low[vs[below], us[below]] = True
    return float(np.count_nonzero(region.view(bool) & low)) / max(int(np.count_nonzero(region)), 1)


def _above_support(depth: np.ndarray, mask_crop: np.ndarray, origin: tuple[int, int], k, up: np.ndarray,
                   support: float, tol_m: float, window_px: int = 3) -> np.ndarray:
    """HxW bool on the crop: pixels that rise above the support surface at height ``support``.

    The height of each pixel is the median over a ``window_px`` square (a part a few pixels wide,
    a tool's shaft 8 mm over the table, keeps its height; depth noise on the support does not
    reach far above it); mask pixels without depth count as above (they hold the object), other
    pixels without depth as the support. Above = more than ``tol_m`` or 2 noise sigmas (those
    of the support pixels beside the mask, after the median) over the support.
    """
    h, w = depth.shape
    rows, cols = np.mgrid[0:h, 0:w]
    z = depth.astype(np.float64)
    x = (cols + origin[1] - k.cx) / k.fx * z
    y = (rows + origin[0] - k.cy) / k.fy * z
    heights = x * up[0] + y * up[1] + z * up[2]
    valid = np.isfinite(heights)
    filled = np.where(valid, heights, np.where(mask_crop, support + 1.0, support)).astype(np.float32)
    med = cv2.medianBlur(filled, window_px).astype(np.float64)
    outside = ~mask_crop & valid & (np.abs(heights - support) <= 4.0 * tol_m)
    noise = 0.0
    if np.count_nonzero(outside) >= 20:
        noise = _MAD_TO_STD * float(stats.median(np.abs(med[outside] - support)))
    return med > support + max(tol_m, 2.0 * noise)


def _inside_convex(pts: np.ndarray, outline: np.ndarray, margin: float) -> np.ndarray:
    """(M,) bool: which of the 2D points ``pts`` (Mx2) lie inside the convex hull of ``outline``
    (Kx2, K >= 3) by more than ``margin`` (metres; all False for a degenerate hull)."""
    hull = cv2.convexHull(np.ascontiguousarray(outline, dtype=np.float32))[:, 0, :].astype(np.float64)
    if len(hull) < 3:
        return np.zeros(len(pts), bool)
    a, b = hull, np.roll(hull, -1, axis=0)
    edge = b - a
    length = np.linalg.norm(edge, axis=1)
    ok = length > 1e-9
    a, edge, length = a[ok], edge[ok], length[ok]
    area2 = float(np.sum(hull[:, 0] * np.roll(hull[:, 1], -1) - np.roll(hull[:, 0], -1) * hull[:, 1]))
    if len(a) < 3 or abs(area2) < 1e-12:
        return np.zeros(len(pts), bool)
    # signed distance of every point to every edge line, positive inside
    d = ((edge[None, :, 0] * (pts[:, None, 1] - a[None, :, 1]) - edge[None, :, 1] * (pts[:, None, 0] - a[None, :, 0]))
         / length[None, :]) * math.copysign(1.0, area2)
    return d.min(axis=1) > margin


def _wall_behind(ring: np.ndarray | None, lo_right: float, hi_right: float, near_fwd: float, top: float,
                 width: float, tol_m: float, margin_m: float, min_count: int = 10) -> tuple[float, float] | None:
    """The line ``forward = a + b right`` (a, b; metres) of a vertical surface seen right above an
    object, in line with it and behind its near side (the wall a piece of furniture stands
    against), or None.

    ring: Mx3 (right, forward, height) of the pixels around the mask. The pixels higher than the
    object's ``top`` within its lateral range [lo_right, hi_right] (less ``margin_m``) behind
    ``near_fwd`` count; they are a vertical surface when a line forward = a + b right, fitted
    without the points well in front of it (flying pixels), holds half of them within 5 % of
    the object's ``width`` and the kept ones within a tenth (interquartile range of the
    residuals; a horizontal surface behind spreads along the view). The object lies in front
    of that line.
    """
    if ring is None:
        return None
    sel = ((ring[:, 2] > top + tol_m) & (ring[:, 0] > lo_right + margin_m) & (ring[:, 0] < hi_right - margin_m)
           & (ring[:, 1] > near_fwd))
    if np.count_nonzero(sel) < min_count:
        return None
    r, f = ring[sel, 0], ring[sel, 1]
    band = 0.05 * width
    keep = np.ones(len(r), bool)
    for _ in range(3):
        # Flying pixels (mixes of the top edge's depth and the wall's along the ray) lie in front of
        # the wall: each refit leaves out the points more than the band in front of the line.
        if np.count_nonzero(keep) < min_count:
            return None
        b, a = np.polyfit(r[keep], f[keep], 1)
        keep = f - (a + b * r) >= -band
    resid = f - (a + b * r)
    q1, q3 = stats.percentiles(resid[keep], (25.0, 75.0))
    # A wall holds most of the points within the band of its line; a horizontal surface spreads
    # them along the view.
    if q3 - q1 >= 2.0 * band or np.count_nonzero(np.abs(resid) <= band) < 0.5 * len(r):
        return None
    return float(a), float(b)


def _far_against_wall(lat: np.ndarray, wall: tuple[float, float], percentiles: tuple[float, float]) -> float:
    """Farthest forward coordinate (metres) of the footprint of an object standing against the wall
    ``forward = a + b right`` (``wall`` = (a, b)): a rectangle aligned with the wall (furniture
    stands square to the wall it is pushed against), from the wall to the farthest-out visible
    point, over the visible points' span along the wall; ``lat`` Nx2 (right, forward) of them."""
    a, b = wall
    along = np.array([1.0, b]) / math.hypot(1.0, b)
    out = np.array([b, -1.0]) / math.hypot(1.0, b)  # towards the camera (at the origin, a > 0)
    base = np.array([0.0, a])
    s = (lat - base) @ along
    t = (lat - base) @ out
    s_lo, s_hi = stats.percentiles(s, percentiles)
    t_hi = max(float(stats.percentile(t, percentiles[1])), 0.0)
    corners = np.array([base + along * si + out * ti for si in (s_lo, s_hi) for ti in (0.0, t_hi)])
    return float(corners[:, 1].max())


def _local_support(ring_h: np.ndarray, bottom_vis: float, top: float, max_gap: float, tol: float,
                   min_count: int = 15, of_window: bool = False) -> float | None:
    """Height of the highest horizontal surface seen around an object's foot, or None.

    ring_h: heights of the valid pixels around the mask. A horizontal surface shows as a dense
    level (many ring pixels within ``tol`` of one height); a vertical face spreads its pixels over
    its height. Candidates lie between ``max_gap`` below the object's lowest visible point and
    ``tol`` above it, and well below its top. Dense: a fifth of all ring pixels (of those at the
    candidate heights with ``of_window``: a surface seen only around the foot of a tall object).
    """
    if ring_h.size < min_count:
        return None
    lo, hi = bottom_vis - max_gap, min(bottom_vis + 2 * tol, top - 2 * tol)
    h = ring_h[(ring_h >= lo - tol) & (ring_h <= hi + tol)]
    if h.size < min_count:
        return None
    edges = np.arange(lo, hi + tol, tol / 2.0)
    if edges.size < 2:
        return None
    counts = np.histogram(h, bins=edges)[0]
    # density in a window of 2 tol (4 half-bins) around each level
    win = np.convolve(counts, np.ones(4), mode='same')
    dense = np.flatnonzero(win >= max(min_count, 0.2 * (h.size if of_window else ring_h.size)))
    if dense.size == 0:
        return None
    j = int(dense[-1])  # the highest dense level
    c = 0.5 * (edges[j] + edges[j + 1])
    sel = h[np.abs(h - c) <= tol]
    return float(stats.median(sel)) if sel.size else None


def support_box(
    points: np.ndarray,
    mask_crop: np.ndarray,
    origin: tuple[int, int],
    frame,
    gravity: Gravity,
    fallback_center: np.ndarray,
    border_m: float,
    *,
    cap_tolerance_m: float,
    support_max_gap_m: float,
    support_ring_px: int,
    min_view_down_deg: float,
    support_contact_m: float = 0.008,
    percentiles: tuple[float, float],
    min_points: int,
    near_fwd_values: np.ndarray | None = None,
    up_values: np.ndarray | None = None,
    point_pixels: np.ndarray | None = None,
    plane_tol_m: float = 0.005,
    max_mat_m: float = 0.01,
    footprint_margin_m: float = 0.005,
) -> SupportResult:
    """Gravity-aligned amodal box of one object (see module docstring).

    points: Nx3 float32, the cleaned (eroded, depth-filtered) points of the object.
    mask_crop, origin: the object's HxW bool mask on its crop and the crop's (row, column).
    fallback_center: (3,) the 'amodal' ray-push centre, used for the horizontal centre when the
        top is not in view.
    border_m: lateral size the erosion removed, added to the visible horizontal size.
    near_fwd_values: optional N forward coordinates of noise-smoothed points, for the nearest side.
    up_values: optional N heights of the noise-smoothed points, for the top: a high percentile of
        raw heights sits ~2 noise sigmas above a flat top, which on a 2 cm object is 20-50 %.
    """
    basis = gravity_basis(gravity.up)
    right, fwd, up = basis
    pts = points.astype(np.float64)
    hts = pts @ up
    lo_p, hi_p = percentiles
    top_ref = float(stats.percentile(up_values if up_values is not None else hts, hi_p))
    bottom_vis = float(stats.percentile(hts, lo_p))

    # Top surface from the uneroded mask: border pixels of the background fall out by height.
    k = frame.intrinsics
    depth = frame.depth[origin[0] : origin[0] + mask_crop.shape[0], origin[1] : origin[1] + mask_crop.shape[1]]
    vs, us = np.nonzero(mask_crop & np.isfinite(depth))
    full = _backproject(vs, us, depth[vs, us].astype(np.float64), origin, k)
    hf = full @ up
    cap = np.abs(hf - top_ref) <= cap_tolerance_m
    top = float(stats.median(hf[cap])) if np.count_nonzero(cap) >= 3 else top_ref
    if np.count_nonzero(cap) >= 3:  # once more about the cap's own median: symmetric about the top
        cap2 = np.abs(hf - top) <= cap_tolerance_m
        if np.count_nonzero(cap2) >= 3:
            cap, top = cap2, float(stats.median(hf[cap2]))
    level_img = _median_heights(depth, origin, k, up)  # noise-smoothed heights of the crop
    level = level_img[vs, us]
    if np.count_nonzero(cap) >= 3 and _hollow_share(mask_crop.shape, vs, us, cap, level, top, cap_tolerance_m) >= _HOLLOW:
        # An open top (a bowl's, a cup's rim around its hollow): the highest line is the rim's
        # crest, and the band about it holds the surfaces falling away on both sides, so its
        # median lies below the crest (by 2-5 mm on a bowl). The crest is the high percentile of
        # the noise-smoothed heights.
        top = max(top, top_ref)

    rays = full / full[:, 2:3]  # (x/z, y/z, 1) per pixel
    mean_dir = rays.mean(axis=0)
    mean_dir /= np.linalg.norm(mean_dir)
    view_down = float(-(mean_dir @ up))

    # The support (the contact decides below whether it stands there).
    bottom_full = float(stats.percentile(hf, lo_p)) if hf.size else bottom_vis
    lowest = min(bottom_vis, bottom_full)
    plane = gravity.plane_height
    # Its own support is the highest horizontal plane found under its foot (the floor under a
    # cabinet, though a table fills more of the view), not always the dominant one.
    under_foot = [h for h in getattr(gravity, 'levels', ()) if h <= lowest + support_contact_m]
    if under_foot:
        plane = max(under_foot)
    ring = None
    if plane is not None or gravity.source != 'prior':
        ring = _ring_points(frame, mask_crop, origin, support_ring_px) @ basis.T  # (right, fwd, height)
        local = _local_support(ring[:, 2], bottom_vis, top, support_max_gap_m, plane_tol_m)
        if local is not None and (plane is None or local > plane + support_max_gap_m):
            # It stands on something of its own (another object, a shelf, a night stand), not on
            # the frame's dominant plane: that surface, seen around its foot, is its support.
            plane = local
    contact = plane is not None and lowest - plane <= support_contact_m
    own = None
    if contact and point_pixels is not None:
        # The mask's fringe lying on the support (in front of, beside and behind the foot, where
        # no depth jump cuts it off) is the support, not the object: it would stretch the box.
        above = _above_support(depth, mask_crop, origin, k, up, float(plane), plane_tol_m)
        sel = above[point_pixels[:, 0], point_pixels[:, 1]]
        if np.count_nonzero(sel) >= max(min_points, len(pts) // 10):
            own = sel
    lat = (pts if own is None else pts[own]) @ np.stack([right, fwd], axis=1)
    # The sides come from the points whose depth agrees with their neighbours': a flying pixel's
    # (a mix of the object's depth and the background's, along the ray) does not.
    if point_pixels is not None:
        agree = depth_agrees(depth, point_pixels[:, 0], point_pixels[:, 1], pts[:, 2], _AGREE_JUMP_M)
        agree = agree if own is None else agree[own]
        if np.count_nonzero(agree) >= min_points:
            lat = lat[agree]
    lo, hi = stats.percentiles(lat, percentiles, axis=0)
    # A thin part reaching out (a tool's shaft, a handle: few points along its length) holds less
    # than the percentile's share of the points beyond its end: where the outermost points reach
    # farther past the percentile than the eroded border, they are a part, not noise.
    lo_x, hi_x = stats.percentiles(lat, (min(lo_p, _NEAR_PCT), max(hi_p, 100.0 - _NEAR_PCT)), axis=0)
    lo = np.where(lo - lo_x > border_m, lo_x, lo)
    hi = np.where(hi_x - hi > border_m, hi_x, hi)
    # The erosion took between nothing (where the extreme lies on a side seen edge-on) and
    # border_m (a side seen face-on) off the visible extent: take the middle.
    width = float(hi[0] - lo[0]) + border_m / 2.0
    cap_size = None
    if np.count_nonzero(cap) >= max(3, min_points // 2):
        # The top face from the uneroded mask (mixed border pixels fell out by height): its
        # extent is the object's horizontal size, where the eroded points plus a nominal border
        # over- or under-shoot by the side faces the camera sees obliquely. Its pixels' rays
        # meet the top's level where the face is, whatever the depth noise along them.
        c_lat = full[cap] @ np.stack([right, fwd], axis=1)
        # Pixels whose 3x3 median height is at the top's level: not the band of a surface that
        # rises behind the top's edge (a wall) whose noisy heights fall within the tolerance.
        flat = cap & (np.abs(level - top) <= cap_tolerance_m)
        if np.count_nonzero(flat) < 3:
            flat = cap
        on_level = _footprint_on_level(vs[flat], us[flat], origin, k, basis, top, full[flat])
        if on_level is not None:
            # less the outermost pixel of each side (its 4 corners): a stray one
            corners = np.sort(on_level, axis=0)
            c_lo, c_hi = corners[min(4, len(corners) - 1)], corners[max(len(corners) - 5, 0)]
        else:
            c_lo, c_hi = stats.percentiles(c_lat, percentiles, axis=0)
            pixel = float(np.median(full[cap, 2])) / math.sqrt(k.fx * k.fy)
            c_lo, c_hi = c_lo - pixel / 2.0, c_hi + pixel / 2.0
        cap_size = c_hi - c_lo
    if near_fwd_values is not None:
        near_fwd = float(stats.percentile(near_fwd_values if own is None else near_fwd_values[own],
                                          min(lo_p, _NEAR_PCT)))
    else:
        near_fwd = float(lo[1])
    cap_ok = np.count_nonzero(cap) >= max(3, min_points // 2)
    top_visible = view_down >= math.sin(math.radians(min_view_down_deg)) and cap_ok
    occluded = cap_ok and _cap_occluded(frame, mask_crop, origin, vs[cap], us[cap], full[cap, 2])
    box_lo = box_hi = None  # (right, fwd) of the horizontal box, where the top outlines it
    if top_visible and cap_size is not None:
        # The top's outline and the visible sides (a bottle's body, a mug's handle reach past
        # it; the top face's outermost pixels mix with the background behind them, so each
        # falls short by about a pixel): the box holds both. The near side is the nearest
        # visible point: the top's near edge borders the front face without a depth jump, and
        # the rays of the front face's upper pixels (within the cap's height tolerance) meet the
        # top's level in front of the object, by the tolerance over the tangent of the view's
        # depression.
        b = border_m / 4.0
        box_lo = np.minimum(c_lo, lo - b)
        box_hi = np.maximum(c_hi, hi + b)
        box_lo[1] = near_fwd
        width = float(box_hi[0] - box_lo[0])
        if cap_size[0] < _NARROW_TOP * width:
            # A top much narrower than the object (a bottle's neck) does not bound its back: the
            # body's far side may lie hidden behind it. A square or round body is as deep as it
            # is wide (as where the top is hidden, below), unless the support is seen there (a
            # flat tool lying across the view: the table right behind it is in view).
            far = near_fwd + width
            behind = 0
            if ring is not None and plane is not None:
                m = footprint_margin_m
                behind = int(np.count_nonzero((np.abs(ring[:, 2] - plane) <= plane_tol_m)
                                              & (ring[:, 0] > box_lo[0] + m) & (ring[:, 0] < box_hi[0] - m)
                                              & (ring[:, 1] > box_hi[1] + m) & (ring[:, 1] < far - m)))
            if behind < 5:
                box_hi[1] = max(float(box_hi[1]), far)
        horiz = right * float(box_lo[0] + box_hi[0]) / 2.0 + fwd * float(box_lo[1] + box_hi[1]) / 2.0
    elif top_visible:
        c = full[cap]
        wts = c[:, 2] ** 2 / np.maximum(np.abs(rays[cap] @ up), 1e-3)
        horiz = (c * wts[:, None]).sum(axis=0) / wts.sum()
    else:
        horiz = np.asarray(fallback_center, dtype=np.float64)
    if occluded or not top_visible:
        # Something in front hides part of the top (a gripper's palm), or the top is not in view:
        # the far edge is unknown. Along the horizontal viewing direction, a square or round
        # cross-section is as deep as it is wide, so the centre lies half the width behind the
        # nearest visible point; unless, with the top out of view, a wall seen right above it,
        # in line with it, stands nearer (a dresser against the wall is not as deep as wide).
        far = near_fwd + width
        wall = None
        if not top_visible:  # (what is seen above an occluded top may be what hides it)
            # (flying pixels between the object's top edge and the wall, mixes of both depths along
            # the ray, are not part of a surface)
            solid = None if ring is None else (
                _ring_points(frame, mask_crop, origin, support_ring_px, drop_flying=True) @ basis.T)
            wall = _wall_behind(solid, lo[0], hi[0], near_fwd, top, width, plane_tol_m, footprint_margin_m)
        if wall is not None:
            far = max(min(far, _far_against_wall(lat, wall, percentiles)), float(hi[1]))
        horiz = horiz + ((near_fwd + far) / 2.0 - horiz @ fwd) * fwd

    resting = False
    bottom = bottom_vis
    bottom_hidden = False
    foot_hidden = False
    if (plane is not None and lowest - plane > support_max_gap_m and hf.size and ring is not None
            and _local_support(ring[:, 2], lowest, top, support_contact_m, plane_tol_m, of_window=True) is None):
        # No surface is seen at its foot, and its lowest visible part borders something nearer
        # that rises well above it (a bed in front of a dresser): the gap under it is not seen,
        # so it may well stand on the support below.
        foot = hf <= lowest + max(plane_tol_m, 0.05 * (top - lowest))
        foot_hidden = _foot_occluded(frame, mask_crop, origin, vs[foot], us[foot], full[foot], up,
                                     lowest + support_max_gap_m)
    if plane is not None and (lowest - plane <= support_max_gap_m or foot_hidden):
        on_plane = np.abs(ring[:, 2] - plane) <= plane_tol_m
        # Its lowest visible points reach the plane (the foot, or the mask's fringe on the plane
        # around it: a hanging object's fringe is cut off by the depth jump to the plane behind
        # it): it stands there. Otherwise free space under the object, the plane seen inside the
        # object's footprint (through the gap between its bottom and the plane), means it hangs
        # in the air; else gravity says it rests there (a bottom hidden by the view or by
        # something in front of it).
        if contact:
            under = np.zeros(len(ring), bool)
        elif top_visible and not occluded and cap_size is not None:
            # The whole top is in view: its outline is the footprint of a box, a cylinder, a bowl
            # (the plane seen beside a round foot lies outside it, unlike in a bounding square).
            under = on_plane & _inside_convex(ring[:, :2], c_lat, footprint_margin_m)
        else:
            half_w = width / 2.0 - footprint_margin_m
            fp_fwd0 = near_fwd + footprint_margin_m
            fp_fwd1 = near_fwd + width - footprint_margin_m
            c_right = float(horiz @ right)
            under = (on_plane & (np.abs(ring[:, 0] - c_right) < half_w) & (ring[:, 1] > fp_fwd0)
                     & (ring[:, 1] < fp_fwd1))
        if np.count_nonzero(under) < 5:
            resting = True
            support = float(plane)
            # A thin object lying on the plane under this one (a mat, a marker) raises the support.
            mats = ring[(ring[:, 2] > plane + plane_tol_m) & (ring[:, 2] <= plane + max_mat_m)
                        & (ring[:, 2] <= lowest + 0.003), 2]
            if mats.size >= 10:
                support = float(stats.percentile(mats, 75))
            # Its bottom is the support: visible points below it by less than the contact band
            # are depth noise and the fringe on the plane; more than that, and it reaches lower.
            bottom = support if bottom_vis >= support - support_contact_m else bottom_vis
            # Neither the plane nor a mat is seen under it, and its lowest visible point is above
            # both: its lower part is hidden.
            bottom_hidden = mats.size < 10 and lowest - plane > max_mat_m
            if bottom_hidden and top - lowest < width and top - width > bottom:
                # Neither the support nor the object's lower edge is seen: something in front
                # (a wider disc it stands in or on) hides its lower part, and resting on the
                # plane is a guess that can make it taller than it is wide with less than one
                # width of it in view. A compact object is about as tall as it is wide (as it is
                # as deep as wide, above): its bottom is one width below its top, where that
                # is above the plane.
                bottom = top - width
    if not resting:
        # The erosion removed ~border/2 of the lowest visible side; on a vertical side seen from
        # a depression angle d one pixel spans z / (f cos d) of height.
        cos_d = math.sqrt(max(1.0 - view_down**2, 0.25))
        bottom = bottom_vis - border_m / 2.0 / cos_d
    height = max(top - bottom, 0.0)
    center = horiz - (horiz @ up) * up + up * (top + bottom) / 2.0

    depth_size = float(hi[1] - lo[1]) + border_m / 2.0
    if box_lo is not None and not occluded:
        depth_size = float(box_hi[1] - box_lo[1])
    if occluded or not top_visible:  # the back is hidden: at least twice the centre's distance behind the near side
        depth_size = max(depth_size, 2.0 * float(center @ fwd - lo[1]))
    size = np.array([width, depth_size, height])
    extent = np.abs(basis.T) @ size  # camera-axis bounding box of the gravity-aligned box
    visible = float(np.clip((top - lowest) / height, 1e-3, 1.0)) if bottom_hidden and height > 0 else 1.0
    return SupportResult(center=center, extent=extent, size=size, resting=resting, top_visible=bool(top_visible),
                         visible=visible)


@register_center_mode('support', SupportConfig)
def support(cloud: Cloud, config: LiftConfig) -> Estimate:
    """Gravity-aligned box resting on the support plane (:func:`support_box`): float64 (3,)
    centre, camera-axis extent and gravity-aligned size in metres, and the share in view;
    'amodal' without a measured up direction."""
    fallback = amodal(cloud, config)
    if not cloud.gravity_known:
        return fallback
    opts: SupportConfig = config.modes['support']
    fwd = gravity_basis(cloud.gravity.up)[1]
    res = support_box(
        cloud.points, cloud.mask_crop, cloud.origin, cloud.frame, cloud.gravity, fallback.center, cloud.border_m,
        cap_tolerance_m=opts.cap_tolerance_m, support_max_gap_m=opts.support_max_gap_m,
        support_ring_px=opts.support_ring_px, min_view_down_deg=opts.min_view_down_deg,
        support_contact_m=opts.support_contact_m,
        percentiles=config.extent_percentiles, min_points=config.min_points,
        near_fwd_values=cloud.smoothed_along(fwd, config.near_smooth_px),
        up_values=cloud.smoothed_along(cloud.gravity.up, config.near_smooth_px),
        point_pixels=cloud.pixels,
    )
    return Estimate(res.center, res.extent, res.size[[0, 2, 1]], res.visible)  # (w, d, h) -> (w, h, d)
