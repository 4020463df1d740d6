"""SpatialVLM-style templated spatial questions and answers over one pair of measured objects.

Everything comes from the core vocabulary (:mod:`spatialvlm_ros.core.vocabulary`): its 'synth'
entries are the categories (named as the vocabulary names them), their phrasings the questions
and answers, :func:`~spatialvlm_ros.core.vocabulary.measure_pair` the geometry in the
gravity-aligned frame (``up`` from ``core.gravity`` when the pipeline estimated it, else the
camera's -y, recorded as ``gravity_source='camera'``), and ``core.sizes`` the (width, height,
depth) of each object.

As in the paper, each question is qualitative (predicates and choices: left/right, above/below,
in front/behind, taller/shorter, wider/thinner, bigger/smaller, which is closer/higher/further
left) or quantitative (direct, horizontal and vertical distance, width, height, the lateral
offset) with probability 1/2, several phrasings each, units drawn at random (metres,
centimetres, inches, feet). A qualitative relation the vocabulary leaves undecided (within
``margin_m`` along its axis, sizes within ``size_margin`` of each other) is never asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..core import vocabulary as vocab
from ..core.facts import FactsConfig
from ..core.sizes import gravity_extent

__all__ = ['UNITS', 'QA', 'pair_geometry', 'make_questions', 'qualitative', 'quantitative', 'QUALITATIVE',
           'QUANTITATIVE']

# unit -> (metres per unit, decimals, spoken forms): the units answers are drawn from
UNITS = {u: vocab.UNITS[u] for u in vocab.SYNTH_UNITS}


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


def qualitative() -> tuple[str, ...]:
    """The qualitative categories (yes/no and choice entries for synthesis), registry order."""
    return tuple(r.name for r in vocab.relations('synth') if r.answer_type in ('yes_no', 'choice'))


def quantitative() -> tuple[str, ...]:
    """The quantitative categories (length-valued entries for synthesis), registry order."""
    return tuple(r.name for r in vocab.relations('synth') if r.answer_type == 'distance')


QUALITATIVE, QUANTITATIVE = qualitative(), quantitative()


def pair_geometry(a, b, up, sizes: Optional[tuple] = None) -> vocab.PairMeasure:
    """Observations ``a`` and ``b`` (same camera frame) measured with ``up`` (optical frame).

    sizes: their (width, height, depth) as the frame's step measured them (``PipelineResult.sizes``);
    measured here (:func:`~spatialvlm_ros.core.sizes.gravity_extent`) when None.
    """
    sa, sb = sizes if sizes is not None else (gravity_extent(a, up), gravity_extent(b, up))
    return vocab.measure_pair(a.center, b.center, up, sa, sb)


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def make_questions(rng, names: tuple, descs: tuple, m: vocab.PairMeasure, n: int, margin_m: float,
                   size_margin: float = FactsConfig.size_margin) -> list[QA]:
    """Up to ``n`` QA pairs about objects ``names`` = (a, b) described as ``descs`` (bare: "red
    block"), measured as ``m``. Each of the ``n`` slots is qualitative or quantitative with
    probability 1/2 (as in the paper); within its half, an undecidable category (a relation inside
    the margin, a size without sizes) is replaced by another draw (at most 4), so near-ties do not
    skew the mix; a slot with none decidable is dropped."""
    out: list[QA] = []
    halves = {True: [vocab.REGISTRY[c] for c in qualitative()], False: [vocab.REGISTRY[c] for c in quantitative()]}
    for _ in range(n):
        is_qual = bool(rng.random() < 0.5)
        for _ in range(4):
            qa = _one(rng, is_qual, halves[is_qual], names, descs, m, margin_m, size_margin)
            if qa is not None:
                out.append(qa)
                break
    return out


def _one(rng, is_qual: bool, rels: list, names: tuple, descs: tuple, m: vocab.PairMeasure, margin_m: float,
         size_margin: float) -> Optional[QA]:
    """One question of the given half, or None when the drawn category is undecidable."""
    rel = rels[int(rng.integers(len(rels)))]
    if rel.needs == 'sizes' and (m.size_a is None or m.size_b is None):
        return None
    if rel.needs == 'points' and m.closest is None:
        return None
    (a_name, b_name), (a, b) = names, descs
    pick = lambda options: _pick(rng, options)  # noqa: E731
    if is_qual:
        holds = vocab.decide(rel, m, margin_m, size_margin)
        if holds is None:
            return None
        q = vocab.question(rel, a, b, m, pick)
        return QA(rel.name, True, q, vocab.answer(rel, m, a, b, holds=holds, pick=pick), None, None, None,
                  a_name, b_name)
    value = vocab.value(rel, m)
    if rel.sided and abs(m.offset[vocab.RIGHT]) < margin_m:
        return None
    unit = str(rng.choice(list(UNITS)))
    said, v = vocab.say(value, unit, name=int(rng.integers(len(UNITS[unit][2]))))
    q = vocab.question(rel, a, b, m, pick)
    ans = vocab.answer(rel, m, a, b, said=said, pick=pick)
    return QA(rel.name, False, q, ans, float(value), v, unit, a_name, '' if rel.kind == 'object' else b_name)
