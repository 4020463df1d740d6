"""'grip' centre mode: the grasp point of a parallel gripper seen by its fingers.

The fingers' visible points surround an empty grasp point, so no convex object is there to
complete ('amodal' leaves the grip site 14-15 mm off on the Fetch renders). 'grip' places the
point from the fingers and two dimensions of the gripper (``grip_height_m``, ``grip_depth_m``):
on the Fetch renders (4 seeds, 30 frames each) 18 mm -> 2 mm median where the fingertips are
in view. Where a floating target disc hides the tips (seeds 1-3 after placing), the lower edge of
the gripper body places the point instead (``grip_palm_m``): 16-19 -> 1-5 mm (gripper p95 over
the 4 seeds 19 -> 4 mm).

Without a measured up direction (gravity unknown or only the prior) the mode is 'amodal'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..gravity import gravity_basis
from ..options import option
from ..stats import percentile, percentiles
from .amodal import amodal
from .base import Estimate, check_number, register_center_mode
from .cloud import Cloud, LiftConfig, strided
from .occlusion import median_or_none, occluder_above_heights

__all__ = ['GripConfig', 'grip']

# The tips are hidden when they put the grasp point this much above the gripper body's edge does
# (the two agree within ~3 mm on the sim frames whose tips are in view; hidden tips are off by
# 1.1-1.9 cm there), and the body's edge needs this many columns of occluder.
_TIPS_HIDDEN_M = 0.007
_MIN_EDGE_COLUMNS = 5


@dataclass(frozen=True)
class GripConfig:
    """Options of the 'grip' centre mode: two dimensions of the gripper (read them from the robot
    description) and its body's edge. Lengths in metres; the defaults are Fetch's.

    Fetch: grip site 1.85 cm above the tips, fingers 2.7 cm deep. The palm's flat lower face is
    5.2 cm above the grip site and its rounded front edge reaches 6.6 cm; seen from ~45 deg
    above, the silhouette edge is at 5.6 cm (median over the sim frames whose fingertips are in
    view, std 1.6 mm).
    """

    grip_height_m: float = option(0.0185, "'grip' mode: height of the grasp point (TCP) above the fingertips, "
                                          'metres (Fetch: 0.0185).')
    grip_depth_m: float = option(0.027, "'grip' mode: the fingers' depth seen from the camera, metres "
                                        '(Fetch: 0.027).')
    grip_palm_m: float = option(0.056, "'grip' mode: height of the gripper body's lower edge (where the fingers "
                                       'leave it, as the camera sees it) above the grasp point, metres; used '
                                       'when the fingertips are hidden; 0 = off (Fetch: 0.056).')

    def __post_init__(self) -> None:
        for name in ('grip_height_m', 'grip_depth_m', 'grip_palm_m'):
            check_number(self, name, allow_zero=True)


@register_center_mode('grip', GripConfig)
def grip(cloud: Cloud, config: LiftConfig) -> Estimate:
    """Grasp point of a parallel gripper seen by its fingers; 'amodal' without gravity.

    Returns float64 (3,) centre, camera-axis extent and gravity-aligned size (width across the
    view, ``grip_depth_m``, the fingers' height) in metres, and the share of the fingers in view.

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
    is read from those occluder pixels (:mod:`.occlusion`). Where the tips place the point more
    than ``_TIPS_HIDDEN_M`` above where the body's edge does, the fingers are shorter than the
    gripper allows: the tips are hidden, and the body's edge places the point.
    """
    if not cloud.gravity_known:
        return amodal(cloud, config)
    opts: GripConfig = config.modes['grip']
    basis = gravity_basis(cloud.gravity.up)
    right, fwd, up = basis
    pts = strided(cloud.points, config.stats_max_points).astype(np.float64)
    lo_p, hi_p = config.extent_percentiles
    lo, hi = percentiles(pts @ right, config.extent_percentiles)
    # Nearest face from noise-smoothed depth, as in 'amodal' (raw noise pulls it forward).
    near_fwd = percentile(strided(cloud.smoothed_along(fwd, config.near_smooth_px), config.stats_max_points), lo_p)
    hts = pts @ up
    # The erosion took ~border/2 off the fingertips' lower edge, seen from above at the view angle.
    mean_dir = pts.mean(axis=0)
    view_down = float(-(mean_dir @ up) / np.linalg.norm(mean_dir))
    cos_d = math.sqrt(max(1.0 - view_down**2, 0.25))
    tips = seen_tips = percentile(hts, lo_p) - cloud.border_m / 2.0 / cos_d
    top = percentile(hts, hi_p)
    point = tips + opts.grip_height_m
    if opts.grip_palm_m > 0:
        edge = median_or_none(occluder_above_heights(cloud.mask_crop, cloud.depth_crop, cloud.origin,
                                                     cloud.intrinsics, up), _MIN_EDGE_COLUMNS)
        if edge is not None and point - (edge - opts.grip_palm_m) > _TIPS_HIDDEN_M:
            point = edge - opts.grip_palm_m
            tips = point - opts.grip_height_m
    center = right * (lo + hi) / 2.0 + fwd * (near_fwd + opts.grip_depth_m / 2.0) + up * point
    size = np.array([float(hi - lo) + cloud.border_m, opts.grip_depth_m, max(top - tips, 0.0)])
    # Of the fingers' height below the body's edge, the share in view (1 unless the tips are hidden).
    visible = 1.0 if tips == seen_tips else float(np.clip((top - seen_tips) / max(top - tips, 1e-6), 1e-3, 1.0))
    # and the camera-axis box of the gravity-aligned one
    return Estimate(center, np.abs(basis.T) @ size, size[[0, 2, 1]], visible)  # (w, d, h) -> (w, h, d)
