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

``above``/``below`` use the camera's y axis: this equals gravity only for a level camera.
A gravity-aligned frame is a later step.

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

__all__ = ['FactsConfig', 'AXIS_RELATIONS', 'INVERSE', 'compute_facts', 'distance', 'relation_holds']

logger = logging.getLogger(__name__)

# axis index -> (relation when a - b < -margin, relation when a - b > +margin, undecided type)
AXIS_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ('left_of', 'right_of', 'undecided_x'),
    ('above', 'below', 'undecided_y'),
    ('in_front_of', 'behind', 'undecided_z'),
)
# relation -> the same relation with subject and object swapped
INVERSE: dict[str, str] = {
    **{neg: pos for neg, pos, _ in AXIS_RELATIONS},
    **{pos: neg for neg, pos, _ in AXIS_RELATIONS},
}


@dataclass(frozen=True)
class FactsConfig:
    """Options of :func:`compute_facts`."""

    # Differences smaller than this along an axis are not decided (metres); about the centre
    # error of the lifting, so a relation is only claimed when the measurement supports it.
    margin_m: float = 0.02
    # Point count at which confidence reaches 1 - 1/e (see module docstring).
    confidence_points: float = 50.0

    def __post_init__(self) -> None:
        for name in ('margin_m', 'confidence_points'):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.number)) or not math.isfinite(v) or v < 0:
                raise SpatialError(f'FactsConfig.{name}: expected a finite number >= 0, got {v!r}')
        if self.confidence_points == 0:
            raise SpatialError('FactsConfig.confidence_points: expected a number > 0, got 0')


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
    n = min(a.point_count, b.point_count)
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
    Returns 4 facts per pair: distance, then the x, y and z relations. All observations must
    share one ``frame_id`` (FrameError otherwise).
    """
    present = [(name, obs) for name, obs in objects.items() if obs is not None]
    skipped = [name for name, obs in objects.items() if obs is None]
    if skipped:
        logger.debug('facts: skipping objects without an observation: %s', skipped)
    stamps = {int(obs.stamp_ns) for _, obs in present}
    if len(stamps) > 1:
        logger.warning('facts: objects come from different stamps %s; facts use the latest', sorted(stamps))
    facts: list[SpatialFact] = []
    for i, (_, a) in enumerate(present):
        for _, b in present[i + 1 :]:
            facts.extend(_pair_facts(a, b, config))
    return facts


def relation_holds(facts: Sequence[SpatialFact], relation: str, subject: str, obj: str) -> Optional[bool]:
    """Whether ``subject relation obj`` holds according to ``facts``, in either pair order.

    True/False when the axis was decided, None when it was undecided or no fact covers the
    pair. ``relation`` is one of left_of, right_of, above, below, in_front_of, behind.
    """
    if relation not in INVERSE:
        raise SpatialError(f'unknown relation {relation!r}; expected one of {sorted(INVERSE)}')
    axis = next(i for i, rel in enumerate(AXIS_RELATIONS) if relation in rel)
    types = set(AXIS_RELATIONS[axis])
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
