"""Spatial facts between lifted objects, computed from the one vocabulary (:mod:`.vocabulary`).

For every ordered pair (a, b), a before b in the given mapping's order, :func:`compute_facts`
emits one fact per relation group of the vocabulary, in registry order:

- a metric (``distance``, ``closest_distance``, ``horizontal_distance``, ``vertical_distance``,
  ``direction`` (rad, bearing of b from a clockwise from forward), ``clock_position`` (hour,
  12 = forward, 3 = right)): ``value`` in its unit, ``holds`` None (a measurement, not a claim);
- a predicate pair (``left_of``/``right_of``, ``above``/``below``, ``in_front_of``/``behind``):
  ``value`` = the signed difference a - b along the optical frame's conventions (x right,
  y DOWN, z forward: the amount by which the second member holds); the ``type`` is the relation
  that holds, with ``holds=True``. When ``|value| < margin_m`` neither is decided: the type is
  ``undecided_x`` / ``undecided_y`` / ``undecided_z`` with ``holds=None`` (a reader looking up
  ``left_of`` then finds nothing rather than a coin flip; :func:`relation_holds` answers None);
- a size comparison (``smaller``/``bigger`` by box volume in m^3, ``shorter``/``taller``,
  ``thinner``/``wider``): value = a - b, decided when the ratio differs from 1 by more than
  ``size_margin`` (else ``undecided_size`` / ``undecided_height`` / ``undecided_width``);

and per object (``object`` = ''): ``width``, ``depth``, ``height`` (m) of its gravity-aligned box.

Without a gravity estimate only the vocabulary's 'camera' entries are emitted (distance and the
three predicate pairs, 4 facts per pair) in the camera frame: the same code with up = the
camera's -y (which equals gravity only for a level camera), confidence
``1 - exp(-n / confidence_points)`` with n the smaller point count of the two objects (a fact
from 20 points is weak, from 500 points near certain). With ``gravity`` (a
:class:`~spatialvlm_ros.core.gravity.Gravity`, which :class:`~spatialvlm_ros.core.pipeline.SpatialPipeline`
always passes) the relations are read in the gravity-aligned frame (``frame`` =
``<frame_id>@gravity``) and the confidence is that count term times, for predicates, the
probability that the sign is right given the centre uncertainty sigma = noise(z) / sqrt(n) +
``model_error_m`` per object with noise(z) = ``noise_a_m + noise_b_per_m * z^2`` (a Kinect-like
depth noise model), i.e. Phi(|value| / sigma_diff); for quantitative facts divided by
``1 + sigma_diff / max(|value|, margin_m)``; and for every fact read along the gravity axes (all
but the distances: relations, sizes, heights) times the up's own confidence
(``Gravity.confidence``: 1 for a given rotation, 0 for an assumed one), so a frame whose up is
uncertain says so in its facts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
# At import, not at first use: importing scipy.spatial takes ~0.3 s, which a node would otherwise
# spend on the first frame where two objects come close (a visible stall mid-episode).
from scipy.spatial import cKDTree

from . import vocabulary as vocab
from .options import check_int, check_number
from .errors import FrameError, SpatialError
from .sizes import object_sizes
from .stats import median
from .types import ObjectObservation, SpatialFact

__all__ = ['FactsConfig', 'compute_facts', 'distance', 'relation_holds', 'closest_distance', 'gravity_facts']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FactsConfig:
    """Options of :func:`compute_facts`."""

    # Differences smaller than this along an axis are not decided (metres); about the centre
    # error of the lifting, so a relation is only claimed when the measurement supports it.
    margin_m: float = 0.02
    # Point count at which confidence reaches 1 - 1/e (see module docstring).
    confidence_points: float = 50.0
    # bigger/taller/wider are decided only when the two sizes differ by more than this ratio.
    size_margin: float = 0.15
    # Depth noise model sigma(z) = noise_a_m + noise_b_per_m * z^2 (metres), for confidences.
    noise_a_m: float = 0.001
    noise_b_per_m: float = 0.0019
    # Error of the amodal centre model itself (metres), added to the per-object uncertainty.
    model_error_m: float = 0.003
    # Closest-surface distance uses at most this many points per object (KD-tree query cost).
    closest_max_points: int = 400

    def __post_init__(self) -> None:
        for name in ('margin_m', 'size_margin', 'noise_a_m', 'noise_b_per_m', 'model_error_m'):
            check_number(self, name, allow_zero=True)
        check_number(self, 'confidence_points')
        check_int(self, 'closest_max_points', 10)


def _check_same_frame(a: ObjectObservation, b: ObjectObservation) -> None:
    if a.frame_id != b.frame_id:
        raise FrameError(
            f'{a.name!r} is in frame {a.frame_id!r} but {b.name!r} in {b.frame_id!r}; '
            'transform both into one frame before comparing them'
        )


def distance(a: ObjectObservation, b: ObjectObservation) -> float:
    """Centre-to-centre Euclidean distance in metres (both must share a frame)."""
    _check_same_frame(a, b)
    return float(np.linalg.norm(np.asarray(a.center, np.float64) - np.asarray(b.center, np.float64)))


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


def _sigma(obs: ObjectObservation, config: FactsConfig) -> float:
    z = float(median(obs.points[:, 2])) if len(obs.points) else 1.0
    noise = config.noise_a_m + config.noise_b_per_m * z * z
    return noise / math.sqrt(max(min(obs.evidence, 1e9), 1)) + config.model_error_m


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def gravity_facts(
    present: Sequence[tuple[str, ObjectObservation]], config: FactsConfig, up, sizes: Optional[Mapping] = None,
    camera: bool = False, up_confidence: float = 1.0,
) -> list[SpatialFact]:
    """Facts of every pair and (unless ``camera``) every object of ``present`` (name, observation).

    up: (3,) unit vector in the optical frame. sizes: name -> (3,) (width, height, depth) metres
    (measured here when None). camera: the camera-frame variant (module docstring).
    up_confidence: how far ``up`` is to be trusted (``Gravity.confidence``), in [0, 1]: the
    confidence of every fact read along the gravity axes (all but the distances) is scaled by it.
    """
    use = 'camera' if camera else 'facts'
    groups = vocab.fact_groups(use)
    objects = [r for r in vocab.relations(use) if r.kind == 'object']
    needs = {r.needs for g in groups for r in g} | {r.needs for r in objects}
    if sizes is None and 'sizes' in needs:
        sizes = object_sizes(dict(present), up)
    sizes = sizes or {}
    sigmas = {name: _sigma(o, config) for name, o in present} if not camera else {}
    facts: list[SpatialFact] = []
    for i, (na, a) in enumerate(present):
        for nb, b in present[i + 1:]:
            _check_same_frame(a, b)
            closest = closest_distance(a, b, config.closest_max_points) if 'points' in needs else None
            m = vocab.measure_pair(a.center, b.center, up, sizes.get(na), sizes.get(nb), closest)
            conf_n = 1.0 - math.exp(-min(a.evidence, b.evidence) / config.confidence_points)
            sd = 0.0 if camera else math.hypot(sigmas[na], sigmas[nb])
            frame = a.frame_id if camera else f'{a.frame_id}@gravity'
            common = dict(subject=na, object=nb, frame=frame, stamp_ns=max(int(a.stamp_ns), int(b.stamp_ns)))
            for group in groups:
                facts.append(_group_fact(group, m, config, conf_n, sd, camera, common, up_confidence))
    for name, o in present:
        conf = (1.0 - math.exp(-o.evidence / config.confidence_points)) * up_confidence
        for r in objects:
            facts.append(SpatialFact(type=r.name, subject=name, object='', value=float(sizes[name][r.size]),
                                     unit=r.unit, frame=f'{o.frame_id}@gravity', holds=None, confidence=conf,
                                     stamp_ns=int(o.stamp_ns)))
    return facts


def _group_fact(group, m, config: FactsConfig, conf_n: float, sd: float, camera: bool, common,
                up_confidence: float = 1.0) -> SpatialFact:
    """One fact of a vocabulary group: a metric, or a (first, inverse) pair decided on ``m``."""
    first = group[0]
    if first.along_up and not camera:
        conf_n *= up_confidence
    if len(group) == 1:
        v = vocab.value(first, m)
        conf = conf_n
        if first.confidence == 'quantitative' and not camera:
            conf = conf_n / (1.0 + sd / max(abs(v), config.margin_m))
        return SpatialFact(type=first.name, value=v, unit=first.unit, holds=None, confidence=conf, **common)
    second = group[1]
    v = vocab.signed(second, m)  # a - b of the second member (module docstring)
    conf = conf_n * _phi(abs(v) / sd) if first.confidence == 'sign' and not camera else conf_n
    holds = vocab.decide(first, m, config.margin_m, config.size_margin)
    kind = first.undecided if holds is None else first.name if holds else second.name
    return SpatialFact(type=kind, value=v, unit=second.unit, holds=None if holds is None else True,
                       confidence=conf, **common)


def compute_facts(
    objects: Mapping[str, Optional[ObjectObservation]],
    config: FactsConfig = FactsConfig(),
    gravity=None,
    sizes: Optional[Mapping[str, np.ndarray]] = None,
) -> list[SpatialFact]:
    """Facts for every pair (a, b), a before b in ``objects``' order (see module docstring).

    objects: name -> observation; None entries (objects that were not found or could not be
        lifted) are skipped, so the output of ``lift_objects`` can be passed directly.
    gravity: optional :class:`~spatialvlm_ros.core.gravity.Gravity`; with it, relations are read
        in the gravity-aligned frame and the full vocabulary is emitted (module docstring).
    sizes: optional name -> (3,) float64 (width, height, depth) metres with ``gravity.up``, as
        :func:`~spatialvlm_ros.core.sizes.object_sizes` measured them once for the frame;
        measured here when None.
    Returns 4 facts per pair without gravity: distance, then the x, y and z relations (with
    gravity: these 4 first, then the rest of the vocabulary, then the per-object sizes). All
    observations must share one ``frame_id`` (FrameError otherwise).
    """
    present = [(name, obs) for name, obs in objects.items() if obs is not None]
    skipped = [name for name, obs in objects.items() if obs is None]
    if skipped:
        logger.debug('facts: skipping objects without an observation: %s', skipped)
    stamps = {int(obs.stamp_ns) for _, obs in present}
    if len(stamps) > 1:
        logger.warning('facts: objects come from different stamps %s; facts use the latest', sorted(stamps))
    if gravity is None:
        return gravity_facts(present, config, vocab.CAMERA_UP, camera=True)
    return gravity_facts(present, config, np.asarray(gravity.up, np.float64), sizes,
                         up_confidence=float(gravity.confidence))


def relation_holds(facts: Sequence[SpatialFact], relation: str, subject: str, obj: str) -> Optional[bool]:
    """Whether ``subject relation obj`` holds according to ``facts``, in either pair order.

    True/False when the relation was decided, None when it was undecided or no fact covers the
    pair. ``relation`` is a predicate or comparison of the vocabulary (left_of, right_of, above,
    below, in_front_of, behind, bigger, smaller, taller, shorter, wider, thinner, ...).
    """
    rel = vocab.REGISTRY.get(relation)
    if rel is None or rel.inverse is None:
        known = sorted(r.name for r in vocab.REGISTRY.values() if r.inverse is not None)
        raise SpatialError(f'unknown relation {relation!r}; expected one of {known}')
    types = {relation, rel.inverse, rel.undecided}
    for f in facts:
        if f.type not in types:
            continue
        if (f.subject, f.object) == (subject, obj):
            stated = f.type
        elif (f.subject, f.object) == (obj, subject):
            inv = vocab.REGISTRY.get(f.type)
            stated = inv.inverse if inv is not None else f.type
        else:
            continue
        if f.holds is None:
            return None
        return stated == relation
    return None
