"""SpatialVLM-style evaluation of a backend on simulator ground truth.

Questions are generated per frame from the ground-truth object centres of a bag recorded by
``spatialvlm sim record`` (``/sim/ground_truth``, camera optical frame), half qualitative and
half quantitative as in the paper: every question kind of :mod:`.prompts` (the core vocabulary's
'ask' entries) measurable from centres alone, its truth measured by the vocabulary in the true
gravity-aligned frame (the record's ``camera_rotation_world``; the camera's view without it).
Ambiguous questions are
not asked: qualitative ones whose ground-truth difference is within ``margin_m``, quantitative
ones whose true value is below ``min_value_m``.

Metrics (the paper's, plus tighter bands): qualitative accuracy; the share of quantitative
answers that state a number; within [0.5x, 2x], within +-25 % and +-10 % of the truth (over
all quantitative questions: an answer without a number is a miss); mean relative error over
the answers with a number.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from .base import VLMBackend
from .errors import VLMError
from .parse import parse_choice, parse_distance, parse_yes_no
from ..core import vocabulary as vocab
from .prompts import ANSWER_TYPES, make_question

__all__ = ['EvalConfig', 'EvalItem', 'questions_from_ground_truth', 'score', 'load_bag_frames', 'evaluate',
           'format_table', 'ask_each', 'failure_summary']

logger = logging.getLogger(__name__)

COLOR, DEPTH, INFO, GT = '/camera/color/image_raw', '/camera/depth/image_raw', '/camera/color/camera_info', '/sim/ground_truth'


@dataclass(frozen=True)
class EvalConfig:
    """Options of :func:`evaluate`."""

    # Object name in the ground truth -> description used in questions.
    objects: dict = field(default_factory=lambda: {'gripper': 'yellow gripper', 'block': 'red block',
                                                   'target': 'blue target'})
    # Frames asked about (evenly spaced over the bag).
    frames: int = 10
    # Qualitative questions need a true difference beyond this (metres).
    margin_m: float = 0.03
    # Quantitative questions need a true value of at least this (metres).
    min_value_m: float = 0.02
    # Seed of the question sampler (kinds, phrasings).
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.objects, Mapping) or len(self.objects) < 2:
            raise VLMError(f'EvalConfig.objects: expected at least two name -> description entries, got {self.objects!r}',
                           kind='config')
        if not isinstance(self.frames, int) or self.frames < 1:
            raise VLMError(f'EvalConfig.frames: expected an integer >= 1, got {self.frames!r}', kind='config')
        for name in ('margin_m', 'min_value_m'):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise VLMError(f'EvalConfig.{name}: expected metres >= 0, got {v!r}', kind='config')


@dataclass
class EvalItem:
    """One question with its truth: metres (quantitative), a bool (yes/no) or a description (choice)."""

    stamp_ns: int
    kind: str
    question: str
    truth: object
    choices: tuple = ()
    answer: Optional[str] = None
    error: Optional[str] = None
    error_kind: Optional[str] = None

    @property
    def answer_type(self) -> str:
        return ANSWER_TYPES[self.kind]


def ground_truth_up(gt: Mapping) -> np.ndarray:
    """World up ((3,) unit vector) in the optical frame of a ground-truth record: the third row of
    its ``camera_rotation_world`` (world +z), or the camera's -y when the record has none."""
    rot = gt.get('camera_rotation_world')
    return vocab.CAMERA_UP if rot is None else np.asarray(rot, dtype=np.float64).reshape(3, 3)[2]


def _askable(answer_types: tuple) -> list:
    return [r for r in vocab.relations('ask') if r.needs == 'centres' and r.answer_type in answer_types]


def questions_from_ground_truth(gt: Mapping, config: EvalConfig, rng: random.Random) -> list[EvalItem]:
    """For every object pair of one ground-truth record: one quantitative and one qualitative question."""
    names = [n for n in config.objects if gt.get(n) is not None]
    up = ground_truth_up(gt)
    items: list[EvalItem] = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rng.random() < 0.5:
                a, b = b, a
            m = vocab.measure_pair(gt[a], gt[b], up)
            da, db = config.objects[a], config.objects[b]
            quant = [r for r in _askable(('distance',)) if vocab.value(r, m) >= config.min_value_m]
            if quant:
                r = rng.choice(quant)
                q = make_question(r.name, da, db, rng=rng)
                items.append(EvalItem(int(gt['stamp_ns']), r.name, q.text, vocab.value(r, m)))
            qual = [r for r in _askable(('yes_no', 'choice')) if abs(vocab.signed(r, m)) > config.margin_m]
            if qual:
                r = rng.choice(qual)
                q = make_question(r.name, da, db, rng=rng)
                holds = vocab.signed(r, m) > 0
                if r.answer_type == 'yes_no':
                    items.append(EvalItem(int(gt['stamp_ns']), r.name, q.text, bool(holds)))
                else:
                    items.append(EvalItem(int(gt['stamp_ns']), r.name, q.text, da if holds else db, (da, db)))
    return items


def _correct(item: EvalItem) -> bool:
    if item.answer is None:
        return False
    if item.answer_type == 'yes_no':
        return parse_yes_no(item.answer) is item.truth
    return parse_choice(item.answer, item.choices) == item.truth


def score(items: Sequence[EvalItem]) -> dict:
    """The paper's metrics over answered :class:`EvalItem` s (percentages, 0-100)."""
    qual = [it for it in items if it.answer_type != 'distance']
    quant = [it for it in items if it.answer_type == 'distance']
    parsed = [(parse_distance(it.answer) if it.answer is not None else None, float(it.truth)) for it in quant]
    with_number = [(v, t) for v, t in parsed if v is not None]
    ratio = [v / t for v, t in with_number]
    rel = [abs(v - t) / t for v, t in with_number]

    def pct(n: int, total: int) -> Optional[float]:
        return None if total == 0 else round(100.0 * n / total, 2)

    return {
        'questions': len(items),
        'qualitative_questions': len(qual),
        'quantitative_questions': len(quant),
        'backend_errors': sum(it.error is not None for it in items),
        'qualitative_accuracy_pct': pct(sum(_correct(it) for it in qual), len(qual)),
        'answers_with_number_pct': pct(len(with_number), len(quant)),
        'within_0.5x_2x_pct': pct(sum(0.5 <= r <= 2.0 for r in ratio), len(quant)),
        'within_25pct_pct': pct(sum(e <= 0.25 for e in rel), len(quant)),
        'within_10pct_pct': pct(sum(e <= 0.10 for e in rel), len(quant)),
        'mean_relative_error': None if not rel else round(float(np.mean(rel)), 4),
        'median_relative_error': None if not rel else round(float(np.median(rel)), 4),
    }


def paired_sim_messages(bag: Path) -> list[tuple[dict, dict]]:
    """({'color', 'depth', 'info'}: message, ground-truth record) of every complete frame of a
    simulator bag, in stamp order."""
    from ..messages.bag import read_messages

    by_stamp: dict[int, dict] = {}
    gts: dict[int, dict] = {}
    for m in read_messages(bag, [COLOR, DEPTH, INFO, GT]):
        if m.topic == GT:
            doc = json.loads(m.msg.data)
            gts[int(doc['stamp_ns'])] = doc
            continue
        stamp = int(m.msg.header.stamp.sec) * 1_000_000_000 + int(m.msg.header.stamp.nanosec)
        by_stamp.setdefault(stamp, {})[{COLOR: 'color', DEPTH: 'depth', INFO: 'info'}[m.topic]] = m.msg
    return [(by_stamp[s], gts[s]) for s in sorted(by_stamp) if len(by_stamp[s]) == 3 and s in gts]


def load_bag_frames(bag: Path, frames: int) -> list[tuple[object, dict]]:
    """``frames`` evenly spaced (core Frame, ground-truth record) pairs of a simulator bag."""
    from ..messages.convert import frame_from_msgs

    paired = paired_sim_messages(bag)
    if not paired:
        raise VLMError(f'{bag} has no frame with colour, depth, camera_info and ground truth; '
                       'record one with: spatialvlm sim record --out BAG', kind='input')
    idx = sorted({int(round(i)) for i in np.linspace(0, len(paired) - 1, min(frames, len(paired)))})
    out = []
    for i in idx:
        f, gt = paired[i]
        out.append((frame_from_msgs(f['color'], f['depth'], f['info']), gt))
    return out


def ask_each(backend: VLMBackend, requests: list) -> list:
    """One answer or VLMError per request, each question asked once: the backend's
    ``ask_batch_results`` where it has one; otherwise ``ask_batch``, and after a failed batch the
    questions one by one only when the failure was about a question ('input', 'unsupported',
    'protocol'), not about the server (a dead or busy server is not asked twice)."""
    each = getattr(backend, 'ask_batch_results', None)
    if each is not None:
        return list(each(requests))
    try:
        return list(backend.ask_batch(requests))
    except VLMError as err:
        if err.kind not in PER_QUESTION_KINDS:
            return [err] * len(requests)
    out: list = []
    for req in requests:
        try:
            out.append(backend.ask(*req))
        except VLMError as err:
            out.append(err)
    return out


# VLMError kinds that are about one question, not the backend: worth asking the others singly.
PER_QUESTION_KINDS = ('input', 'unsupported', 'protocol')


def evaluate(backend: VLMBackend, frames: Sequence[tuple[object, dict]], config: EvalConfig) -> tuple[dict, list]:
    """Ask ``backend`` the generated questions about each (frame, ground truth); returns
    (metrics, items). A failing question is recorded with its error and scored as a miss; an
    answer cut off at the token limit before it states what was asked is recorded as an error too.
    ``latency_ms_per_question_p50`` is over the frames whose questions were all answered."""
    rng = random.Random(config.seed)
    items: list[EvalItem] = []
    latencies = []
    for frame, gt in frames:
        batch = questions_from_ground_truth(gt, config, rng)
        if not batch:
            continue
        t0 = time.perf_counter()
        results = ask_each(backend, [([frame], it.question) for it in batch])
        dt = (time.perf_counter() - t0) * 1e3 / len(batch)
        for it, r in zip(batch, results):
            if isinstance(r, BaseException):
                it.error = str(r)
                it.error_kind = getattr(r, 'kind', type(r).__name__)
                continue
            it.answer = r
            if getattr(r, 'truncated', False) and not _parsed(it):
                it.error = (f'answer cut off at the token limit (finish_reason "length") before it stated '
                            f'{"a distance" if it.answer_type == "distance" else "a choice"}: {str(r)[:80]!r}; '
                            'raise max_new_tokens')
                it.error_kind = 'truncated'
        if all(it.error is None for it in batch):
            latencies.append(dt)
        items.extend(batch)
    metrics = score(items)
    metrics['frames'] = len(frames)
    metrics['latency_ms_per_question_p50'] = None if not latencies else round(float(np.median(latencies)), 3)
    return metrics, items


def _parsed(item: EvalItem) -> bool:
    if item.answer_type == 'distance':
        return parse_distance(item.answer) is not None
    if item.answer_type == 'yes_no':
        return parse_yes_no(item.answer) is not None
    return parse_choice(item.answer, item.choices) is not None


def failure_summary(items: Sequence[EvalItem]) -> Optional[dict]:
    """When most questions failed in the backend (not counting cut-off answers): {'failed',
    'questions', 'kind', 'count', 'error'} with the most common error text; None otherwise."""
    failed = [it for it in items if it.error is not None and it.error_kind != 'truncated']
    if not items or 2 * len(failed) <= len(items):
        return None
    counts = Counter((it.error_kind, it.error) for it in failed)
    (kind, text), n = counts.most_common(1)[0]
    return {'failed': len(failed), 'questions': len(items), 'kind': kind, 'count': n, 'error': text}


_ROWS = [('questions', 'questions'), ('qualitative accuracy', 'qualitative_accuracy_pct'),
         ('answers with a number', 'answers_with_number_pct'), ('within [0.5x, 2x]', 'within_0.5x_2x_pct'),
         ('within +-25%', 'within_25pct_pct'), ('within +-10%', 'within_10pct_pct'),
         ('mean relative error', 'mean_relative_error'), ('backend errors', 'backend_errors')]


def format_table(metrics: Mapping, title: str = '') -> str:
    """A plain-text table of the metrics (percentages with a % sign)."""
    width = max(len(r) for r, _ in _ROWS)
    lines = [title] if title else []
    for label, key in _ROWS:
        v = metrics.get(key)
        text = 'n/a' if v is None else (f'{v:.1f}%' if key.endswith('_pct') else f'{v}')
        lines.append(f'  {label:<{width}}  {text}')
    return '\n'.join(lines)
