"""reward.png of a labelled bag: labelled reward and distances over time (with ground truth
when the bag carries the simulator's, through the demo's own plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.task import TaskSpec, pair_key

__all__ = ['plot_labelled_rewards']


def plot_labelled_rewards(path: Path, task: TaskSpec, rows: Sequence[dict], ground_truth: Sequence[dict] = (),
                          title: str = '') -> None:
    """Write the plot to ``path`` (PNG). title: what is plotted (default: the task), e.g. the bag's name."""
    title = title or f'task {task.name}'
    rewards = {int(r['stamp_ns']): r for r in rows if r.get('stage') is not None}
    if ground_truth:
        from .score import plot_rewards

        gt = [{'stamp_ns': g['stamp_ns'], **{n: g.get(n) for n in task.objects}} for g in ground_truth]
        plot_rewards(path, task, gt, rewards, title=f'{title}: labelled reward vs ground truth',
                     measured='labelled reward (depth camera)')
        return
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t0 = rows[0]['stamp_ns'] if rows else 0
    t = np.array([(r['stamp_ns'] - t0) / 1e9 for r in rows])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    reward = [np.nan if r.get('reward') is None else r['reward'] for r in rows]
    ax1.plot(t, reward, color='tab:orange', lw=1.2, marker='.', ms=3, label='labelled reward (depth)')
    failed = [i for i, r in enumerate(rows) if r.get('error_kind')]
    if failed:
        ax1.plot(t[failed], np.zeros(len(failed)), 'x', color='tab:red', label='frame not labelled')
    ax1.set_ylabel('reward')
    ax1.set_title(f'{title}: labelled reward')
    ax1.legend(loc='lower right', fontsize=8)
    for k, stage in enumerate(task.stages):
        key = pair_key(*stage.pair)
        d = [np.nan if (r.get('distances') or {}).get(key) is None else r['distances'][key] for r in rows]
        ax2.plot(t, d, color=f'C{k}', lw=1, marker='.', ms=2, label=f'{key} measured')
    ax2.set_xlabel('time [s] (header stamps)')
    ax2.set_ylabel('distance [m]')
    ax2.legend(loc='upper right', fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={'Software': None})
    plt.close(fig)
