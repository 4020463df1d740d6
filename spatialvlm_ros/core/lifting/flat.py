"""'flat' centre mode: flat objects (discs, markers, sheets), completed under occluders.

'amodal' assumes a compact object; for a flat object seen face-on (a plate, a sheet of paper) it
pushes by half the object's width, so use 'flat' for such objects. A plane is fitted to the
visible points, the mask is filled to its convex hull (an object resting on the marker hides part
of it), every filled pixel's ray is intersected with that plane, and the area-weighted mean of
the intersections is the centre: a pixel's footprint on the plane is z^2 / (fx fy |n . d|) for
the ray d = (x/z, y/z, 1), so near pixels do not outweigh far ones.

A round object's centre comes from its rim instead when enough of the rim is in view: an occluder
in front (an arm over a target disc) cuts the outline with an edge that is not the rim, and the
convex fill then misses the hidden part. Outline pixels whose outside neighbours are nearer than
the plane (:mod:`.occlusion`'s test) or that lie on the image border are such cuts; the rest,
intersected with the plane, are fitted with a circle (RANSAC, then algebraic least squares). The
circle is used when it fits (inliers within 2 % of the outline's size) and the rim arc in view
spans at least 135 degrees, or a shorter arc (45-135 degrees) where what is seen of the disc
covers at most half of the fitted circle (its own centre is then >= 0.42 r off), lies inside it,
and the arc bows clearly (a straight cut fits a circle of any large radius). A square marker or
a badly cut outline keeps the filled-area centre.

On the Fetch scene (bench/spatial_core.py): the block placed on the 10 cm target disc leaves the
disc centre ~2 cm off with 'centroid' (the visible ring is mostly the near half) and a few mm
with the fill; seed 1's raised disc behind the arm (60-90 degrees of rim in view) 3.5-4.3 ->
0.3-1.4 cm with the short-arc circle.

``visible`` in the result is the share of the object in view: the mask's area on the plane over
the completed object's (the fitted disc, else the filled hull), and, without a circle, at most
the share of the outline that is the object's own edge (the rest is cut by occluders or the
image border, behind which the object's extent is unknown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import cv2
import numpy as np

from ..stats import percentiles as _percentiles
from ..types import Intrinsics
from ..vec3 import cross3
from .base import Estimate, register_center_mode
from .centroid import centroid
from .cloud import Cloud, LiftConfig, strided

__all__ = ['FlatConfig', 'FlatResult', 'flat', 'flat_surface']

# Outline pixels with something this much nearer just outside them are occluder cuts, not rim.
_OCCLUDER_STEP_M = 0.01
# A circle needs this many rim pixels among its inliers.
_MIN_RIM_PIXELS = 20
# Circle from a short rim arc (under 135 degrees in view): at least this arc, at most this share
# of the fitted disc's area in view, and an arc that bows by this many fit tolerances.
_SHORT_ARC_MIN_RAD = math.radians(45.0)
_SHORT_ARC_MAX_COVERAGE = 0.5
_SHORT_ARC_MIN_SAGITTA_TOL = 2.0


class FlatResult(NamedTuple):
    """What :func:`flat_surface` found (float64 metres, optical frame)."""

    center: np.ndarray  # (3,)
    extent: np.ndarray  # (3,) axis-aligned box of the completed surface
    visible: float  # share of the object in view, (0, 1]


def _convex_fill(mask: np.ndarray) -> np.ndarray:
    """The convex hull of the mask, filled: restores the parts of a convex flat object hidden by
    whatever rests on it, whether the occluder leaves a closed ring or cuts the outline."""
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros_like(m)
    if contours:
        cv2.fillConvexPoly(out, cv2.convexHull(np.concatenate(contours)), 1)
    return out.astype(bool) | mask


def flat_surface(
    points: np.ndarray,
    mask_crop: np.ndarray,
    depth_crop: np.ndarray,
    origin: tuple[int, int],
    intrinsics: Intrinsics,
    frame_shape: Optional[tuple[int, int]],
    *,
    min_depth_m: float,
    max_depth_m: float,
    min_points: int,
    percentiles: tuple[float, float],
) -> Optional[FlatResult]:
    """Centre of a flat object, also when something lies on it or hides part of its rim.

    points: Nx3 float (a strided sample of) the object's cleaned points, for the plane fit.
    mask_crop, depth_crop: HxW bool mask (uneroded) and float32 depth (metres, NaN = invalid) of
        the object's crop, whose top-left pixel is ``origin`` (row, column) in the image.
    frame_shape: (H, W) of the image (outline pixels on its border are not rim), or None.
    Returns None when the plane is seen edge-on (fewer than ``min_points`` filled pixels meet it
    in [min_depth_m, max_depth_m]): the caller falls back to the points.
    """
    pts = points.astype(np.float64)
    mean = pts.mean(axis=0)
    normal = np.linalg.svd(pts - mean, full_matrices=False)[2][2]
    k = intrinsics
    vs, us = np.nonzero(_convex_fill(mask_crop))
    rays = np.stack([(us + origin[1] - k.cx) / k.fx, (vs + origin[0] - k.cy) / k.fy, np.ones(us.size)], axis=1)
    nd = rays @ normal
    with np.errstate(divide='ignore', invalid='ignore'):
        t = float(normal @ mean) / nd
    ok = np.isfinite(t) & (t > min_depth_m) & (t < max_depth_m) & (np.abs(nd) > 1e-3)
    if np.count_nonzero(ok) < min_points:
        return None
    on_plane = rays[ok] * t[ok, None]
    weights = t[ok] ** 2 / np.abs(nd[ok])
    centre = (on_plane * weights[:, None]).sum(axis=0) / weights.sum()
    lo, hi = _percentiles(on_plane, percentiles, axis=0)
    fxy = k.fx * k.fy
    filled_area = float(weights.sum()) / fxy
    seen_area = float(weights[mask_crop[vs[ok], us[ok]]].sum()) / fxy
    circle, rim_share = _rim_circle(mask_crop, depth_crop, origin, k, frame_shape, normal, mean, on_plane, seen_area)
    if circle is not None:
        centre, radius = circle
        visible = seen_area / (math.pi * radius * radius)
    else:
        visible = min(seen_area / filled_area, rim_share)
    return FlatResult(centre, (hi - lo).astype(np.float64), float(np.clip(visible, 1e-3, 1.0)))


def _rim_circle(mask_crop, depth_crop, origin, k, frame_shape, normal, on_plane, filled, seen_area):
    """((centre (3,), radius) or None, share of the outline that is rim) of a round flat object
    (see the module docstring). filled: the filled region's points on the plane (Mx3)."""
    mask = mask_crop.astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None, 0.0
    rim = np.concatenate(contours)[:, 0, :]  # (u, v) in the crop
    # Nearest outside depth around each outline pixel (5x5), NaN/inside -> +inf.
    outside = np.where(mask.astype(bool) | ~np.isfinite(depth_crop), np.inf, depth_crop).astype(np.float32)
    near_outside = cv2.erode(outside, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=np.inf)
    us, vs = rim[:, 0], rim[:, 1]
    rays = np.stack([(us + origin[1] - k.cx) / k.fx, (vs + origin[0] - k.cy) / k.fy, np.ones(us.size)], axis=1)
    nd = rays @ normal
    with np.errstate(divide='ignore', invalid='ignore'):
        t = float(normal @ on_plane) / nd
    occluded = near_outside[vs, us] < t - _OCCLUDER_STEP_M
    # The image border cuts the outline too: those pixels are where the view ends, not the rim.
    at_edge = np.zeros(us.size, dtype=bool)
    if frame_shape is not None:
        h, w = frame_shape
        gu, gv = us + origin[1], vs + origin[0]
        at_edge = (gu <= 0) | (gv <= 0) | (gu >= w - 1) | (gv >= h - 1)
    ok = np.isfinite(t) & (t > 0) & ~occluded & ~at_edge
    rim_share = float(np.count_nonzero(ok)) / max(us.size, 1)
    if np.count_nonzero(ok) < _MIN_RIM_PIXELS:
        return None, rim_share
    pts = rays[ok] * t[ok, None]
    e1 = cross3(normal, (1.0, 0.0, 0.0) if abs(normal[0]) < 0.9 else (0.0, 1.0, 0.0))
    e1 /= np.linalg.norm(e1)
    e2 = cross3(normal, e1)
    xy = np.stack([(pts - on_plane) @ e1, (pts - on_plane) @ e2], axis=1)
    tol = max(0.002, 0.02 * float(np.ptp(xy, axis=0).max()))
    fit = _ransac_circle(xy, tol=tol)
    if fit is None:
        return None, rim_share
    cx, cy, r, inliers = fit
    if inliers.sum() < _MIN_RIM_PIXELS:
        return None, rim_share
    angles = np.sort(np.arctan2(xy[inliers, 1] - cy, xy[inliers, 0] - cx))
    largest_gap = np.max(np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])))
    if largest_gap > 1.25 * np.pi and not _short_arc_ok(2 * np.pi - largest_gap, cx, cy, r, tol, filled,
                                                        seen_area, on_plane, e1, e2):
        return None, rim_share
    return (on_plane + cx * e1 + cy * e2, r), rim_share


def _short_arc_ok(arc: float, cx: float, cy: float, r: float, tol: float, filled: np.ndarray,
                  seen_area: float, on_plane: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> bool:
    """Whether a circle fitted to a rim arc of ``arc`` radians (< 135 degrees) places the disc
    better than the filled region (see the module docstring)."""
    if len(filled) == 0 or arc < _SHORT_ARC_MIN_RAD:
        return False
    if r * (1.0 - math.cos(arc / 2.0)) < _SHORT_ARC_MIN_SAGITTA_TOL * tol:
        return False
    if seen_area > _SHORT_ARC_MAX_COVERAGE * math.pi * r * r:
        return False
    rel = filled - on_plane
    outside = np.hypot(rel @ e1 - cx, rel @ e2 - cy) > r + tol
    return np.count_nonzero(outside) <= 0.02 * len(filled)


def _fit_circle(xy: np.ndarray) -> Optional[tuple[float, float, float]]:
    """Algebraic least-squares circle (cx, cy, r) through Nx2 points."""
    a = np.column_stack([xy, np.ones(len(xy))])
    sol, *_ = np.linalg.lstsq(a, (xy**2).sum(axis=1), rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + cx * cx + cy * cy
    return (float(cx), float(cy), math.sqrt(r2)) if r2 > 0 else None


def _ransac_circle(xy: np.ndarray, tol: float, iterations: int = 128):
    """Robust circle: 3-point hypotheses (fixed seed: the same frame gives the same answer),
    best inlier count, refined on its inliers. Returns (cx, cy, r, inlier mask) or None."""
    n = len(xy)
    if n < 3:
        return None
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, size=(iterations, 3))
    p1, p2, p3 = xy[idx[:, 0]], xy[idx[:, 1]], xy[idx[:, 2]]
    # Circumcentre of each triple (vectorised); degenerate (collinear) triples are skipped.
    d = 2 * (p1[:, 0] * (p2[:, 1] - p3[:, 1]) + p2[:, 0] * (p3[:, 1] - p1[:, 1]) + p3[:, 0] * (p1[:, 1] - p2[:, 1]))
    good = np.abs(d) > 1e-12
    if not good.any():
        return None
    s1, s2, s3 = (p1**2).sum(1), (p2**2).sum(1), (p3**2).sum(1)
    with np.errstate(divide='ignore', invalid='ignore'):
        ux = (s1 * (p2[:, 1] - p3[:, 1]) + s2 * (p3[:, 1] - p1[:, 1]) + s3 * (p1[:, 1] - p2[:, 1])) / d
        uy = (s1 * (p3[:, 0] - p2[:, 0]) + s2 * (p1[:, 0] - p3[:, 0]) + s3 * (p2[:, 0] - p1[:, 0])) / d
        r = np.hypot(p1[:, 0] - ux, p1[:, 1] - uy)
        dist = np.abs(np.hypot(xy[None, :, 0] - ux[:, None], xy[None, :, 1] - uy[:, None]) - r[:, None])
    counts = np.where(good, (dist < tol).sum(axis=1), -1)
    best = int(np.argmax(counts))
    inliers = dist[best] < tol
    refined = _fit_circle(xy[inliers]) if inliers.sum() >= 3 else None
    if refined is None:
        return None
    cx, cy, rr = refined
    inliers = np.abs(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) - rr) < tol
    return cx, cy, rr, inliers


@dataclass(frozen=True)
class FlatConfig:
    """'flat' has no options of its own: it uses LiftConfig's depth range, ``min_points`` and
    ``extent_percentiles``; its thresholds are the module constants above."""


@register_center_mode('flat', FlatConfig)
def flat(cloud: Cloud, config: LiftConfig) -> Estimate:
    """Plane-completed centre of a flat object (:func:`flat_surface`); the centroid when the plane
    is seen edge-on. Float64 (3,) centre and extent in metres, and the share in view."""
    res = flat_surface(
        strided(cloud.points, config.stats_max_points), cloud.mask_crop, cloud.depth_crop, cloud.origin,
        cloud.intrinsics, cloud.frame.shape if cloud.frame is not None else None,
        min_depth_m=config.min_depth_m, max_depth_m=config.max_depth_m, min_points=config.min_points,
        percentiles=config.extent_percentiles,
    )
    if res is None:
        return centroid(cloud, config)
    return Estimate(res.center, res.extent, visible=res.visible)
