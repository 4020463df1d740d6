"""The full SpatialVLM fact vocabulary in the gravity-aligned frame (see :mod:`spatialvlm_ros.core.facts`)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
# At import, not at first use: importing scipy.spatial takes ~0.3 s, which a node would otherwise
# spend on the first frame where two objects come close (a visible stall mid-episode).
from scipy.spatial import cKDTree

from .gravity import Gravity, gravity_basis
from .types import ObjectObservation, SpatialFact
from .stats import median, percentiles

__all__ = ['gravity_size', 'closest_distance', 'gravity_facts']


def gravity_size(obs: ObjectObservation, up: np.ndarray) -> np.ndarray:
    """(width, depth, height) float64 metres of the object's gravity-aligned box.

    The lifting's own measurement when its centre mode measured the whole object
    (``obs.size``: 'support', 'grip'). Otherwise read from the visible points about the (amodal)
    centre: along each axis the box reaches the farther of the visible extremes, mirrored about
    the centre, so the hidden back and the hidden bottom are completed as far as the centre
    implies (height = 2 (top - centre height) for an object whose centre was put half-way
    between its top and its support); width and height, which span the image plane, get back
    what the mask erosion took there (``obs.border_m``).
    """
    if obs.size is not None:
        return np.array(obs.size, dtype=np.float64)
    basis = gravity_basis(up)
    pts = obs.points.astype(np.float64) @ basis.T
    c = basis @ np.asarray(obs.center, np.float64)
    lo, hi = percentiles(pts, (1.0, 99.0), axis=0)
    size = np.empty(3)
    for i in range(3):
        size[i] = max(hi[i] - lo[i], 2.0 * max(c[i] - lo[i], hi[i] - c[i]) if i > 0 else hi[i] - lo[i])
    size[0] += obs.border_m
    size[2] += obs.border_m
    return size


def _box_gap(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance of each point to the axis-aligned box [lo, hi] (0 inside): a lower bound on its
    distance to anything inside the box."""
    return np.linalg.norm(np.maximum(np.maximum(lo - points, points - hi), 0.0), axis=1)


def closest_distance(a: ObjectObservation, b: ObjectObservation, max_points: int) -> float:
    """Smallest distance between the visible points of a and b (metres), on strided samples.

    Exact for those samples, but only the points that can matter are compared: a point
    farther from the other object's bounding box than some pair's distance (an upper bound)
    cannot be part of the closest pair; for objects apart that leaves a handful of points.
    """
    pa = a.points[:: max(1, -(-len(a.points) // max_points))].astype(np.float64)
    pb = b.points[:: max(1, -(-len(b.points) // max_points))].astype(np.float64)
    if len(pa) == 0 or len(pb) == 0:
        return math.inf
    gap_a = _box_gap(pa, pb.min(axis=0), pb.max(axis=0))
    gap_b = _box_gap(pb, pa.min(axis=0), pa.max(axis=0))
    # Upper bound: the exact distance from the point of a nearest to b's box to all of b.
    bound = float(np.sqrt(np.min(((pb - pa[int(np.argmin(gap_a))]) ** 2).sum(axis=1))))
    pa, pb = pa[gap_a <= bound], pb[gap_b <= bound]
    if len(pa) * len(pb) <= 20_000:  # beyond that a k-d tree is cheaper than all pairs
        d2 = (pa * pa).sum(1)[:, None] + (pb * pb).sum(1)[None, :] - 2.0 * pa @ pb.T
        return float(math.sqrt(max(float(d2.min()), 0.0)))
    d, _ = cKDTree(pb).query(pa, k=1)
    return float(np.min(d))


def _sigma(obs: ObjectObservation, config) -> float:
    z = float(median(obs.points[:, 2])) if len(obs.points) else 1.0
    noise = config.noise_a_m + config.noise_b_per_m * z * z
    return noise / math.sqrt(max(min(obs.evidence, 1e9), 1)) + config.model_error_m


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def gravity_facts(present: Sequence[tuple[str, ObjectObservation]], config, gravity: Gravity) -> list[SpatialFact]:
    """Facts for every pair and every object of ``present`` (name, observation) in the gravity frame."""
    from .facts import AXIS_RELATIONS, SIZE_RELATIONS, _check_same_frame

    up = np.asarray(gravity.up, np.float64)
    basis = gravity_basis(up)  # rows: right, forward, up
    sizes = {name: gravity_size(o, up) for name, o in present}
    sigmas = {name: _sigma(o, config) for name, o in present}
    facts: list[SpatialFact] = []
    for i, (na, a) in enumerate(present):
        for nb, b in present[i + 1 :]:
            _check_same_frame(a, b)
            diff = np.asarray(a.center, np.float64) - np.asarray(b.center, np.float64)
            g = basis @ diff  # (right, forward, up) of a - b
            # Axis order of the legacy facts: x (right), y (down), z (forward).
            axes = (g[0], -g[2], g[1])
            n = min(a.evidence, b.evidence)
            conf_n = 1.0 - math.exp(-n / config.confidence_points)
            sd = math.hypot(sigmas[na], sigmas[nb])
            common = dict(subject=na, object=nb, frame=f'{a.frame_id}@gravity',
                          stamp_ns=max(int(a.stamp_ns), int(b.stamp_ns)))

            def quant(kind: str, value: float, unit: str = 'm') -> SpatialFact:
                conf = conf_n / (1.0 + sd / max(abs(value), config.margin_m))
                return SpatialFact(type=kind, value=float(value), unit=unit, holds=None, confidence=conf, **common)

            facts.append(quant('distance', float(np.linalg.norm(diff))))
            for d, (neg, pos, undecided) in zip(axes, AXIS_RELATIONS):
                conf = conf_n * _phi(abs(d) / sd)
                if abs(d) < config.margin_m:
                    facts.append(SpatialFact(type=undecided, value=float(d), unit='m', holds=None, confidence=conf,
                                             **common))
                else:
                    facts.append(SpatialFact(type=neg if d < 0 else pos, value=float(d), unit='m', holds=True,
                                             confidence=conf, **common))
            facts.append(quant('closest_distance', closest_distance(a, b, config.closest_max_points)))
            facts.append(quant('horizontal_distance', float(math.hypot(g[0], g[1]))))
            facts.append(quant('vertical_distance', float(abs(g[2]))))
            sa, sb = sizes[na], sizes[nb]
            pairs = ((float(np.prod(sa)), float(np.prod(sb)), 'm3'), (sa[2], sb[2], 'm'), (sa[0], sb[0], 'm'))
            for (va, vb, unit), (big, small, undecided) in zip(pairs, SIZE_RELATIONS):
                ratio = va / vb if vb > 0 else math.inf
                decided = abs(ratio - 1.0) > config.size_margin
                kind = (big if va > vb else small) if decided else undecided
                facts.append(SpatialFact(type=kind, value=float(va - vb), unit=unit, holds=True if decided else None,
                                         confidence=conf_n, **common))
            # Bearing of b seen from a: clockwise from forward (12 o'clock), right = 3 o'clock.
            bearing = math.atan2(-g[0], -g[1]) % (2.0 * math.pi)
            facts.append(quant('direction', bearing, 'rad'))
            hour = int(round(bearing / (math.pi / 6.0))) % 12
            facts.append(SpatialFact(type='clock_position', value=float(12 if hour == 0 else hour), unit='hour',
                                     holds=None, confidence=conf_n, **common))
    for name, o in present:
        conf = 1.0 - math.exp(-o.evidence / config.confidence_points)
        for kind, v in zip(('width', 'depth', 'height'), sizes[name]):
            facts.append(SpatialFact(type=kind, subject=name, object='', value=float(v), unit='m',
                                     frame=f'{o.frame_id}@gravity', holds=None, confidence=conf,
                                     stamp_ns=int(o.stamp_ns)))
    return facts
