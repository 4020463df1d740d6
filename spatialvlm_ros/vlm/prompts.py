"""SpatialVLM-style question templates per fact type, and depth-grounded prompting.

Each :data:`TEMPLATES` entry is a question kind with a few phrasings in the style of the
SpatialVLM data engine ("How far is the red block from the blue target?"). A question is
built for two object descriptions with :func:`make_question`; :func:`interpret_question`
reads such a question back (the geometric backend uses it to know what to measure).

Depth-grounded prompting (SpatialRGPT-style region prompting, the ``'measured'`` mode):
:func:`depth_context` states the measured 3D centres of the named objects in the prompt, and
:func:`draw_marks` draws a labelled mark on each object in the image.

Directions are in the camera's view: left/right along image x, above/below along image y
(gravity only for a level camera), in front/behind along the optical axis.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from .errors import VLMError

__all__ = [
    'ANSWER_TYPES',
    'PROMPT_MODES',
    'TEMPLATES',
    'SpatialQuestion',
    'depth_context',
    'draw_marks',
    'interpret_question',
    'make_question',
    'with_context',
]

# kind -> question phrasings ({a}, {b}: object descriptions)
TEMPLATES: dict[str, tuple[str, ...]] = {
    'distance': (
        'What is the distance between the {a} and the {b}?',
        'How far is the {a} from the {b}?',
        'How far apart are the {a} and the {b}?',
        'Measure the distance between the {a} and the {b}.',
        'How close is the {a} to the {b}?',
    ),
    'horizontal_distance': (
        'What is the horizontal distance between the {a} and the {b}?',
        'How far apart are the {a} and the {b} horizontally?',
    ),
    'vertical_distance': (
        'What is the vertical distance between the {a} and the {b}?',
        'How far apart are the {a} and the {b} vertically?',
    ),
    'left_of': ('Is the {a} to the left of the {b}?', 'Is the {a} left of the {b} from the camera\'s viewpoint?'),
    'right_of': ('Is the {a} to the right of the {b}?', 'Is the {a} right of the {b} from the camera\'s viewpoint?'),
    'above': ('Is the {a} above the {b}?', 'Is the {a} higher than the {b}?'),
    'below': ('Is the {a} below the {b}?', 'Is the {a} lower than the {b}?'),
    'in_front_of': ('Is the {a} in front of the {b}?', 'Is the {a} closer to the camera than the {b}?'),
    'behind': ('Is the {a} behind the {b}?', 'Is the {a} farther from the camera than the {b}?'),
    'which_left': ('Which is more to the left, the {a} or the {b}?', 'Which is further left, the {a} or the {b}?'),
    'which_closer': ('Which is closer to the camera, the {a} or the {b}?', 'Which is nearer to the camera, the {a} or the {b}?'),
    'which_higher': ('Which is higher, the {a} or the {b}?', 'Which is further up, the {a} or the {b}?'),
}
# kind -> 'distance' (metres), 'yes_no' or 'choice' (one of the two objects)
ANSWER_TYPES: dict[str, str] = {
    k: ('distance' if k.endswith('distance') else 'choice' if k.startswith('which_') else 'yes_no') for k in TEMPLATES
}
QUANTITATIVE_SUFFIX = ' Answer with a number and a unit.'
PROMPT_MODES = ('plain', 'measured')


@dataclass(frozen=True)
class SpatialQuestion:
    """One templated question about two objects.

    kind: a :data:`TEMPLATES` key. subject / object: the descriptions ("red block") in the
    order of the template's {a} and {b}. text: the question as asked.
    """

    kind: str
    subject: str
    object: str
    text: str
    answer_type: str = field(init=False)

    def __post_init__(self) -> None:
        if self.kind not in TEMPLATES:
            raise VLMError(f'unknown question kind {self.kind!r}; known kinds: {sorted(TEMPLATES)}', kind='config')
        object.__setattr__(self, 'answer_type', ANSWER_TYPES[self.kind])


def make_question(kind: str, a: str, b: str, rng: Optional[random.Random] = None, template: int = 0) -> SpatialQuestion:
    """The ``kind`` question about descriptions ``a`` and ``b``; a random phrasing when ``rng``
    is given, else phrasing number ``template``. Quantitative questions ask for a unit."""
    if kind not in TEMPLATES:
        raise VLMError(f'unknown question kind {kind!r}; known kinds: {sorted(TEMPLATES)}', kind='config')
    phrasings = TEMPLATES[kind]
    text = (rng.choice(phrasings) if rng is not None else phrasings[template % len(phrasings)]).format(a=a, b=b)
    if ANSWER_TYPES[kind] == 'distance':
        text += QUANTITATIVE_SUFFIX
    return SpatialQuestion(kind=kind, subject=a, object=b, text=text)


# Checked in order: the first whose pattern matches decides the kind.
_KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    ('horizontal_distance', r'horizontal'),
    ('vertical_distance', r'vertical'),
    ('distance', r'distance|how far|apart|how close'),
    ('which_left', r'which\b.*\b(?:left)'),
    ('which_closer', r'which\b.*\b(?:closer|nearer)'),
    ('which_higher', r'which\b.*\b(?:higher|up)\b'),
    ('left_of', r'\bleft\b'),
    ('right_of', r'\bright\b'),
    ('in_front_of', r'in front|closer to the camera'),
    ('behind', r'behind|farther from the camera'),
    ('above', r'\babove\b|higher'),
    ('below', r'\bbelow\b|lower|under'),
)


def interpret_question(text: str, descriptions: Sequence[str]) -> tuple[str, str, str]:
    """(kind, subject, object) of a question about two of ``descriptions``.

    The subject is the description named first. Raises VLMError (kind 'unsupported') when
    the question does not name two known objects or asks something not in :data:`TEMPLATES`.
    """
    t = text.lower()
    named = []
    for d in descriptions:
        m = re.search(r'\b' + re.escape(d.lower()) + r'\b', t)
        if m is not None:
            named.append((m.start(), d))
    named.sort()
    if len(named) != 2:
        msg = (f'cannot tell which two objects the question {text!r} is about (it names {[d for _, d in named]}); '
               f'name two of {list(descriptions)}')
        raise VLMError(msg, kind='unsupported')
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, t):
            return kind, named[0][1], named[1][1]
    raise VLMError(f'question {text!r} asks nothing this answerer measures; kinds: {sorted(TEMPLATES)}',
                   kind='unsupported')


def depth_context(centres: Mapping[str, Optional[Sequence[float]]], frame_id: str = 'camera') -> str:
    """Prompt text stating measured object centres (metres, camera optical frame).

    centres: description -> (x, y, z) metres, or None when not measured (said so in the text).
    """
    parts = []
    for name, c in centres.items():
        if c is None:
            parts.append(f'the {name} was not measured')
        else:
            x, y, z = (float(v) for v in c)
            parts.append(f'the {name} is at x={x:.2f} m (right), y={y:.2f} m (down), z={z:.2f} m (forward)')
    return f'Depth camera measurements in the {frame_id} frame: ' + '; '.join(parts) + '.'


def with_context(question: str, context: str) -> str:
    """The question with a depth-grounded context sentence before it."""
    return f'{context}\n{question}' if context else question


def draw_marks(rgb: np.ndarray, marks: Sequence[tuple[str, float, float]], radius_px: int = 6) -> np.ndarray:
    """A copy of ``rgb`` (HxWx3 uint8) with a white-ringed dot and a label at each (label, u, v) pixel.

    Marks outside the image are skipped.
    """
    import cv2

    out = np.ascontiguousarray(rgb).copy()
    h, w = out.shape[:2]
    for label, u, v in marks:
        if not (np.isfinite(u) and np.isfinite(v)) or not (0 <= u < w and 0 <= v < h):
            continue
        p = (int(round(u)), int(round(v)))
        cv2.circle(out, p, radius_px + 2, (255, 255, 255), -1)
        cv2.circle(out, p, radius_px, (0, 0, 0), -1)
        cv2.putText(out, label, (p[0] + radius_px + 3, p[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out
