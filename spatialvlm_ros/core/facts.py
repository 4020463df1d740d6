"""Spatial facts between lifted objects: metric distances and qualitative relations.

For every ordered pair (a, b), a before b in the given mapping's order, :func:`compute_facts`
emits four facts:

- ``distance``: centre-to-centre, metres (``holds`` None: a measurement, not a claim);
- one per axis of the optical frame (x right, y DOWN, z forward), ``value`` = the signed
  difference ``a - b`` along that axis in metres:

  ====  ==================================  ==================================
  axis  value < -margin                     value > +margin
  ====  ==================================  ==================================
  x     ``left_of``  (a is left of b)       ``right_of``
  y     ``above``    (smaller y is higher)  ``below``
  z     ``in_front_of`` (closer to camera)  ``behind``
  ====  ==================================  ==================================

  The fact's ``type`` is the relation that holds, with ``holds=True``. When
  ``|value| < margin_m`` neither is decided: the type is ``undecided_x`` / ``undecided_y`` /
  ``undecided_z`` with ``holds=None`` (a reader looking up ``left_of`` then finds nothing
  rather than a coin flip; :func:`relation_holds` answers None for it).

Without a gravity estimate, ``above``/``below`` use the camera's y axis (which equals gravity only
for a level camera) and only these four facts are emitted. With ``gravity`` (a
:class:`~spatialvlm_ros.core.gravity.Gravity`, which :class:`~spatialvlm_ros.core.pipeline.SpatialPipeline`
always passes) the relations are read in the gravity-aligned frame (right, forward, up: see
:func:`~spatialvlm_ros.core.gravity.gravity_basis`; ``frame`` = ``<frame_id>@gravity``) and the full
SpatialVLM vocabulary follows the same four, per pair:

- ``closest_distance`` (m): between the nearest visible surface points (a lower bound of the
  true surface gap; 0 when they touch);
- ``horizontal_distance``, ``vertical_distance`` (m, non-negative): centre offsets in and
  perpendicular to the horizontal plane;
- ``bigger``/``smaller`` (box volume, m^3), ``taller``/``shorter`` (height), ``wider``/``thinner``
  (width along the horizontal right), each decided only when the ratio of the two differs from
  1 by more than ``size_margin`` (else ``undecided_size``/``undecided_height``/``undecided_width``);
  ``value`` = a - b;
- ``direction`` (rad): bearing of b seen from a in the horizontal plane, clockwise from
  "forward" (away from the camera); ``clock_position`` (hour): the same as a clock face, 12 =
  forward, 3 = right;

and per object (``object`` = ''): ``width``, ``depth``, ``height`` (m) of its gravity-aligned box
(:func:`gravity_size`).

Confidence with gravity: ``1 - exp(-n / confidence_points)`` times, for qualitative facts, the
probability that the sign is right given the centre uncertainty sigma = noise(z) / sqrt(n) +
``model_error_m`` per object with noise(z) = ``noise_a_m + noise_b_per_m * z^2`` (a Kinect-like
depth noise model), i.e. Phi(|value| / sigma_diff); for quantitative facts divided by
``1 + sigma_diff / max(|value|, margin_m)``.

Confidence is ``1 - exp(-n / confidence_points)`` with n the smaller point count of the two
objects: a fact from 20 points is weak, from 500 points near certain.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from .errors import FrameError, SpatialError
from .types import ObjectObservation, SpatialFact

__all__ = ['FactsConfig', 'AXIS_RELATIONS', 'SIZE_RELATIONS', 'INVERSE', 'compute_facts', 'distance', 'relation_holds']

logger = logging.getLogger(__name__)

# axis index -> (relation when a - b < -margin, relation when a - b > +margin, undecided type)
AXIS_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ('left_of', 'right_of', 'undecided_x'),
    ('above', 'below', 'undecided_y'),
    ('in_front_of', 'behind', 'undecided_z'),
)
# size comparisons: (relation when a > b, relation when a < b, undecided type)
SIZE_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ('bigger', 'smaller', 'undecided_size'),
    ('taller', 'shorter', 'undecided_height'),
    ('wider', 'thinner', 'undecided_width'),
)
# relation -> the same relation with subject and object swapped
INVERSE: dict[str, str] = {
    **{neg: pos for neg, pos, _ in AXIS_RELATIONS + SIZE_RELATIONS},
    **{pos: neg for neg, pos, _ in AXIS_RELATIONS + SIZE_RELATIONS},
}


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
        for name in ('margin_m', 'confidence_points', 'size_margin', 'noise_a_m', 'noise_b_per_m', 'model_error_m'):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.number)) or not math.isfinite(v) or v < 0:
                raise SpatialError(f'FactsConfig.{name}: expected a finite number >= 0, got {v!r}')
        if self.confidence_points == 0:
            raise SpatialError('FactsConfig.confidence_points: expected a number > 0, got 0')
        if isinstance(self.closest_max_points, bool) or not isinstance(self.closest_max_points, int) or (
            self.closest_max_points < 10
        ):
            raise SpatialError(f'FactsConfig.closest_max_points: expected an integer >= 10, got {self.closest_max_points!r}')


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


def _pair_facts(a: ObjectObservation, b: ObjectObservation, config: FactsConfig) -> list[SpatialFact]:
    _check_same_frame(a, b)
    diff = np.asarray(a.center, np.float64) - np.asarray(b.center, np.float64)
    n = min(a.evidence, b.evidence)
    common = dict(
        subject=a.name,
        object=b.name,
        frame=a.frame_id,
        confidence=float(1.0 - math.exp(-n / config.confidence_points)),
        stamp_ns=max(int(a.stamp_ns), int(b.stamp_ns)),
    )
    facts = [SpatialFact(type='distance', value=float(np.linalg.norm(diff)), unit='m', holds=None, **common)]
    for d, (neg, pos, undecided) in zip(diff, AXIS_RELATIONS):
        if abs(d) < config.margin_m:
            facts.append(SpatialFact(type=undecided, value=float(d), unit='m', holds=None, **common))
        else:
            facts.append(SpatialFact(type=neg if d < 0 else pos, value=float(d), unit='m', holds=True, **common))
    return facts


def compute_facts(
    objects: Mapping[str, Optional[ObjectObservation]],
    config: FactsConfig = FactsConfig(),
    gravity=None,
) -> list[SpatialFact]:
    """Facts for every pair (a, b), a before b in ``objects``' order (see module docstring).

    objects: name -> observation; None entries (objects that were not found or could not be
        lifted) are skipped, so the output of ``lift_objects`` can be passed directly.
    gravity: optional :class:`~spatialvlm_ros.core.gravity.Gravity`; with it, relations are read
        in the gravity-aligned frame and the full vocabulary is emitted (module docstring).
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
    facts: list[SpatialFact] = []
    if gravity is None:
        for i, (_, a) in enumerate(present):
            for _, b in present[i + 1 :]:
                facts.extend(_pair_facts(a, b, config))
        return facts
    from .facts_gravity import gravity_facts

    return gravity_facts(present, config, gravity)


def relation_holds(facts: Sequence[SpatialFact], relation: str, subject: str, obj: str) -> Optional[bool]:
    """Whether ``subject relation obj`` holds according to ``facts``, in either pair order.

    True/False when the axis was decided, None when it was undecided or no fact covers the
    pair. ``relation`` is one of left_of, right_of, above, below, in_front_of, behind, bigger,
    smaller, taller, shorter, wider, thinner.
    """
    if relation not in INVERSE:
        raise SpatialError(f'unknown relation {relation!r}; expected one of {sorted(INVERSE)}')
    groups = AXIS_RELATIONS + SIZE_RELATIONS
    types = set(next(rel for rel in groups if relation in rel))
    for f in facts:
        if f.type not in types:
            continue
        if (f.subject, f.object) == (subject, obj):
            stated = f.type
        elif (f.subject, f.object) == (obj, subject):
            stated = INVERSE.get(f.type, f.type)
        else:
            continue
        if f.holds is None:
            return None
        return stated == relation
    return None
