"""Scoring a run against simulator ground truth: summary numbers and the reward plot."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..core.task import TaskSpec, pair_key

from ..core.reward import compute_reward

__all__ = ['GT_RESOLUTION_M', 'spearman', 'percentiles', 'score_run', 'plot_rewards']

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


def score_run(
    task: TaskSpec,
    ground_truth: Sequence[Mapping],
    rewards: Mapping[int, Mapping],
    latencies_ms: Sequence[float] = (),
) -> dict:
    """Compare published reward documents (stamp_ns -> reward doc) with ground truth.

    ground_truth: one dict per frame with ``stamp_ns`` and object positions under the task's
    object names (metres, one common frame).
    The reference reward is the task's own reward evaluated on the true positions, so for a
    task whose stages have no offset it is the negative true distance of the active stage.
    It is rounded to ``GT_RESOLUTION_M`` before ranking: a resting block's simulated position
    jitters by ~1e-7 m from frame to frame, which is solver noise, not motion, and ranking it
    would score a constant (correct) measurement as disagreeing.
    """
    measured, reference, errors = [], [], []
    stage_agree = 0
    per_pair_err: dict[str, list] = {pair_key(*p): [] for p in task.pairs()}
    for gt in ground_truth:
        truth = compute_reward(task, {n: gt.get(n) for n in task.objects}, gt['stamp_ns'])
        doc = rewards.get(int(gt['stamp_ns']))
        if doc is None or not doc.get('valid') or doc.get('reward') is None:
            continue
        measured.append(doc['reward'])
        reference.append(truth.reward)
        stage_agree += int(doc['stage'] == truth.stage)
        for key, true_d in truth.distances.items():
            d = doc['distances'].get(key)
            if d is not None and true_d is not None:
                per_pair_err[key].append(abs(d - true_d))
                errors.append(abs(d - true_d))
    rho = spearman(measured, np.round(np.asarray(reference) / GT_RESOLUTION_M) * GT_RESOLUTION_M)
    lat = np.asarray(latencies_ms, dtype=np.float64)
    return {
        'frames': len(ground_truth),
        'frames_with_reward': len(measured),
        'reward_spearman_vs_ground_truth': None if rho is None else round(rho, 5),
        'ground_truth_resolution_m': GT_RESOLUTION_M,
        'stage_agreement': round(stage_agree / len(measured), 4) if measured else None,
        'distance_error_m': percentiles(errors),
        'distance_error_m_by_pair': {k: percentiles(v) for k, v in per_pair_err.items()},
        'latency_ms': percentiles(lat, (('p50', 50), ('p99', 99))) if lat.size else {'p50': None, 'p99': None},
    }


def plot_rewards(path: Path, task: TaskSpec, ground_truth: Sequence[Mapping], rewards: Mapping[int, Mapping],
                 title: str = '', measured: str = 'reward published (depth camera)') -> None:
    """reward.png: measured vs ground-truth reward (top), measured vs true distances (bottom).

    title: the top panel's title (default: the task's published reward vs ground truth);
    measured: the legend entry of the measured reward.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t0 = ground_truth[0]['stamp_ns'] if ground_truth else 0
    t = np.array([(g['stamp_ns'] - t0) / 1e9 for g in ground_truth])
    truths = [compute_reward(task, {n: g.get(n) for n in task.objects}, g['stamp_ns']) for g in ground_truth]
    docs = [rewards.get(int(g['stamp_ns'])) for g in ground_truth]
    meas = np.array([np.nan if (d is None or d.get('reward') is None) else d['reward'] for d in docs])

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot(t, [tr.reward for tr in truths], color='black', lw=2, label='reward from ground truth')
    ax1.plot(t, meas, color='tab:orange', lw=1.2, marker='.', ms=3, label=measured)
    stages = np.array([tr.stage for tr in truths])
    for k, stage in enumerate(task.stages):
        on = stages == k
        if on.any():
            ax1.fill_between(t, 0, 1, where=on, transform=ax1.get_xaxis_transform(), alpha=0.08,
                             color=f'C{k}', label=f'true stage: {stage.name}')
    ax1.set_ylabel('reward')
    ax1.set_title(title or f'task {task.name}: published reward vs ground truth')
    ax1.legend(loc='lower right', fontsize=8)
    for k, pair in enumerate(task.stages):
        key = pair_key(*pair.pair)
        true_d = [tr.distances.get(key) for tr in truths]
        ax2.plot(t, [np.nan if v is None else v for v in true_d], color=f'C{k}', lw=2, alpha=0.6,
                 label=f'{key} true')
        md = [np.nan if (d is None or d['distances'].get(key) is None) else d['distances'][key] for d in docs]
        ax2.plot(t, md, color=f'C{k}', lw=1, ls='--', marker='.', ms=2, label=f'{key} measured')
    ax2.set_xlabel('time [s] (header stamps)')
    ax2.set_ylabel('distance [m]')
    ax2.legend(loc='upper right', fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
