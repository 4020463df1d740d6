"""SpatialVLM-style templated spatial questions and answers over one pair of measured objects.

Geometry in a gravity-aligned frame: ``up`` from ``core.gravity`` when the pipeline estimated it
(else the camera's -y, recorded as ``gravity_source='camera'``), ``right`` the camera's x axis
made horizontal, ``forward`` = up x right (away from the camera). Sizes are ranges of the
object's cleaned 3D points along those axes (2nd-98th percentile).

Categories follow the paper: qualitative predicates and choices (left/right, above/below, in
front/behind, taller/shorter, wider/thinner, bigger/smaller, which is closer/higher/further left)
and quantitative ones (direct, horizontal and vertical distance, width, height, horizontal
offset), several question and answer phrasings each, units drawn at random (metres,
centimetres, inches, feet). A qualitative relation within ``margin_m`` is never asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ['UNITS', 'Geometry', 'QA', 'pair_geometry', 'make_questions', 'QUALITATIVE', 'QUANTITATIVE']

# unit -> (metres per unit, decimals, spoken forms)
UNITS = {
    'm': (1.0, 2, ('meters', 'm')),
    'cm': (0.01, 1, ('centimeters', 'cm')),
    'in': (0.0254, 1, ('inches', 'in')),
    'ft': (0.3048, 2, ('feet', 'ft')),
}


@dataclass(frozen=True)
class Geometry:
    """Measurements of the ordered pair (a, b) in the gravity-aligned frame, metres."""

    distance: float
    horizontal: float
    vertical: float  # a above b when > 0
    lateral: float  # a right of b when > 0 (along ``right``)
    depth: float  # a farther from the camera than b when > 0 (along ``forward``)
    size_a: tuple  # (width, height, depth) of a
    size_b: tuple


@dataclass(frozen=True)
class QA:
    category: str
    qualitative: bool
    question: str
    answer: str
    value_m: Optional[float]  # the metric truth of a quantitative answer (None: qualitative)
    answer_value: Optional[float]  # value in ``unit`` as written in the answer
    unit: Optional[str]
    subject: str
    object: str


def _basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    right = np.array([1.0, 0.0, 0.0]) - up[0] * up
    right /= np.linalg.norm(right)
    return up, right, np.cross(up, right)


def _size(obs, axes) -> tuple:
    pts = np.asarray(obs.points, np.float64)
    if len(pts) >= 10:
        proj = pts @ np.stack(axes, axis=1)
        lo, hi = np.percentile(proj, (2, 98), axis=0)
        return tuple(float(v) for v in hi - lo)
    ext = np.asarray(obs.extent, np.float64)
    return tuple(float(np.abs(ax) @ ext) for ax in axes)  # the axis-aligned box projected


def pair_geometry(a, b, up) -> Geometry:
    """Measure observations ``a`` and ``b`` (same frame) with ``up`` the optical-frame up vector."""
    up, right, forward = _basis(up)
    d = np.asarray(a.center, np.float64) - np.asarray(b.center, np.float64)
    vert = float(d @ up)
    axes = (right, up, forward)
    return Geometry(distance=float(np.linalg.norm(d)), horizontal=float(np.linalg.norm(d - vert * up)),
                    vertical=vert, lateral=float(d @ right), depth=float(d @ forward),
                    size_a=_size(a, axes), size_b=_size(b, axes))


# category -> question templates; {A}, {B} are object descriptions
_Q = {
    'left_predicate': ['Is {A} to the left of {B}?', 'Does {A} appear on the left side of {B}?',
                       'From the camera, is {A} left of {B}?'],
    'right_predicate': ['Is {A} to the right of {B}?', 'Does {A} appear on the right side of {B}?',
                        'From the camera, is {A} right of {B}?'],
    'above_predicate': ['Is {A} above {B}?', 'Is {A} higher than {B}?', 'Is {A} positioned over {B}?'],
    'below_predicate': ['Is {A} below {B}?', 'Is {A} lower than {B}?', 'Is {A} beneath {B}?'],
    'front_predicate': ['Is {A} in front of {B}?', 'Is {A} closer to the camera than {B}?',
                        'Is {A} nearer to the viewer than {B}?'],
    'behind_predicate': ['Is {A} behind {B}?', 'Is {A} farther from the camera than {B}?',
                         'Is {A} further away than {B}?'],
    'taller_predicate': ['Is {A} taller than {B}?', 'Does {A} have a greater height than {B}?'],
    'wider_predicate': ['Is {A} wider than {B}?', 'Is {A} broader than {B}?'],
    'bigger_predicate': ['Is {A} bigger than {B}?', 'Is {A} larger than {B}?', 'Does {A} take up more space than {B}?'],
    'closer_choice': ['Which is closer to the camera, {A} or {B}?', 'Between {A} and {B}, which one is nearer?'],
    'higher_choice': ['Which is higher, {A} or {B}?', 'Between {A} and {B}, which sits higher up?'],
    'left_choice': ['Which is more to the left, {A} or {B}?', 'Between {A} and {B}, which is further left?'],
    'distance': ['How far apart are {A} and {B}?', 'What is the distance between {A} and {B}?',
                 'How far is {A} from {B}?', 'Measure the distance from {A} to {B}.'],
    'horizontal_distance': ['What is the horizontal distance between {A} and {B}?',
                            'How far apart are {A} and {B} horizontally?',
                            'Ignoring height, how far is {A} from {B}?'],
    'vertical_distance': ['What is the vertical distance between {A} and {B}?',
                          'How much higher or lower is {A} than {B}?', 'How far apart are {A} and {B} vertically?'],
    'width': ['How wide is {A}?', 'What is the width of {A}?', 'Measure the width of {A}.'],
    'height': ['How tall is {A}?', 'What is the height of {A}?', 'How high is {A} from bottom to top?'],
    'lateral_offset': ['How far to the {side} of {B} is {A}?', 'By how much is {A} to the {side} of {B}?'],
}
_YES = ['Yes.', 'Yes, {A} is {rel} {B}.', 'Correct, {A} is {rel} {B}.']
_NO = ['No.', 'No, {A} is not {rel} {B}.', 'Incorrect, {A} is not {rel} {B}.']
_CHOICE = ['{X}.', '{X} is {rel}.', 'It is {X}.']
_AMOUNT = {
    'distance': ['{A} and {B} are {v} apart.', 'The distance is {v}.', 'About {v}.'],
    'horizontal_distance': ['Horizontally they are {v} apart.', '{A} is {v} from {B} horizontally.', 'About {v}.'],
    'vertical_distance': ['{A} is {v} {dir} {B}.', 'The vertical distance is {v}.', 'About {v}.'],
    'width': ['{A} is {v} wide.', 'Its width is {v}.', 'About {v}.'],
    'height': ['{A} is {v} tall.', 'Its height is {v}.', 'About {v}.'],
    'lateral_offset': ['{A} is {v} to the {side} of {B}.', 'About {v}.'],
}
_REL = {'left_predicate': 'to the left of', 'right_predicate': 'to the right of', 'above_predicate': 'above',
        'below_predicate': 'below', 'front_predicate': 'in front of', 'behind_predicate': 'behind',
        'taller_predicate': 'taller than', 'wider_predicate': 'wider than', 'bigger_predicate': 'bigger than'}
QUALITATIVE = tuple(list(_REL) + ['closer_choice', 'higher_choice', 'left_choice'])
QUANTITATIVE = tuple(_AMOUNT)


def _say(rng, value_m: float) -> tuple[str, float, str]:
    unit = str(rng.choice(list(UNITS)))
    per, decimals, names = UNITS[unit]
    v = round(value_m / per, decimals)
    return f'{v:g} {names[int(rng.integers(len(names)))]}', v, unit


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _qualitative(cat: str, g: Geometry, margin: float) -> Optional[tuple]:
    """(margin value deciding it, truth) or None when within the margin."""
    vol = lambda s: s[0] * s[1] * s[2]  # noqa: E731
    signed = {
        'left_predicate': -g.lateral, 'right_predicate': g.lateral, 'above_predicate': g.vertical,
        'below_predicate': -g.vertical, 'front_predicate': -g.depth, 'behind_predicate': g.depth,
        'taller_predicate': g.size_a[1] - g.size_b[1], 'wider_predicate': g.size_a[0] - g.size_b[0],
        'bigger_predicate': np.cbrt(vol(g.size_a)) - np.cbrt(vol(g.size_b)),
        'closer_choice': -g.depth, 'higher_choice': g.vertical, 'left_choice': -g.lateral,
    }[cat]
    return None if abs(signed) < margin else (float(signed), signed > 0)


def make_questions(rng, names: tuple, descs: tuple, g: Geometry, n: int, margin_m: float) -> list[QA]:
    """Up to ``n`` QA pairs about objects ``names`` = (a, b) described as ``descs``. Each of the
    ``n`` slots is qualitative or quantitative with probability 1/2 (as in the paper); within its
    half, an undecidable category (a relation inside the margin) is replaced by another draw (at
    most 4), so near-ties do not skew the mix; a slot with none decidable is dropped."""
    out: list[QA] = []
    a_name, b_name = names
    A, B = descs
    for _ in range(n):
        qualitative = bool(rng.random() < 0.5)
        for _ in range(4):
            qa = _one(rng, qualitative, a_name, b_name, A, B, g, margin_m)
            if qa is not None:
                out.append(qa)
                break
    return out


def _one(rng, qualitative: bool, a_name: str, b_name: str, A: str, B: str, g: Geometry,
         margin_m: float) -> Optional[QA]:
    """One question of the given half, or None when the drawn category is undecidable."""
    cat = str(rng.choice(QUALITATIVE if qualitative else QUANTITATIVE))
    if qualitative:
        decided = _qualitative(cat, g, margin_m)
        if decided is None:
            return None
        _, truth = decided
        q = _pick(rng, _Q[cat]).format(A=A, B=B)
        if cat.endswith('_choice'):
            rel = {'closer_choice': 'closer', 'higher_choice': 'higher', 'left_choice': 'more to the left'}[cat]
            x = A if truth else B
            ans = _pick(rng, _CHOICE).format(X=x[0].upper() + x[1:], rel=rel)
        else:
            ans = _pick(rng, _YES if truth else _NO).format(A=A, B=B, rel=_REL[cat])
            ans = ans[0].upper() + ans[1:]
        return QA(cat, True, q, ans, None, None, None, a_name, b_name)
    value = {'distance': g.distance, 'horizontal_distance': g.horizontal, 'vertical_distance': abs(g.vertical),
             'width': g.size_a[0], 'height': g.size_a[1], 'lateral_offset': abs(g.lateral)}[cat]
    if cat == 'lateral_offset' and abs(g.lateral) < margin_m:
        return None
    side = 'right' if g.lateral > 0 else 'left'
    said, v, unit = _say(rng, value)
    q = _pick(rng, _Q[cat]).format(A=A, B=B, side=side)
    ans = _pick(rng, _AMOUNT[cat]).format(A=A, B=B, v=said, side=side,
                                          dir='above' if g.vertical > 0 else 'below')
    ans = ans[0].upper() + ans[1:]
    obj = None if cat in ('width', 'height') else b_name
    return QA(cat, False, q, ans, float(value), v, unit, a_name, obj or '')
