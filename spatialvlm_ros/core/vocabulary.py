"""The one spatial vocabulary: every relation defined once, read by facts, prompts, eval and synth.

Geometry is in the gravity-aligned frame (right, forward, up) of
:func:`~spatialvlm_ros.core.gravity.gravity_basis`; the camera-frame variant is the same code with
the camera's up, :data:`CAMERA_UP` = [0, -1, 0] in the optical frame (REP 103: x right, y down,
z forward), where (right, forward, up) = (x, z, -y). :func:`measure_pair` turns two centres (and
optionally sizes) into a :class:`PairMeasure`; each :class:`Relation` of :data:`REGISTRY` reads its
value from that measure (:func:`signed`, :func:`value`), so the facts, the geometric answerer, the
evaluation truth and the QA synthesis all measure with the same code.

Kinds of relation:

- ``metric``: a pair quantity (distance, horizontal / vertical / closest-surface distance, the
  lateral offset, the bearing and clock position), ``measure(m) -> float``;
- ``predicate``: holds when ``sign * (a - b)[axis] > margin`` (axis 0 right, 1 forward, 2 up);
  a predicate and its ``inverse`` make one fact group, the first registered decides the order;
- ``comparison``: sizes ``size`` index (0 width, 1 height, 2 depth; None: box volume) compared,
  decided when their ratio differs from 1 by more than a size margin;
- ``choice``: "which is ..." over the same axis and sign as a predicate, answered with a name;
- ``object``: a size of one object (index ``size`` of (width, height, depth)).

Sizes are (width, height, depth) metres everywhere, the order of the documents' ``extent_m``.
``uses`` says who reads an entry: 'facts' (gravity facts), 'camera' (the 4 facts without
gravity), 'ask' (the question templates of ``vlm.prompts``, answered by the geometric backend and
asked by the evaluation when measurable from centres), 'synth' (``offline.qa``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .gravity import gravity_basis

__all__ = ['CAMERA_UP', 'UNITS', 'PairMeasure', 'Relation', 'REGISTRY', 'measure_pair', 'register', 'unregister',
           'relations', 'signed', 'value', 'decide', 'answer_fields', 'fact_groups', 'YES', 'NO', 'CHOICE',
           'LEVEL', 'SYNTH_UNITS', 'question', 'answer', 'say']

# Up when no gravity frame is known: the camera's -y (image up).
CAMERA_UP = np.array([0.0, -1.0, 0.0])
RIGHT, FORWARD, UP = 0, 1, 2
WIDTH, HEIGHT, DEPTH = 0, 1, 2
# unit -> (metres per unit, decimals written, spoken forms)
UNITS: dict[str, tuple[float, int, tuple[str, ...]]] = {
    'm': (1.0, 2, ('meters', 'm')),
    'cm': (0.01, 1, ('centimeters', 'cm')),
    'mm': (0.001, 0, ('millimeters', 'mm')),
    'in': (0.0254, 1, ('inches', 'in')),
    'ft': (0.3048, 2, ('feet', 'ft')),
}
# Units the QA synthesis draws from (the paper's metric and imperial ones).
SYNTH_UNITS = ('m', 'cm', 'in', 'ft')


@dataclass(frozen=True)
class PairMeasure:
    """The ordered pair (a, b) measured in one gravity-aligned frame.

    offset: (3,) float64 metres, a - b along (right, forward, up).
    size_a, size_b: (3,) float64 (width, height, depth) metres, or None when not known.
    closest: smallest surface-point distance (metres), or None when the points were not compared.
    """

    offset: np.ndarray
    size_a: Optional[np.ndarray] = None
    size_b: Optional[np.ndarray] = None
    closest: Optional[float] = None
    # |a - b| taken before the rotation (bit-identical to the optical frame's norm); None: |offset|
    direct: Optional[float] = None

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.offset)) if self.direct is None else self.direct

    @property
    def horizontal(self) -> float:
        return float(math.hypot(self.offset[RIGHT], self.offset[FORWARD]))

    @property
    def vertical(self) -> float:
        return float(abs(self.offset[UP]))

    @property
    def bearing(self) -> float:
        """Radians in [0, 2 pi): direction of b seen from a, clockwise from forward (right = pi/2)."""
        return math.atan2(-self.offset[RIGHT], -self.offset[FORWARD]) % (2.0 * math.pi)

    @property
    def clock(self) -> float:
        """The bearing as a clock hour: 12 = forward, 3 = right, 6 = towards the camera, 9 = left."""
        hour = int(round(self.bearing / (math.pi / 6.0))) % 12
        return float(12 if hour == 0 else hour)


def measure_pair(center_a, center_b, up=CAMERA_UP, size_a=None, size_b=None, closest=None) -> PairMeasure:
    """:class:`PairMeasure` of centres ``center_a``, ``center_b`` ((3,) metres, optical frame) with
    ``up`` ((3,) in the same frame; :data:`CAMERA_UP` for the camera-frame variant)."""
    diff = np.asarray(center_a, np.float64) - np.asarray(center_b, np.float64)
    sa = None if size_a is None else np.asarray(size_a, np.float64)
    sb = None if size_b is None else np.asarray(size_b, np.float64)
    return PairMeasure(gravity_basis(up) @ diff, sa, sb, closest, float(np.linalg.norm(diff)))


@dataclass(frozen=True)
class Relation:
    """One relation of the vocabulary (see the module docstring for ``kind`` and ``uses``).

    unit: of the fact value ('m', 'm3', 'rad', 'hour', '' for choices).
    answer_type: 'distance' (a length), 'yes_no', 'choice' (one of the two objects), or
        'value' (a number that is not a length: bearing, clock hour).
    questions: phrasings with {a}, {b} (bare descriptions: "red block"), and for some {side}.
    answers: phrasings with {a}, {b}, {v} (the spoken value), {side}, {dir}; for yes/no and
        choices see :data:`YES`, :data:`NO`, :data:`CHOICE`; ``words`` fills their {rel}.
    patterns: regexes that recognise this kind in a lower-cased question; tried by ``rank``.
    needs: 'centres', 'sizes' or 'points': what its value is measured from.
    """

    name: str
    kind: str
    unit: str = 'm'
    answer_type: str = 'distance'
    uses: frozenset = frozenset()
    axis: Optional[int] = None
    sign: int = 0
    size: Optional[int] = None
    measure: Optional[Callable[[PairMeasure], float]] = None
    inverse: Optional[str] = None
    undecided: Optional[str] = None
    words: str = ''
    questions: tuple = ()
    answers: tuple = ()
    patterns: tuple = ()
    rank: int = 100
    needs: str = 'centres'
    # confidence of its fact: 'quantitative' (falls with the centre noise), 'sign' (the
    # probability the sign is right), 'count' (the point count alone)
    confidence: str = 'quantitative'
    # a metric whose phrasing names a side ({side}): asked only when that offset is beyond the margin
    sided: bool = False
    # read along the gravity frame's axes (so an uncertain up makes it uncertain); False for the
    # distances, which are the same along any axes
    along_up: bool = True


# Yes/no and choice answers ({rel}: the relation's words; {x}: the chosen description). The
# first phrasing is the geometric answerer's.
YES = ('Yes, the {a} is {rel} the {b}.', 'Yes.', 'Correct, the {a} is {rel} the {b}.')
NO = ('No, the {a} is not {rel} the {b}.', 'No.', 'Incorrect, the {a} is not {rel} the {b}.')
CHOICE = ('The {x} is {rel}.', 'The {x}.', 'It is the {x}.')
LEVEL = 'Neither: the {a} and the {b} are level within {v}.'

_F, _C, _A, _S = 'facts', 'camera', 'ask', 'synth'


def _metric(name, measure, questions, answers, patterns=(), rank=100, uses=(_F, _A, _S), **kw) -> Relation:
    return Relation(name, 'metric', measure=measure, questions=questions, answers=answers, patterns=patterns,
                    rank=rank, uses=frozenset(uses), **kw)


def _predicate(name, axis, sign, inverse, undecided, words, questions, patterns, rank, uses=(_F, _C, _A, _S)):
    return Relation(name, 'predicate', 'm', 'yes_no', frozenset(uses), axis, sign, inverse=inverse,
                    undecided=undecided, words=words, questions=questions, patterns=patterns, rank=rank,
                    confidence='sign')


def _comparison(name, size, sign, inverse, undecided, words, questions, uses=(_F, _S)):
    return Relation(name, 'comparison', 'm' if size is not None else 'm3', 'yes_no', frozenset(uses), size=size,
                    sign=sign, inverse=inverse, undecided=undecided, words=words, questions=questions,
                    needs='sizes', confidence='count')


def _choice(name, axis, sign, words, questions, patterns, rank):
    return Relation(name, 'choice', '', 'choice', frozenset((_A, _S)), axis, sign, words=words,
                    questions=questions, patterns=patterns, rank=rank)


def _object(name, size, questions, answers, uses=(_F, _S)):
    return Relation(name, 'object', size=size, questions=questions, answers=answers, uses=frozenset(uses),
                    needs='sizes', confidence='count')


_ENTRIES = (
    _metric('distance', lambda m: m.distance, (
        'What is the distance between the {a} and the {b}?', 'How far is the {a} from the {b}?',
        'How far apart are the {a} and the {b}?', 'Measure the distance between the {a} and the {b}.',
        'How close is the {a} to the {b}?', 'Measure the distance from the {a} to the {b}.'),
        ('The {a} is {v} from the {b}.', 'The {a} and the {b} are {v} apart.', 'The distance is {v}.', 'About {v}.'),
        (r'distance|how far|apart|how close',), 30, uses=(_F, _C, _A, _S), along_up=False),
    _predicate('left_of', RIGHT, -1, 'right_of', 'undecided_x', 'to the left of', (
        'Is the {a} to the left of the {b}?', "Is the {a} left of the {b} from the camera's viewpoint?",
        'Does the {a} appear on the left side of the {b}?', 'From the camera, is the {a} left of the {b}?'),
        (r'\bleft\b',), 70),
    _predicate('right_of', RIGHT, 1, 'left_of', 'undecided_x', 'to the right of', (
        'Is the {a} to the right of the {b}?', "Is the {a} right of the {b} from the camera's viewpoint?",
        'Does the {a} appear on the right side of the {b}?', 'From the camera, is the {a} right of the {b}?'),
        (r'\bright\b',), 71),
    _predicate('above', UP, 1, 'below', 'undecided_y', 'above', (
        'Is the {a} above the {b}?', 'Is the {a} higher than the {b}?', 'Is the {a} positioned over the {b}?'),
        (r'\babove\b|higher|positioned over',), 90),
    _predicate('below', UP, -1, 'above', 'undecided_y', 'below', (
        'Is the {a} below the {b}?', 'Is the {a} lower than the {b}?', 'Is the {a} beneath the {b}?'),
        (r'\bbelow\b|lower|under|beneath',), 91),
    _predicate('in_front_of', FORWARD, -1, 'behind', 'undecided_z', 'in front of', (
        'Is the {a} in front of the {b}?', 'Is the {a} closer to the camera than the {b}?',
        'Is the {a} nearer to the viewer than the {b}?'),
        (r'in front|closer to the camera|nearer to the viewer',), 80),
    _predicate('behind', FORWARD, 1, 'in_front_of', 'undecided_z', 'behind', (
        'Is the {a} behind the {b}?', 'Is the {a} farther from the camera than the {b}?',
        'Is the {a} further away than the {b}?'),
        (r'behind|farther from the camera|further away',), 81),
    _metric('closest_distance', lambda m: m.closest, (
        'What is the gap between the surfaces of the {a} and the {b}?',),
        ('The surfaces of the {a} and the {b} are {v} apart.',), uses=(_F,), needs='points', along_up=False),
    _metric('horizontal_distance', lambda m: m.horizontal, (
        'What is the horizontal distance between the {a} and the {b}?',
        'How far apart are the {a} and the {b} horizontally?', 'Ignoring height, how far is the {a} from the {b}?'),
        ('The {a} is {v} horizontally from the {b}.', 'Horizontally they are {v} apart.', 'About {v}.'),
        (r'horizontal|ignoring height',), 10),
    _metric('vertical_distance', lambda m: m.vertical, (
        'What is the vertical distance between the {a} and the {b}?',
        'How far apart are the {a} and the {b} vertically?', 'How much higher or lower is the {a} than the {b}?'),
        ('The {a} is {v} vertically from the {b}.', 'The {a} is {v} {dir} the {b}.', 'The vertical distance is {v}.'),
        (r'vertical|higher or lower',), 20),
    # value = a - b of the second member: smaller/bigger, as the facts have always reported them
    _comparison('smaller', None, -1, 'bigger', 'undecided_size', 'smaller than', (
        'Is the {a} smaller than the {b}?', 'Does the {a} take up less space than the {b}?')),
    _comparison('bigger', None, 1, 'smaller', 'undecided_size', 'bigger than', (
        'Is the {a} bigger than the {b}?', 'Is the {a} larger than the {b}?',
        'Does the {a} take up more space than the {b}?')),
    _comparison('shorter', HEIGHT, -1, 'taller', 'undecided_height', 'shorter than', (
        'Is the {a} shorter than the {b}?',)),
    _comparison('taller', HEIGHT, 1, 'shorter', 'undecided_height', 'taller than', (
        'Is the {a} taller than the {b}?', 'Does the {a} have a greater height than the {b}?')),
    _comparison('thinner', WIDTH, -1, 'wider', 'undecided_width', 'thinner than', (
        'Is the {a} thinner than the {b}?',)),
    _comparison('wider', WIDTH, 1, 'thinner', 'undecided_width', 'wider than', (
        'Is the {a} wider than the {b}?', 'Is the {a} broader than the {b}?')),
    _metric('direction', lambda m: m.bearing, (), (), unit='rad', answer_type='value', uses=(_F,)),
    _metric('clock_position', lambda m: m.clock, (
        "At what clock position is the {b} seen from the {a}, 12 o'clock being straight ahead?",),
        ("The {b} is at {v} o'clock from the {a}.",), unit='hour', answer_type='value', uses=(_F,),
        confidence='count'),
    # the per-object sizes, in the order the facts have always listed them
    _object('width', WIDTH, ('How wide is the {a}?', 'What is the width of the {a}?', 'Measure the width of the {a}.'),
            ('The {a} is {v} wide.', 'Its width is {v}.', 'About {v}.')),
    _object('depth', DEPTH, ('How deep is the {a}?',), ('The {a} is {v} deep.',), uses=(_F,)),
    _object('height', HEIGHT, ('How tall is the {a}?', 'What is the height of the {a}?',
                               'How high is the {a} from bottom to top?'),
            ('The {a} is {v} tall.', 'Its height is {v}.', 'About {v}.')),
    _choice('which_left', RIGHT, -1, 'more to the left', (
        'Which is more to the left, the {a} or the {b}?', 'Which is further left, the {a} or the {b}?',
        'Between the {a} and the {b}, which is further left?'), (r'which\b.*\b(?:left)',), 40),
    _choice('which_closer', FORWARD, -1, 'closer to the camera', (
        'Which is closer to the camera, the {a} or the {b}?', 'Which is nearer to the camera, the {a} or the {b}?',
        'Between the {a} and the {b}, which one is nearer?'), (r'which\b.*\b(?:closer|nearer)',), 50),
    _choice('which_higher', UP, 1, 'higher', (
        'Which is higher, the {a} or the {b}?', 'Which is further up, the {a} or the {b}?',
        'Between the {a} and the {b}, which sits higher up?'), (r'which\b.*\b(?:higher|up)\b',), 60),
    # the directional offset along the horizontal right; {side} is the side a is on
    _metric('lateral_offset', lambda m: abs(m.offset[RIGHT]), (
        'How far to the {side} of the {b} is the {a}?', 'By how much is the {a} to the {side} of the {b}?'),
        ('The {a} is {v} to the {side} of the {b}.', 'About {v}.'), uses=(_S,), sided=True),
)
# name -> entry, in the order facts are emitted and kinds listed
REGISTRY: dict[str, Relation] = {r.name: r for r in _ENTRIES}


def register(rel: Relation) -> None:
    """Add ``rel`` to :data:`REGISTRY` (facts, prompts, eval and synth then use it)."""
    if rel.name in REGISTRY:
        raise ValueError(f'relation {rel.name!r} is already registered')
    REGISTRY[rel.name] = rel


def unregister(name: str) -> None:
    REGISTRY.pop(name)


def relations(use: str) -> tuple[Relation, ...]:
    """The entries read by ``use`` ('facts', 'camera', 'ask', 'synth'), in registry order."""
    return tuple(r for r in REGISTRY.values() if use in r.uses)


def fact_groups(use: str = _F) -> list[tuple[Relation, ...]]:
    """Pair entries of ``use`` grouped as the facts emit them: (first, inverse) for predicates and
    comparisons (one fact per group), (entry,) for metrics; per-object sizes are not included."""
    groups, seen = [], set()
    for r in relations(use):
        if r.kind in ('object', 'choice') or r.name in seen:
            continue
        if r.inverse is not None:
            groups.append((r, REGISTRY[r.inverse]))
            seen.update((r.name, r.inverse))
        else:
            groups.append((r,))
    return groups


def _sizes(rel: Relation, m: PairMeasure) -> tuple[float, float]:
    if m.size_a is None or m.size_b is None:
        raise ValueError(f'{rel.name!r} compares sizes; measure the pair with size_a and size_b')
    if rel.size is None:
        # box volume, multiplied in the order (width, depth, height) the facts have always used
        vol = lambda s: float(s[WIDTH]) * float(s[DEPTH]) * float(s[HEIGHT])  # noqa: E731
        return vol(m.size_a), vol(m.size_b)
    return float(m.size_a[rel.size]), float(m.size_b[rel.size])


def signed(rel: Relation, m: PairMeasure) -> float:
    """How much ``a rel b`` holds: > 0 when it does (metres, m^3 for the volume)."""
    if rel.kind in ('predicate', 'choice'):
        return float(rel.sign * m.offset[rel.axis])
    if rel.kind == 'comparison':
        va, vb = _sizes(rel, m)
        return float(rel.sign * (va - vb))
    raise ValueError(f'{rel.name!r} ({rel.kind}) is not a predicate, comparison or choice')


def value(rel: Relation, m: PairMeasure) -> float:
    """The quantity of a metric entry (its unit), or the size of a for an object entry."""
    if rel.kind == 'object':
        if m.size_a is None:
            raise ValueError(f'{rel.name!r} is a size; measure the pair with size_a')
        return float(m.size_a[rel.size])
    return float(rel.measure(m))


def decide(rel: Relation, m: PairMeasure, margin_m: float, size_margin: float) -> Optional[bool]:
    """Whether ``a rel b`` holds: None when undecided (within ``margin_m`` along the axis; sizes
    whose ratio is within ``size_margin`` of 1)."""
    if rel.kind == 'comparison':
        va, vb = _sizes(rel, m)
        ratio = va / vb if vb > 0 else math.inf
        if not abs(ratio - 1.0) > size_margin:
            return None
        return (va > vb) == (rel.sign > 0)
    s = signed(rel, m)
    return None if abs(s) < margin_m else s > 0


def _first(options):
    return options[0]


def question(rel: Relation, a: str, b: str, m: Optional[PairMeasure] = None, pick=_first) -> str:
    """``rel``'s question about descriptions ``a``, ``b``; ``pick`` chooses the phrasing (the first
    by default); ``m`` fills {side} where a phrasing names one."""
    return pick(rel.questions).format(a=a, b=b, **({} if m is None else answer_fields(m)))


def answer(rel: Relation, m: PairMeasure, a: str, b: str, holds: Optional[bool] = None, said: str = '',
           pick=_first) -> str:
    """The answer sentence: yes/no or the chosen object by ``holds`` (decided: True/False), the
    spoken value ``said`` ("23.4 centimeters") for quantitative ones; first letter upper-case."""
    if rel.answer_type == 'yes_no':
        text = pick(YES if holds else NO).format(a=a, b=b, rel=rel.words)
    elif rel.answer_type == 'choice':
        text = pick(CHOICE).format(x=a if holds else b, rel=rel.words)
    else:
        text = pick(rel.answers).format(a=a, b=b, v=said, **answer_fields(m))
    return text[0].upper() + text[1:]


def say(value_m: float, unit: str, decimals: Optional[int] = None, name: int = 0) -> tuple[str, float]:
    """(spoken text, rounded number) of ``value_m`` metres in ``unit`` of :data:`UNITS`."""
    per, default, names = UNITS[unit]
    v = round(value_m / per, default if decimals is None else decimals)
    return (f'{v:.{decimals}f}' if decimals is not None else f'{v:g}') + f' {names[name]}', v


def answer_fields(m: PairMeasure) -> dict:
    """The extra placeholders of phrasings: {side} (the side a is on), {dir} (above/below)."""
    return {'side': 'right' if m.offset[RIGHT] > 0 else 'left', 'dir': 'above' if m.offset[UP] > 0 else 'below'}

