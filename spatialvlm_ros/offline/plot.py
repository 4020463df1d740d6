"""reward.png: the reward over time (against ground truth when there is one), the distances, and
the reward-quality numbers of :mod:`.score` written on the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from ..core.task import TaskSpec, pair_key

__all__ = ['plot_rewards', 'plot_labelled_rewards', 'quality_lines']


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def _fmt(v, digits: int = 3) -> str:
    return 'n/a' if v is None else f'{v:.{digits}f}'


def quality_lines(quality: Optional[Mapping]) -> list[str]:
    """The reward-quality numbers (:func:`.score.reward_quality`) as short lines of text."""
    if not quality:
        return []
    voc = quality.get('value_order_correlation')
    judged = 'true' if quality.get('success_judged_by') == 'ground_truth' else 'labelled'
    lines = [f'value-order corr. (VOC) {_fmt(voc)}  ({judged} outcome: '
             f'{"success" if quality.get("successful") else "no success"})']
    if 'reward_spearman_vs_ground_truth' in quality:
        lines.append(f'Spearman vs ground truth {_fmt(quality["reward_spearman_vs_ground_truth"])}, '
                     f'EPIC distance {_fmt(quality.get("reward_epic_distance_vs_ground_truth"))}')
        sf = quality.get('success_frames') or {}
        lines.append(f'success frames: precision {_fmt(sf.get("precision"))}, recall {_fmt(sf.get("recall"))}')
    return lines


def _annotate(ax, quality: Optional[Mapping]) -> None:
    lines = quality_lines(quality)
    if lines:
        ax.text(0.01, 0.98, '\n'.join(lines), transform=ax.transAxes, va='top', ha='left', fontsize=8,
                bbox={'boxstyle': 'round', 'facecolor': 'white', 'alpha': 0.85, 'edgecolor': '0.7'})


def _success_ticks(ax, t: np.ndarray, flags: Sequence, y: float, color: str, label: str) -> None:
    on = [i for i, f in enumerate(flags) if f]
    if on:
        ax.plot(t[on], np.full(len(on), y), '|', color=color, ms=8, transform=ax.get_xaxis_transform(),
                label=label)


def plot_rewards(path: Path, task: TaskSpec, ground_truth: Sequence[Mapping], rewards: Mapping[int, Mapping],
                 title: str = '', measured: str = 'reward published (depth camera)',
                 quality: Optional[Mapping] = None) -> None:
    """reward.png: measured vs ground-truth reward (top, with the reward-quality numbers and the
    frames where success holds), measured vs true distances (bottom).

    ground_truth: dicts with ``stamp_ns`` and the task's objects' true positions;
    rewards: stamp_ns -> reward document; title: the top panel's title (default: the task's
    published reward vs ground truth); measured: the legend entry of the measured reward;
    quality: :func:`.score.reward_quality` of the run (computed when not given).
    """
    from .score import ground_truth_rewards, reward_quality

    plt = _pyplot()
    t0 = ground_truth[0]['stamp_ns'] if ground_truth else 0
    t = np.array([(g['stamp_ns'] - t0) / 1e9 for g in ground_truth])
    by_stamp = ground_truth_rewards(task, ground_truth)
    truths = [by_stamp[int(g['stamp_ns'])] for g in ground_truth]
    docs = [rewards.get(int(g['stamp_ns'])) for g in ground_truth]
    meas = np.array([np.nan if (d is None or d.get('reward') is None) else d['reward'] for d in docs])
    if quality is None:
        quality = reward_quality(task, [{**d, 'stamp_ns': int(st)} for st, d in rewards.items()], ground_truth)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot(t, [tr.reward for tr in truths], color='black', lw=2, label='reward from ground truth')
    ax1.plot(t, meas, color='tab:orange', lw=1.2, marker='.', ms=3, label=measured)
    stages = np.array([tr.stage for tr in truths])
    for k, stage in enumerate(task.stages):
        on = stages == k
        if on.any():
            ax1.fill_between(t, 0, 1, where=on, transform=ax1.get_xaxis_transform(), alpha=0.08,
                             color=f'C{k}', label=f'true stage: {stage.name}')
    _success_ticks(ax1, t, [tr.success for tr in truths], 0.03, 'black', 'true success')
    _success_ticks(ax1, t, [bool(d and d.get('success')) for d in docs], 0.07, 'tab:orange', 'measured success')
    ax1.set_ylabel(f'reward ({task.reward.form})')
    ax1.set_title(title or f'task {task.name}: published reward vs ground truth')
    ax1.legend(loc='lower right', fontsize=8)
    _annotate(ax1, quality)
    for k, pair in enumerate(task.stages):
        key = pair_key(*pair.pair)
        true_d = [tr.distances.get(key) for tr in truths]
        ax2.plot(t, [np.nan if v is None else v for v in true_d], color=f'C{k}', lw=2, alpha=0.6,
                 label=f'{key} true')
        md = [np.nan if (d is None or d['distances'].get(key) is None) else d['distances'][key] for d in docs]
        ax2.plot(t, md, color=f'C{k}', lw=1, ls='--', marker='.', ms=2, label=f'{key} measured')
    _finish(plt, fig, ax2, path)


def plot_labelled_rewards(path: Path, task: TaskSpec, rows: Sequence[dict], ground_truth: Sequence[dict] = (),
                          title: str = '') -> None:
    """Write the plot to ``path`` (PNG). title: what is plotted (default: the task), e.g. the bag's name."""
    from .score import reward_quality

    title = title or f'task {task.name}'
    rewards = {int(r['stamp_ns']): r for r in rows if r.get('stage') is not None}
    if ground_truth:
        gt = [{'stamp_ns': g['stamp_ns'], **{n: g.get(n) for n in task.objects}} for g in ground_truth]
        plot_rewards(path, task, gt, rewards, title=f'{title}: labelled reward vs ground truth',
                     measured='labelled reward (depth camera)', quality=reward_quality(task, rows, gt))
        return
    plt = _pyplot()
    t0 = rows[0]['stamp_ns'] if rows else 0
    t = np.array([(r['stamp_ns'] - t0) / 1e9 for r in rows])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    reward = [np.nan if r.get('reward') is None else r['reward'] for r in rows]
    ax1.plot(t, reward, color='tab:orange', lw=1.2, marker='.', ms=3, label='labelled reward (depth)')
    failed = [i for i, r in enumerate(rows) if r.get('error_kind')]
    if failed:
        ax1.plot(t[failed], np.zeros(len(failed)), 'x', color='tab:red', label='frame not labelled')
    _success_ticks(ax1, t, [bool(r.get('success')) for r in rows], 0.05, 'tab:orange', 'labelled success')
    ax1.set_ylabel(f'reward ({task.reward.form})')
    ax1.set_title(f'{title}: labelled reward')
    ax1.legend(loc='lower right', fontsize=8)
    _annotate(ax1, reward_quality(task, rows))
    for k, stage in enumerate(task.stages):
        key = pair_key(*stage.pair)
        d = [np.nan if (r.get('distances') or {}).get(key) is None else r['distances'][key] for r in rows]
        ax2.plot(t, d, color=f'C{k}', lw=1, marker='.', ms=2, label=f'{key} measured')
    _finish(plt, fig, ax2, path)


def _finish(plt, fig, ax2, path: Path) -> None:
    """Label the distance panel and write the figure (no software tag: the same rows give the same bytes)."""
    ax2.set_xlabel('time [s] (header stamps)')
    ax2.set_ylabel('distance [m]')
    ax2.legend(loc='upper right', fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={'Software': None})
    plt.close(fig)
