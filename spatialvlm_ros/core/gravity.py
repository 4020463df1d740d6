"""Gravity-aligned frame: which way is up in the camera's optical frame, and the support plane.

SpatialVLM canonicalises every point cloud to a gravity-aligned frame by segmenting a horizontal
surface (floor or table). :func:`estimate_gravity` does the same, in this order of preference:

1. ``base_rotation`` given (camera-to-base rotation, e.g. from TF or a parameter): up is the base's
   +z axis expressed in the optical frame (REP 103: base z up). Source ``'given'``, confidence 1.
   The dominant plane whose normal is within ``given_plane_tol_deg`` of it is still searched, only
   to report the support height.
2. Otherwise the large planes of the depth (sequential RANSAC, up to ``max_planes``, the inlier
   threshold growing with z^2 as depth noise does) vote for up. A plane is a candidate support
   (floor, table) when its normal lies within ``max_tilt_deg`` of ``prior_up`` (default: the
   image's "up", -y) and the camera roll it implies is at most ``max_roll_deg`` (hand-held and
   robot cameras are held upright; a side wall implies a roll of ~90 deg). Each candidate up is
   scored by the points of every plane it explains: horizontal planes (floor, table, furniture
   tops, ceiling) parallel to it and walls perpendicular to it (Manhattan structure); the best
   explained hypothesis wins. Its up is then fitted by least squares on a denser sample
   (``refine_points``) to the horizontal planes level with the reference level (the lowest
   well-fitted one, a floor or table rather than a duvet; within ``level_tol_deg``), each keeping
   its own height, and to the walls (within ``wall_tol_deg`` of vertical), each asking up to lie in
   it; every plane weighted by what its points tell (their spread over their residual, each point
   by its depth noise), so a small, far or bumpy plane counts for less. Source ``'plane'``; confidence = the share of the view
   the hypothesis explains (saturating at ``full_confidence_share``), scaled down by the support
   of the best rival hypothesis more than ``rival_deg`` away (an ambiguous up says so) and when
   only one small plane holds it. The support height is that of the largest horizontal plane
   below the camera.
   A static camera's up is then averaged over its recent frames that agree (:mod:`.up_window`,
   in :class:`~spatialvlm_ros.core.pipeline.SpatialPipeline`).
3. Neither: up = ``prior_up`` with source ``'prior'`` and confidence 0 (an explicit assumption, so
   a reader can tell; facts keep working as they did with the camera's y axis).

RANSAC is vectorised numpy on a pixel grid subsampled to ``max_points`` (a 640x480 frame costs a
few ms), with a fixed ``seed``: the same frame gives the same plane. The winning hypothesis is
refined by a least-squares fit to its inliers. Heights along ``up`` are measured from the optical
centre (``height = p . up``), so the plane's height is negative when the camera looks down on it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .options import check_int, check_number
from .errors import SpatialError
from .types import Frame
from .vec3 import cross3
from .stats import median

__all__ = ['GravityConfig', 'Gravity', 'estimate_gravity', 'up_from_rotation', 'gravity_basis', 'fit_plane_ransac',
           'tilt_of', 'UNCERTAIN_BELOW']

logger = logging.getLogger(__name__)

# An up whose confidence is below this is reported as uncertain (the share of the view a rival
# explains is then comparable to its own, or one small plane holds it, or it is assumed).
UNCERTAIN_BELOW = 0.5


@dataclass(frozen=True)
class GravityConfig:
    """Options of :func:`estimate_gravity`. Lengths in metres, angles in degrees."""

    # Expected up direction in the optical frame when nothing else is known (image up = -y).
    prior_up: tuple[float, float, float] = (0.0, -1.0, 0.0)
    # Plane normals farther than this from prior_up are not candidates (rejects walls).
    max_tilt_deg: float = 80.0
    # Largest camera roll a candidate up may imply (degrees about the optical axis, from the plane
    # of prior_up and the optical axis): rejects side walls of a camera looking steeply down.
    max_roll_deg: float = 35.0
    # Planes extracted one after the other (each from the points the previous ones left).
    max_planes: int = 5
    # A plane counts as horizontal / vertical for a hypothesis within this angle (degrees).
    manhattan_tol_deg: float = 4.0
    # Horizontal planes this close to the reference level (the lowest well-fitted one) are refined
    # with it (floors and tables are level; one further off is a slope, a duvet or a plane fitted
    # across two surfaces); walls within wall_tol_deg of vertical hold up too.
    level_tol_deg: float = 2.0
    wall_tol_deg: float = 8.0
    # Valid pixels sampled on a regular grid for the final fit of up (on the chosen planes only).
    refine_points: int = 6000
    # A rival hypothesis differs from the winner by more than this (degrees).
    rival_deg: float = 5.0
    # Share of the sampled view a hypothesis must explain for confidence 1.
    full_confidence_share: float = 0.5
    # Depth at which the inlier threshold starts growing with z^2 (metres).
    noise_ref_depth_m: float = 2.0
    # With a given rotation, planes whose normal is within this of the given up give the support height.
    given_plane_tol_deg: float = 5.0
    # A pixel is an inlier when its distance to the plane is below this (sensor noise + flatness).
    inlier_threshold_m: float = 0.01
    # RANSAC hypotheses (three points each), drawn at once.
    iterations: int = 128
    # Valid pixels sampled on a regular grid for the search (the cost is iterations x max_points).
    max_points: int = 1500
    # Fewer valid sampled pixels than this, or a best plane holding fewer inliers than
    # min_inlier_ratio of them -> no plane.
    min_points: int = 200
    min_inlier_ratio: float = 0.05
    # Depth beyond this is ignored for the plane search (far readings are the noisiest).
    max_depth_m: float = 6.0
    # Random generator seed: the same frame always gives the same plane.
    seed: int = 0
    # A static camera's up (core.up_window): the mean of the per-frame ups of up to this many
    # recent frames (this one included; 1: every frame its own) that agree with this frame's
    # within window_deg, each at most window_gap_s (seconds of header time) before the next.
    window_frames: int = 5
    window_deg: float = 1.0
    window_gap_s: float = 0.5

    def __post_init__(self) -> None:
        up = np.asarray(self.prior_up, dtype=np.float64)
        if up.shape != (3,) or not np.all(np.isfinite(up)) or np.linalg.norm(up) < 1e-9:
            raise SpatialError(f'GravityConfig.prior_up: expected a finite non-zero 3-vector, got {self.prior_up!r}')
        for name, lo, hi in (('max_tilt_deg', 0.0, 90.0), ('given_plane_tol_deg', 0.0, 90.0),
                             ('min_inlier_ratio', 0.0, 1.0), ('max_roll_deg', 0.0, 90.0),
                             ('manhattan_tol_deg', 0.0, 45.0), ('rival_deg', 0.0, 90.0),
                             ('full_confidence_share', 0.0, 1.0), ('level_tol_deg', 0.0, 45.0), ('wall_tol_deg', 0.0, 45.0),
                             ('window_deg', 0.0, 90.0)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not lo < v <= hi:
                raise SpatialError(f'GravityConfig.{name}: expected a number in ({lo}, {hi}], got {v!r}')
        for name in ('inlier_threshold_m', 'max_depth_m', 'noise_ref_depth_m', 'window_gap_s'):
            check_number(self, name)
        for name, lo in (('iterations', 1), ('max_points', 10), ('min_points', 3), ('seed', 0), ('max_planes', 1),
                         ('refine_points', 10), ('window_frames', 1)):
            check_int(self, name, lo)


@dataclass(frozen=True)
class Gravity:
    """Up direction in the optical frame and how it was obtained.

    up: (3,) float64 unit vector, optical frame.
    source: 'given' (a camera-to-base rotation), 'plane' (RANSAC on the depth) or 'prior'
        (assumed: ``GravityConfig.prior_up``; confidence 0).
    confidence: in [0, 1]; 1 for 'given', for 'plane' the share of the view the up explains, lowered
        by a rival hypothesis and by thin evidence (see the module docstring); 0 for 'prior'.
    planes: number of planes that support the up (horizontal + vertical); 0 unless 'plane'.
    rival_share: share of the view explained by the best rival up (0 when none).
    plane_height: height of the dominant horizontal plane along ``up`` from the optical centre
        (metres, negative below the camera), or None when no plane was found.
    levels: heights (metres, ascending, same origin) of every horizontal plane found below the
        camera (the floor, a table, a bed): an object's own support is the highest of them under
        its foot, not always the dominant one; empty when no plane was found.
    inlier_ratio: plane inliers / sampled valid pixels (0 when no plane).
    tilt_deg: angle between ``up`` and the optical frame's -y axis (how far the camera looks down).
    averaged_frames: how many frames' estimates ``up`` is the mean of (:mod:`.up_window`; 1: this
        frame's own).
    """

    up: np.ndarray
    source: str
    confidence: float
    plane_height: Optional[float] = None
    inlier_ratio: float = 0.0
    plane_rms_m: Optional[float] = None
    tilt_deg: float = 0.0
    planes: int = 0
    rival_share: float = 0.0
    levels: tuple = ()
    averaged_frames: int = 1

    @property
    def uncertain(self) -> bool:
        """Whether this up is too unsure to lean on (confidence below :data:`UNCERTAIN_BELOW`):
        diagnostics and summaries report such frames."""
        return self.confidence < UNCERTAIN_BELOW

    def to_dict(self) -> dict:
        return {
            'source': self.source,
            'up': [float(v) for v in self.up],
            'confidence': float(self.confidence),
            'plane_height_m': None if self.plane_height is None else float(self.plane_height),
            'inlier_ratio': float(self.inlier_ratio),
            'plane_rms_m': None if self.plane_rms_m is None else float(self.plane_rms_m),
            'tilt_deg': float(self.tilt_deg),
            'planes': int(self.planes),
            'rival_share': float(self.rival_share),
            'averaged_frames': int(self.averaged_frames),
        }


def tilt_of(up: np.ndarray) -> float:
    """Degrees between ``up`` (unit, optical frame) and the optical -y axis."""
    return math.degrees(math.acos(float(np.clip(-up[1], -1.0, 1.0))))


def up_from_rotation(base_rotation) -> np.ndarray:
    """Base +z (up, REP 103) in the optical frame, from the 3x3 rotation ``p_base = R @ p_optical``."""
    r = np.asarray(base_rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.all(np.isfinite(r)):
        raise SpatialError(f'camera-to-base rotation: expected a finite 3x3 matrix, got shape {r.shape}')
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-3) or np.linalg.det(r) < 0:
        raise SpatialError(
            'camera-to-base rotation is not a rotation (R R^T != I or det < 0); give the 3x3 rotation part of '
            'the base_link <- camera optical frame transform, row-major'
        )
    up = r[2, :]  # R^T @ (0, 0, 1)
    return up / np.linalg.norm(up)


def gravity_basis(up: np.ndarray) -> np.ndarray:
    """3x3 float64 with rows (right, forward, up) in the optical frame, right-handed.

    right: the camera's x axis made horizontal; forward: horizontal, away from the camera;
    so left/right, in front/behind and above/below are read along these rows.
    """
    up = np.asarray(up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    x = np.array([1.0, 0.0, 0.0])
    right = x - (x @ up) * up
    if np.linalg.norm(right) < 1e-6:  # camera rolled by 90 deg: use its y axis instead
        y = np.array([0.0, 1.0, 0.0])
        right = y - (y @ up) * up
    right /= np.linalg.norm(right)
    forward = cross3(up, right)
    return np.stack([right, forward, up])


def _grid_points(frame: Frame, max_points: int, max_depth_m: float) -> np.ndarray:
    """Valid depth pixels on a regular grid, back-projected: Mx3 float64 (M <= ~max_points)."""
    # The valid count only sets the grid step: a 1/16 sample estimates it well enough.
    n_valid = 16 * int(np.count_nonzero(np.isfinite(frame.depth[::4, ::4])))
    step = max(1, int(math.sqrt(max(n_valid, 1) / max_points)))
    z = frame.depth[::step, ::step].astype(np.float64)
    vs, us = np.nonzero(np.isfinite(z) & (z <= max_depth_m))
    z = z[vs, us]
    k = frame.intrinsics
    return np.stack([(us * step - k.cx) * z / k.fx, (vs * step - k.cy) * z / k.fy, z], axis=1)


def fit_plane_ransac(
    points: np.ndarray,
    threshold: float,
    iterations: int,
    rng: np.random.Generator,
    axis: Optional[np.ndarray] = None,
    max_angle_deg: float = 90.0,
) -> Optional[tuple[np.ndarray, float, np.ndarray]]:
    """Dominant plane ``n . p = d`` of Nx3 ``points`` (float64).

    threshold: inlier distance, a scalar or (N,) per point (noise growing with depth).
    axis, max_angle_deg: only normals within this angle of ``axis`` (either sign) are candidates.
    Returns (unit normal (3,), d, bool inlier mask (N,)) after a least-squares refit on the
    inliers, with the normal oriented towards the optical centre (d < 0), or None.
    """
    n_pts = len(points)
    if n_pts < 3:
        return None
    idx = rng.integers(0, n_pts, size=(iterations, 3))
    p0, p1, p2 = points[idx[:, 0]], points[idx[:, 1]], points[idx[:, 2]]
    normals = np.cross(p1 - p0, p2 - p0)
    norm = np.linalg.norm(normals, axis=1)
    ok = norm > 1e-12
    normals[ok] /= norm[ok, None]
    if axis is not None:
        cos_min = math.cos(math.radians(max_angle_deg))
        ok &= np.abs(normals @ axis) >= cos_min
    if not ok.any():
        return None
    normals, p0 = normals[ok], p0[ok]
    d = np.einsum('ij,ij->i', normals, p0)
    # Preemptive scoring: every hypothesis on a fixed subset, the best few on all points. The
    # dominant plane wins the subset count too (it holds the most points), at a fraction of the
    # N x K residuals; float32 is ample for centimetre thresholds.
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n_pts,))
    thr32 = thr.astype(np.float32)[:, None]
    pts32 = points.astype(np.float32)
    step = max(1, n_pts // 300)
    sub = pts32[::step]
    res = np.abs(sub @ normals.T.astype(np.float32) - d.astype(np.float32))
    counts = (res < thr32[::step]).sum(axis=0)
    top = np.argsort(-counts, kind='stable')[:8]
    res = np.abs(pts32 @ normals[top].T.astype(np.float32) - d[top].astype(np.float32))
    best = int(top[int(np.argmax((res < thr32).sum(axis=0)))])
    threshold = thr
    inl = np.abs(points @ normals[best] - d[best]) < threshold
    for _ in range(2):  # least-squares refit, then recount with the refined plane
        sel = points[inl]
        if len(sel) < 3:
            return None
        mean = sel.mean(axis=0)
        normal = np.linalg.svd(sel - mean, full_matrices=False)[2][2]
        dd = float(normal @ mean)
        inl = np.abs(points @ normal - dd) < threshold
    if dd > 0:
        normal, dd = -normal, -dd
    return normal, dd, inl


def _roll_axis(prior: np.ndarray) -> Optional[np.ndarray]:
    """Unit axis whose component of up is the camera roll's sine: perpendicular to ``prior`` and the
    optical axis (None when the prior is the optical axis itself, a camera looking straight down)."""
    x = np.cross(prior, np.array([0.0, 0.0, 1.0]))
    n = float(np.linalg.norm(x))
    return None if n < 1e-6 else x / n


def _extract_planes(pts: np.ndarray, config: GravityConfig) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Up to ``max_planes`` planes (unit normal towards the camera, d, inlier indices into ``pts``),
    each found by RANSAC among the points the previous ones left, largest first."""
    rng = np.random.default_rng(config.seed)
    z = pts[:, 2]
    thr = config.inlier_threshold_m * np.maximum(1.0, (z / config.noise_ref_depth_m) ** 2)
    remaining = np.arange(len(pts))
    planes = []
    min_count = max(3, int(math.ceil(config.min_inlier_ratio * len(pts))))
    for _ in range(config.max_planes):
        if len(remaining) < max(min_count, 3):
            break
        fit = fit_plane_ransac(pts[remaining], thr[remaining], config.iterations, rng)
        if fit is None:
            break
        normal, d, inl = fit
        if int(np.count_nonzero(inl)) < min_count:
            break
        planes.append((normal, float(d), remaining[inl]))
        remaining = remaining[~inl]
    return planes


# A horizontal plane may be the reference level when its normal is fixed at least this well
# against the best-fixed one (a sliver of far floor is not).
_WELL_FIXED = 0.25


def _plane_information(dense: np.ndarray, planes: list, config: GravityConfig) -> list:
    """Per plane ((normal, d) each) what its points tell about its orientation: (3x3 scatter of the
    Nx3 ``dense`` points within the inlier threshold of it about their mean, divided by their
    residual variance), or None with fewer than 10 points. Points are weighted by 1 / their depth
    noise variance (growing with z^2); dividing by the plane's own residual variance makes a bumpy
    surface (a duvet, a cluttered top) count for less than a flat one (a floor) of the same size.
    The information of the plane's normal along a direction a in it is a^T S a."""
    if not planes:
        return []
    sigma = np.maximum(1.0, (dense[:, 2] * (1.0 / config.noise_ref_depth_m)) ** 2)  # depth noise / its floor
    thr = config.inlier_threshold_m * sigma
    w_all = 1.0 / (sigma * sigma)
    normals = np.array([p[0] for p in planes])
    offsets = np.array([p[1] for p in planes])
    near = np.abs(dense @ normals.T - offsets) < thr[:, None]
    out = []
    for j in range(len(planes)):
        sel = np.flatnonzero(near[:, j])
        if len(sel) < 10:
            out.append(None)
            continue
        q, w = dense[sel], w_all[sel]
        # einsum, not BLAS: a threaded BLAS sums in an order that depends on its threads, and the
        # same frame must give the same up to the last bit in any process (pool workers, nodes)
        q = q - np.einsum('n,ni->i', w, q) / w.sum()
        scatter = np.einsum('n,ni,nj->ij', w, q, q)
        residual_var = max(float(np.linalg.eigvalsh(scatter)[0]) / float(w.sum()), 1e-12)
        out.append(scatter / residual_var)
    return out


def _refine_up(u: np.ndarray, normals: np.ndarray, info: list, heights: np.ndarray,
               config: GravityConfig) -> np.ndarray:
    """The up that the horizontal planes level with the reference level (within ``level_tol_deg``)
    and the walls (perpendicular within ``wall_tol_deg``) hold together, from hypothesis ``u``:
    least squares in which each horizontal plane keeps its own height and each wall asks up to lie
    in it, each weighted by what its points tell (:func:`_plane_information`). Walls take part
    because a soft or cluttered horizontal surface (a bed) can be tilted by degrees where a wall
    is plumb; a few rounds, as planes join once up comes closer to them. ``heights``: each
    plane's offset d (``n . p = d``, n towards the camera), its height for a plane below it."""
    cos_tol = math.cos(math.radians(config.manhattan_tol_deg))
    sin_wall = math.sin(math.radians(config.wall_tol_deg))
    cos_level = math.cos(math.radians(config.level_tol_deg))
    # how well each plane's points fix its normal (its weaker in-plane direction); 0 for none
    fixed = [0.0 if i is None else float(np.linalg.eigvalsh(i)[1]) for i in info]
    start = u
    for _ in range(3):
        c = normals @ u
        horiz = [j for j in np.flatnonzero(np.abs(c) >= cos_tol) if info[j] is not None]
        if not horiz:
            break
        # The reference level: the lowest horizontal plane below the camera among those whose
        # normal their points fix well (against the best one's): a floor or a table is level, a
        # bed's duvet or a cluttered top above it may be tilted.
        best_fixed = max(fixed[j] for j in horiz)
        good = [j for j in horiz if fixed[j] >= _WELL_FIXED * best_fixed]
        ref = min(good, key=lambda j: heights[j] if normals[j] @ u > 0 else math.inf)
        m = sum(info[j] for j in horiz if abs(normals[j] @ normals[ref]) >= cos_level)
        for j in np.flatnonzero(np.abs(c) <= sin_wall):
            if info[j] is None:
                continue
            n = normals[j]
            e = u - (u @ n) * n  # the wall's vertical: how far its points reach along up
            e /= max(float(np.linalg.norm(e)), 1e-12)
            m = m + float(e @ info[j] @ e) * np.outer(n, n)
        refined = np.linalg.eigh(m)[1][:, 0]
        refined = refined if refined @ u > 0 else -refined
        done = float(refined @ u) > math.cos(math.radians(0.01))
        u = refined / np.linalg.norm(refined)
        if done:
            break
    if math.degrees(math.acos(float(np.clip(u @ start, -1.0, 1.0)))) > 2 * config.manhattan_tol_deg:
        return start  # a refinement that far from its hypothesis holds on nothing it started from
    return u


def _up_from_planes(pts: np.ndarray, planes: list, prior: np.ndarray, config: GravityConfig, dense: np.ndarray):
    """(up, support plane index, explained share, rival share, supporting plane count, indices of
    the horizontal planes below the camera) or None."""
    n_pts = len(pts)
    counts = np.array([len(p[2]) for p in planes], dtype=np.float64)
    normals = np.array([p[0] for p in planes])
    roll_axis = _roll_axis(prior)
    cos_tilt = math.cos(math.radians(config.max_tilt_deg))
    sin_roll = math.sin(math.radians(config.max_roll_deg))
    cos_tol = math.cos(math.radians(config.manhattan_tol_deg))
    sin_tol = math.sin(math.radians(config.manhattan_tol_deg))
    cands = [i for i, n in enumerate(normals)
             if n @ prior >= cos_tilt and (roll_axis is None or abs(n @ roll_axis) <= sin_roll)]
    if not cands:
        return None

    def explained(u):
        c = normals @ u
        horiz, vert = np.abs(c) >= cos_tol, np.abs(c) <= sin_tol
        return float(counts[horiz | vert].sum()), horiz, vert

    scores = [explained(normals[i])[0] for i in cands]
    order = np.argsort(-np.asarray(scores), kind='stable')
    best = cands[int(order[0])]
    u = normals[best]
    info = _plane_information(dense, [p[:2] for p in planes], config)
    u = _refine_up(u, normals, info, np.array([p[1] for p in planes]), config)
    score, horiz, vert = explained(u)
    cos_rival = math.cos(math.radians(config.rival_deg))
    rival = max((explained(normals[i])[0] for i in cands if normals[i] @ u < cos_rival), default=0.0)
    # The support: the largest horizontal plane below the camera (normal towards it, along up).
    below = [j for j in np.flatnonzero(horiz) if normals[j] @ u > 0]
    support = max(below, key=lambda j: counts[j]) if below else best
    return u, support, score / n_pts, rival / n_pts, int(np.count_nonzero(horiz | vert)), below


def estimate_gravity(
    frame: Frame, config: GravityConfig = GravityConfig(), base_rotation=None
) -> Gravity:
    """Up in ``frame``'s optical frame (see module docstring for the order of sources).

    base_rotation: optional 3x3 rotation of the camera optical frame in a base frame whose z is up
        (``p_base = R @ p_optical``), e.g. the rotation of TF base_link <- camera_optical.
    """
    prior = np.asarray(config.prior_up, dtype=np.float64)
    prior /= np.linalg.norm(prior)
    given = None if base_rotation is None else up_from_rotation(base_rotation)
    pts = _grid_points(frame, config.max_points, config.max_depth_m)
    planes = _extract_planes(pts, config) if len(pts) >= config.min_points else []
    up, source, conf, height, ratio, rms, n_planes, rival = prior, 'prior', 0.0, None, 0.0, None, 0, 0.0
    levels: tuple = ()
    if given is not None:
        up, source, conf = given, 'given', 1.0
        cos_tol = math.cos(math.radians(config.given_plane_tol_deg))
        near = [p for p in planes if p[0] @ given >= cos_tol]
        if near:
            normal, d, idx = max(near, key=lambda p: len(p[2]))
            # Height of the plane measured along the given up (the plane's own normal differs slightly).
            height = float(median(pts[idx] @ given))
            levels = tuple(sorted(float(median(pts[p[2]] @ given)) for p in near if p[0] @ given > 0))
            ratio = len(idx) / len(pts)
            rms = float(np.sqrt(np.mean((pts[idx] @ normal - d) ** 2)))
    elif planes:
        # The final fit on a denser sample than the search (cheap: a few residuals a point).
        dense = _grid_points(frame, config.refine_points, config.max_depth_m)
        found = _up_from_planes(pts, planes, prior, config, dense)
        if found is not None:
            u, j, share, rival, n_planes, below = found
            normal, d, idx = planes[j]
            up, source = u, 'plane'
            height = float(median(pts[idx] @ u))
            levels = tuple(sorted(float(median(pts[planes[i][2]] @ u)) for i in below))
            ratio = len(idx) / len(pts)
            rms = float(np.sqrt(np.mean((pts[idx] @ normal - d) ** 2)))
            conf = min(1.0, share / config.full_confidence_share)
            conf *= 1.0 - min(1.0, rival / max(share, 1e-9))  # an equally explained rival: no idea
            if n_planes == 1:  # one plane alone, no wall or second level to confirm it
                conf *= min(1.0, ratio / config.full_confidence_share) ** 0.5
        else:
            logger.debug('gravity: no plane within the tilt and roll priors among %d planes', len(planes))
    return Gravity(
        up=up,
        source=source,
        confidence=float(conf),
        plane_height=height,
        inlier_ratio=ratio,
        plane_rms_m=rms,
        tilt_deg=tilt_of(up),
        planes=n_planes,
        rival_share=float(rival),
        levels=levels,
    )
