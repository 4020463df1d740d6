"""offline.score's reward-quality numbers (VOC, Spearman and EPIC vs ground truth, success
precision/recall, per episode and pooled) and reward.png with them."""

import math

import numpy as np
import pytest

from spatialvlm_ros.core.reward import compute_reward
from spatialvlm_ros.core.task import parse_task
from spatialvlm_ros.offline.plot import plot_labelled_rewards, quality_lines
from spatialvlm_ros.offline.score import (
    epic_distance, ground_truth_rewards, pool_quality, reward_quality, score_run, value_order_correlation,
)

TASK = parse_task({
    'name': 'pp',
    'objects': {'gripper': 'yellow gripper', 'block': 'red block', 'target': 'blue target'},
    'stages': [
        {'name': 'reach', 'distance': ['gripper', 'block']},
        {'name': 'carry', 'distance': ['block', 'target'],
         'active_when': {'distance': ['gripper', 'block'], 'below_m': 0.05}},
    ],
    'success': {'distance': ['block', 'target'], 'below_m': 0.05},
    'reward': {'form': 'stacked_progress', 'scale_m': 0.1},
})


def episode(n=40, noise=0.0, seed=0):
    """A pick-and-place along x: the gripper reaches the block, carries it to the target, rests."""
    rng = np.random.default_rng(seed)
    gts, frames = [], []
    target = np.array([0.6, 0.0, 1.0])
    for i in range(n):
        s = min(i / (n * 0.7), 1.0)
        block0 = np.array([0.2, 0.0, 1.0])
        if s < 0.4:
            grip, block = np.array([0.0, 0.0, 1.0]) + (block0 - [0.0, 0, 1.0]) * s / 0.4, block0
        else:
            block = block0 + (target - block0) * (s - 0.4) / 0.6
            grip = block
        stamp = 1000 + i
        gts.append({'stamp_ns': stamp, 'gripper': grip.tolist(), 'block': block.tolist(), 'target': target.tolist()})
        meas = {'gripper': grip, 'block': block + rng.normal(0, noise, 3), 'target': target}
        frames.append(compute_reward(TASK, meas, stamp).to_dict())
    return gts, frames


def test_voc_of_monotone_and_reversed_rewards():
    assert value_order_correlation([0.1, 0.2, 0.5, 0.9]) == pytest.approx(1.0)
    assert value_order_correlation([3, 2, 1]) == pytest.approx(-1.0)
    assert value_order_correlation([1, 1, 1]) is None and value_order_correlation([1, 2]) is None


def test_epic_is_invariant_to_scale_and_shift():
    a = np.random.default_rng(0).normal(size=50)
    assert epic_distance(a, 3 * a + 7) == pytest.approx(0.0, abs=1e-7)
    assert epic_distance(a, -a) == pytest.approx(1.0)
    assert 0.0 < epic_distance(a, a + np.random.default_rng(1).normal(size=50)) < 1.0
    with pytest.raises(ValueError, match='equal lengths'):
        epic_distance([1, 2, 3], [1, 2])


def test_ground_truth_reward_is_the_same_task_at_0_1_mm():
    gt = {'stamp_ns': 5, 'gripper': [0, 0, 1], 'block': [0.3, 0, 1], 'target': [0.3, 0.01 + 3e-8, 1]}
    truth = ground_truth_rewards(TASK, [gt])[5]
    assert truth.form == 'stacked_progress' and truth.success and truth.reward == pytest.approx(2.0)
    assert truth.distances['block-target'] == pytest.approx(0.01, abs=1e-12)  # rounded: solver jitter gone


def test_a_perfect_labeller_scores_perfectly():
    gts, frames = episode()
    q = reward_quality(TASK, frames, gts)
    assert q['successful'] and q['success_judged_by'] == 'ground_truth'
    assert q['value_order_correlation'] > 0.999  # a tie where the gripper meets the block
    assert q['reward_spearman_vs_ground_truth'] == pytest.approx(1.0)
    assert q['reward_epic_distance_vs_ground_truth'] == pytest.approx(0.0, abs=1e-4)
    sf = q['success_frames']
    assert sf['precision'] == sf['recall'] == 1.0 and sf['fp'] == sf['fn'] == 0 and sf['tp'] > 0
    # the resting tail (ties at the top) counts only in the all-frames VOC
    assert q['value_order_correlation_all_frames'] < q['value_order_correlation']


def test_false_and_missed_success_frames_are_counted():
    gts, frames = episode()
    first = next(i for i, f in enumerate(frames) if f['success'])
    frames[first - 1] = dict(frames[first - 1], success=True)  # a false positive
    frames[-1] = dict(frames[-1], success=False)  # a miss
    sf = reward_quality(TASK, frames, gts)['success_frames']
    assert (sf['fp'], sf['fn']) == (1, 1)
    assert sf['precision'] < 1 and sf['recall'] < 1


def test_without_ground_truth_only_voc_with_the_labelled_outcome():
    _, frames = episode()
    q = reward_quality(TASK, frames)
    assert q['success_judged_by'] == 'labelled' and q['successful']
    assert 'reward_spearman_vs_ground_truth' not in q and q['value_order_correlation'] > 0.999


def test_invalid_frames_are_left_out():
    gts, frames = episode()
    frames[5] = dict(frames[5], valid=False, reward=None)
    q = reward_quality(TASK, frames, gts)
    assert q['frames_with_reward'] == len(frames) - 1 and q['frames_vs_ground_truth'] == len(frames) - 1


def test_pooled_over_episodes():
    (g1, f1), (g2, f2) = episode(seed=1, noise=0.002), episode(seed=2, noise=0.002)
    q1, q2 = reward_quality(TASK, f1, g1), reward_quality(TASK, f2, g2)
    pooled = pool_quality({'a': q1, 'b': q2, 'skipped': None})
    assert pooled['episodes'] == 2 and pooled['successful_episodes'] == 2
    voc = pooled['value_order_correlation_successful']
    assert voc['min'] == min(q1['value_order_correlation'], q2['value_order_correlation'])
    assert set(pooled['value_order_correlation_by_episode']) == {'a', 'b'}
    assert pooled['success_frames']['tp'] == q1['success_frames']['tp'] + q2['success_frames']['tp']
    assert pooled['episode_success'] == {'precision': 1.0, 'recall': 1.0, 'tp': 2, 'fp': 0, 'fn': 0, 'tn': 0}


def test_score_run_reports_the_quality():
    gts, frames = episode(noise=0.001)
    rewards = {f['stamp_ns']: {k: v for k, v in f.items() if k != 'stamp_ns'} for f in frames}
    s = score_run(TASK, gts, rewards)
    assert s['reward_form'] == 'stacked_progress'
    assert s['reward_spearman_vs_ground_truth'] == s['reward_quality']['reward_spearman_vs_ground_truth'] > 0.9
    assert not math.isnan(s['reward_quality']['reward_epic_distance_vs_ground_truth'])


def test_reward_png_with_and_without_ground_truth(tmp_path):
    gts, frames = episode(noise=0.001)
    rows = [dict(f, error_kind=None) for f in frames]
    plot_labelled_rewards(tmp_path / 'gt.png', TASK, rows, gts, title='ep')
    plot_labelled_rewards(tmp_path / 'none.png', TASK, rows, title='ep')
    for name in ('gt.png', 'none.png'):
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    lines = quality_lines(reward_quality(TASK, rows, gts))
    assert lines[0].startswith('value-order corr. (VOC) 0.99') and 'EPIC distance' in lines[1]
