"""SpatialVLM-style questions from the core vocabulary, and depth-grounded prompting.

The question kinds, their phrasings ("How far is the red block from the blue target?") and the
patterns that recognise them are the entries of :mod:`spatialvlm_ros.core.vocabulary` used for
asking ('ask'); :data:`TEMPLATES` and :data:`ANSWER_TYPES` are live views of that registry. A
question is built for two object descriptions with :func:`make_question`;
:func:`interpret_question` reads such a question back (the geometric backend uses it to know
what to measure).

Depth-grounded prompting (SpatialRGPT-style region prompting, the ``'measured'`` mode):
:func:`depth_context` states the measured 3D centres of the named objects in the prompt, and
:func:`draw_marks` draws a labelled mark on each object in the image.

Directions are read in the gravity-aligned frame when one is known (left/right along the
camera's right made horizontal, above/below along up, in front/behind horizontally away from the
camera), else in the camera's view.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from ..core import vocabulary as vocab
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


class _AskView(_MappingABC):
    """kind -> ``attr`` of every vocabulary entry used for asking, read at each access (a relation
    registered later is a kind too)."""

    def __init__(self, attr: str) -> None:
        self._attr = attr

    def __getitem__(self, kind: str):
        rel = vocab.REGISTRY.get(kind)
        if rel is None or 'ask' not in rel.uses:
            raise KeyError(kind)
        return getattr(rel, self._attr)

    def __iter__(self):
        return iter([r.name for r in vocab.relations('ask')])

    def __len__(self) -> int:
        return len(vocab.relations('ask'))


# kind -> question phrasings ({a}, {b}: object descriptions)
TEMPLATES: Mapping[str, tuple[str, ...]] = _AskView('questions')
# kind -> 'distance' (metres), 'yes_no' or 'choice' (one of the two objects)
ANSWER_TYPES: Mapping[str, str] = _AskView('answer_type')
QUANTITATIVE_SUFFIX = ' Answer with a number and a unit.'
PROMPT_MODES = ('plain', 'measured')


def _check_kind(kind: str) -> None:
    if kind not in TEMPLATES:
        raise VLMError(f'unknown question kind {kind!r}; known kinds: {sorted(TEMPLATES)}', kind='config')


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
        _check_kind(self.kind)
        object.__setattr__(self, 'answer_type', ANSWER_TYPES[self.kind])


def make_question(kind: str, a: str, b: str, rng: Optional[random.Random] = None, template: int = 0) -> SpatialQuestion:
    """The ``kind`` question about descriptions ``a`` and ``b``; a random phrasing when ``rng``
    is given, else phrasing number ``template``. Quantitative questions ask for a unit."""
    _check_kind(kind)
    rel = vocab.REGISTRY[kind]
    pick = rng.choice if rng is not None else (lambda options: options[template % len(options)])
    text = vocab.question(rel, a, b, pick=pick)
    if rel.answer_type == 'distance':
        text += QUANTITATIVE_SUFFIX
    return SpatialQuestion(kind=kind, subject=a, object=b, text=text)


def interpret_question(text: str, descriptions: Sequence[str]) -> tuple[str, str, str]:
    """(kind, subject, object) of a question about two of ``descriptions``.

    The subject is the description named first. The kind is that of the first entry (by the
    vocabulary's ``rank``) one of whose patterns matches. Raises VLMError (kind 'unsupported')
    when the question does not name two known objects or asks something not in :data:`TEMPLATES`.
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
    for rel in sorted(vocab.relations('ask'), key=lambda r: r.rank):
        if any(re.search(p, t) for p in rel.patterns):
            return rel.name, named[0][1], named[1][1]
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
