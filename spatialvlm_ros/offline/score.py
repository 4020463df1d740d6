"""Scoring rewards: against simulator ground truth (the demo, labelled sim bags) and on their own.

The reward-quality numbers (:func:`reward_quality` per episode, :func:`pool_quality` over
episodes) are the ones RL users judge reward labellers by (``shared/docs/rl_rewards.md``):

- value-order correlation (VOC, as GVL): Spearman of the per-frame reward against time, judged on
  successful episodes (1.0: the reward rises monotonically with progress), over the RL episode:
  its frames up to the first terminal one (``done``: success holds), after which an RL episode
  ends; ``value_order_correlation_all_frames`` keeps the frames after it (a scripted episode
  rests there, at the top of the reward, in ties);
- Spearman and EPIC distance against the ground-truth reward: the same task (form, stages,
  thresholds) evaluated on the simulator's true positions (:func:`ground_truth_rewards`);
- precision and recall of the per-frame ``success`` flag against the true one, and of the
  episode's outcome (success at its last frame).

An episode is one bag offline, one demo run live.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from ..core.reward import compute_reward, reward_from_distances
from ..core.task import TaskSpec, pair_key
from ..core.types import RewardSample

__all__ = ['GT_RESOLUTION_M', 'spearman', 'percentiles', 'epic_distance', 'value_order_correlation',
           'ground_truth_rewards', 'reward_quality', 'pool_quality', 'score_run', 'vlm_agreement',
           'pool_vlm_agreement']

# Ground truth is compared at 0.1 mm: far finer than any depth camera, far coarser than solver jitter.
GT_RESOLUTION_M = 1e-4


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as Spearman's rho needs."""
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    xs = x[order]
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or xs[i] != xs[start]:
            ranks[order[start:i]] = (start + i - 1) / 2.0
            start = i
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman rank correlation; None with fewer than 3 pairs or a constant input."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError(f'spearman needs equal lengths, got {len(a)} and {len(b)}')
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def percentiles(values: Sequence[float], keys=(('median', 50), ('p95', 95))) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {k: None for k, _ in keys}
    return {k: round(float(np.percentile(v, q)), 6) for k, q in keys}


def value_order_correlation(rewards: Sequence[float]) -> float | None:
    """GVL's value-order correlation: Spearman of per-frame rewards (in time order) against the
    frame index. None with fewer than 3 frames or a constant reward."""
    return spearman(rewards, np.arange(len(rewards), dtype=np.float64))


def epic_distance(reward: Sequence[float], reference: Sequence[float]) -> float | None:
    """EPIC distance (Gleave et al. 2020) between two per-frame rewards of one set of frames.

    EPIC canonicalises a reward R(s, s') over a distribution of states D and takes the Pearson
    distance ``sqrt((1 - rho) / 2)`` of the canonical rewards over the transitions:
    ``C(R)(s, s') = R(s, s') + gamma E[R(s', S')] - E[R(s, S')] - gamma E[R(S, S')]`` with S, S'
    drawn from D. These rewards are functions of the frame reached, R(s, s') = r(s'), so with D
    the episode's frames every expectation is the mean reward and C(R) = r(s') - mean(r) for any
    gamma: EPIC is the Pearson distance of the rewards over the frames. It is 0 for rewards that
    differ by a positive scale and a shift, 1 for opposite ones. None with fewer than 3 frames
    or a constant reward.
    """
    a, b = np.asarray(reward, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError(f'epic_distance needs equal lengths, got {len(a)} and {len(b)}')
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    rho = float(np.corrcoef(a - a.mean(), b - b.mean())[0, 1])
    return math.sqrt(max(0.0, (1.0 - rho) / 2.0))


def ground_truth_rewards(task: TaskSpec, ground_truth: Sequence[Mapping]) -> dict[int, RewardSample]:
    """stamp_ns -> the task's reward on the true positions of each ground-truth document.

    ground_truth: dicts with ``stamp_ns`` and positions under the task's object names (metres,
    one common frame; a ``/sim/ground_truth`` document is one). The true distances are rounded to
    ``GT_RESOLUTION_M`` first: a resting block's simulated position jitters by ~1e-7 m from frame
    to frame, which is solver noise, not motion, and ranking it would score a constant (correct)
    measurement as disagreeing.
    """
    out = {}
    for gt in ground_truth:
        exact = compute_reward(task, {n: gt.get(n) for n in task.objects}, gt['stamp_ns'])
        rounded = {k: None if v is None else round(v / GT_RESOLUTION_M) * GT_RESOLUTION_M
                   for k, v in exact.distances.items()}
        out[int(gt['stamp_ns'])] = reward_from_distances(task, rounded, gt['stamp_ns'])
    return out


def _until_done(rewards: list, done: list) -> list:
    """The rewards of the RL episode: up to and including the first terminal (``done``) frame."""
    for i, d in enumerate(done):
        if d:
            return rewards[:i + 1]
    return rewards


def _r(value: Optional[float], digits: int = 5) -> Optional[float]:
    return None if value is None else round(float(value), digits)


def _pr(tp: int, fp: int, fn: int, tn: int) -> dict:
    return {'precision': round(tp / (tp + fp), 4) if tp + fp else None,
            'recall': round(tp / (tp + fn), 4) if tp + fn else None,
            'tp': tp, 'fp': fp, 'fn': fn, 'tn': tn}


def reward_quality(task: TaskSpec, frames: Sequence[Mapping], ground_truth: Sequence[Mapping] = ()) -> dict:
    """Reward-quality numbers of one episode.

    frames: per-frame reward documents or labelled rows (``stamp_ns``, ``valid``, ``reward``,
        ``success``) in any order; frames without a valid reward are left out of every number.
    ground_truth: the episode's ground-truth documents (see :func:`ground_truth_rewards`); none:
        only the numbers that need no reference (VOC, with the labelled outcome as success).
    """
    frames = sorted((f for f in frames if f.get('valid') and f.get('reward') is not None),
                    key=lambda f: int(f['stamp_ns']))
    rewards = [float(f['reward']) for f in frames]
    out: dict = {'frames_with_reward': len(frames)}
    truth = ground_truth_rewards(task, ground_truth) if ground_truth else {}
    if truth:
        last = truth[max(truth)]
        successful, judged_by = bool(last.valid and last.success), 'ground_truth'
    else:
        successful, judged_by = bool(frames and frames[-1].get('success')), 'labelled'
    out['successful'] = successful
    out['success_judged_by'] = judged_by
    out['value_order_correlation'] = _r(value_order_correlation(_until_done(rewards, [f.get('done') for f in frames])))
    out['value_order_correlation_all_frames'] = _r(value_order_correlation(rewards))
    if not truth:
        return out
    pairs = [(f, truth[int(f['stamp_ns'])]) for f in frames
             if int(f['stamp_ns']) in truth and truth[int(f['stamp_ns'])].valid]
    measured = [float(f['reward']) for f, _ in pairs]
    reference = [t.reward for _, t in pairs]
    true_sorted = [truth[s] for s in sorted(truth) if truth[s].valid]
    out['value_order_correlation_ground_truth'] = _r(value_order_correlation(
        _until_done([t.reward for t in true_sorted], [t.done for t in true_sorted])))
    out['frames_vs_ground_truth'] = len(pairs)
    out['reward_spearman_vs_ground_truth'] = _r(spearman(measured, reference))
    out['reward_epic_distance_vs_ground_truth'] = _r(epic_distance(measured, reference))
    flags = [(bool(f.get('success')), bool(t.success)) for f, t in pairs]
    out['success_frames'] = _pr(sum(p and t for p, t in flags), sum(p and not t for p, t in flags),
                                sum(t and not p for p, t in flags), sum(not p and not t for p, t in flags))
    out['episode_success'] = {'labelled': bool(frames and frames[-1].get('success')), 'true': successful}
    return out


def _stats(values: list) -> dict:
    v = [x for x in values if x is not None]
    return {'min': _r(min(v)) if v else None, 'mean': _r(sum(v) / len(v)) if v else None,
            'max': _r(max(v)) if v else None, 'episodes': len(v)}


def pool_quality(episodes: Mapping[str, Optional[Mapping]]) -> dict:
    """The reward quality of several episodes (name -> :func:`reward_quality`; None skipped).

    VOC is pooled over the successful episodes (its definition), Spearman and EPIC over the
    episodes with ground truth (min and mean of the per-episode numbers: rewards of different
    episodes are never ranked against each other), success precision/recall from the summed
    per-frame counts, and episode success from each episode's last frame.
    """
    eps = {k: v for k, v in episodes.items() if v}
    ok = {k: v for k, v in eps.items() if v.get('successful')}
    counts = [v['success_frames'] for v in eps.values() if 'success_frames' in v]
    outcome = [v['episode_success'] for v in eps.values() if 'episode_success' in v]
    pooled = {
        'episodes': len(eps),
        'successful_episodes': len(ok),
        'value_order_correlation_successful': _stats([v.get('value_order_correlation') for v in ok.values()]),
        'value_order_correlation_by_episode': {k: v.get('value_order_correlation') for k, v in eps.items()},
        'reward_spearman_vs_ground_truth': _stats([v.get('reward_spearman_vs_ground_truth') for v in eps.values()]),
        'reward_epic_distance_vs_ground_truth': _stats(
            [v.get('reward_epic_distance_vs_ground_truth') for v in eps.values()]),
    }
    if counts:
        pooled['success_frames'] = _pr(*(sum(c[k] for c in counts) for k in ('tp', 'fp', 'fn', 'tn')))
    if outcome:
        pooled['episode_success'] = _pr(sum(o['labelled'] and o['true'] for o in outcome),
                                        sum(o['labelled'] and not o['true'] for o in outcome),
                                        sum(o['true'] and not o['labelled'] for o in outcome),
                                        sum(not o['labelled'] and not o['true'] for o in outcome))
    return pooled


def score_run(
    task: TaskSpec,
    ground_truth: Sequence[Mapping],
    rewards: Mapping[int, Mapping],
    latencies_ms: Sequence[float] = (),
) -> dict:
    """Compare published reward documents (stamp_ns -> reward doc) with ground truth.

    ground_truth: one dict per frame with ``stamp_ns`` and object positions under the task's
    object names (metres, one common frame).
    The reference reward is the task's own reward (same form) evaluated on the true positions
    (:func:`ground_truth_rewards`, at ``GT_RESOLUTION_M``); ``reward_quality`` adds VOC, EPIC and
    success precision/recall (:func:`reward_quality`).
    """
    truths = ground_truth_rewards(task, ground_truth)
    errors = []
    stage_agree = 0
    n = 0
    per_pair_err: dict[str, list] = {pair_key(*p): [] for p in task.pairs()}
    for gt in ground_truth:
        exact = compute_reward(task, {k: gt.get(k) for k in task.objects}, gt['stamp_ns'])
        doc = rewards.get(int(gt['stamp_ns']))
        if doc is None or not doc.get('valid') or doc.get('reward') is None:
            continue
        n += 1
        stage_agree += int(doc['stage'] == truths[int(gt['stamp_ns'])].stage)
        for key, true_d in exact.distances.items():
            d = doc['distances'].get(key)
            if d is not None and true_d is not None:
                per_pair_err[key].append(abs(d - true_d))
                errors.append(abs(d - true_d))
    quality = reward_quality(task, [{**d, 'stamp_ns': int(st)} for st, d in rewards.items()], ground_truth)
    lat = np.asarray(latencies_ms, dtype=np.float64)
    return {
        'frames': len(ground_truth),
        'frames_with_reward': n,
        'reward_form': task.reward.form,
        'reward_spearman_vs_ground_truth': quality.get('reward_spearman_vs_ground_truth'),
        'ground_truth_resolution_m': GT_RESOLUTION_M,
        'stage_agreement': round(stage_agree / n, 4) if n else None,
        'distance_error_m': percentiles(errors),
        'distance_error_m_by_pair': {k: percentiles(v) for k, v in per_pair_err.items()},
        'latency_ms': percentiles(lat, (('p50', 50), ('p99', 99))) if lat.size else {'p50': None, 'p99': None},
        'reward_quality': quality,
    }


_DISAGREE = (('median', 50), ('p90', 90))


def _disagreement_stats(values: Mapping[str, Sequence[float]]) -> dict:
    return {k: {**percentiles(v, _DISAGREE), 'n': len(v)} for k, v in values.items()}


def vlm_agreement(rows: Sequence[Mapping]) -> Optional[dict]:
    """The VLM labeller's frames of one bag (rows with a ``vlm`` document): how many were asked,
    answered with a distance for every pair, rewarded, failed (by kind), and the VLM-vs-depth
    disagreement (``abs_m`` metres, ``rel`` of the depth distance: median, p90, n) over every pair
    and per pair; ``values`` keeps each pair's numbers for pooling. None when no frame was asked."""
    asked = [r['vlm'] for r in rows if r.get('vlm')]
    if not asked:
        return None
    per_pair: dict = {}
    for doc in asked:
        for pair, d in (doc.get('disagreement') or {}).items():
            entry = per_pair.setdefault(pair, {'abs_m': [], 'rel': []})
            for key in ('abs_m', 'rel'):
                if d.get(key) is not None:
                    entry[key].append(d[key])
    errors: dict = {}
    for doc in asked:
        if doc.get('error_kind'):
            errors[doc['error_kind']] = errors.get(doc['error_kind'], 0) + 1
    return _agreement_doc(len(asked), sum(1 for d in asked if all(v is not None for v in d['distances'].values())),
                          sum(1 for d in asked if d.get('valid')), errors, per_pair)


def _agreement_doc(asked: int, answered: int, rewarded: int, errors: dict, per_pair: dict) -> dict:
    overall = {key: [v for p in per_pair.values() for v in p[key]] for key in ('abs_m', 'rel')}
    return {
        'frames_asked': asked,
        'frames_answered': answered,
        'frames_with_reward': rewarded,
        'errors': dict(sorted(errors.items())),
        'disagreement': _disagreement_stats(overall),
        'disagreement_per_pair': {p: _disagreement_stats(v) for p, v in per_pair.items()},
        'values': per_pair,
    }


def pool_vlm_agreement(per_bag: Sequence[Optional[Mapping]]) -> Optional[dict]:
    """:func:`vlm_agreement` pooled over bags (from their ``values``); None when no bag has one."""
    docs = [d for d in per_bag if d]
    if not docs:
        return None
    per_pair: dict = {}
    errors: dict = {}
    for d in docs:
        for pair, v in d['values'].items():
            entry = per_pair.setdefault(pair, {'abs_m': [], 'rel': []})
            for key in ('abs_m', 'rel'):
                entry[key].extend(v[key])
        for k, n in d['errors'].items():
            errors[k] = errors.get(k, 0) + n
    out = _agreement_doc(sum(d['frames_asked'] for d in docs), sum(d['frames_answered'] for d in docs),
                         sum(d['frames_with_reward'] for d in docs), errors, per_pair)
    del out['values']
    return out
