"""core.reward's forms: stacked_progress never lowers the reward at a stage switch; staged_distance
stays the default; done per frame; the task keys that select them."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from spatialvlm_ros.core.errors import TaskSpecError
from spatialvlm_ros.core.reward import compute_reward, reward_from_distances, term_names
from spatialvlm_ros.core.task import RewardForm, load_task, parse_task

TASK_DIR = Path(__file__).resolve().parents[2] / 'config' / 'tasks'

RAW = {
    'name': 'pp',
    'objects': {'gripper': 'yellow gripper', 'block': 'red block', 'target': 'blue target'},
    'stages': [
        {'name': 'reach', 'distance': ['gripper', 'block']},
        {'name': 'carry', 'distance': ['block', 'target'], 'active_when': {'distance': ['gripper', 'block'],
                                                                          'below_m': 0.05}},
    ],
    'success': {'distance': ['block', 'target'], 'below_m': 0.05},
}


def stacked(**reward):
    return parse_task({**RAW, 'reward': {'form': 'stacked_progress', **reward}})


def r(task, gb, bt):
    return reward_from_distances(task, {'gripper-block': gb, 'block-target': bt})


def test_package_tasks_use_the_shaped_form():
    tasks = sorted(TASK_DIR.glob('*.yaml'))
    assert tasks
    for path in tasks:
        assert load_task(path).reward.form == 'stacked_progress', path.name


def test_staged_distance_is_the_default_and_unchanged():
    task = parse_task(RAW)
    assert task.reward == RewardForm('staged_distance')
    s = r(task, 0.3, 0.6)
    assert s.reward == pytest.approx(-0.3) and s.terms == {'offset': 0.0, 'distance': pytest.approx(-0.3)}
    assert s.form == 'staged_distance' and not s.done
    assert r(task, 0.01, 0.4).reward == pytest.approx(-0.4)  # the drop at the grasp the old form has


def test_stacked_progress_bands_and_formula():
    task = stacked(scale_m=0.1)
    s = r(task, 0.15, 0.6)  # reach: exit radius 0.05 (carry's active_when on the same pair)
    assert s.stage_name == 'reach'
    assert s.reward == pytest.approx(0.1 / (0.1 + 0.10))
    assert s.terms == {'stage': 0.0, 'progress': pytest.approx(0.5)}
    c = r(task, 0.01, 0.25)  # carry: exit radius 0.05 (success on the same pair)
    assert c.stage_name == 'carry' and c.reward == pytest.approx(1 + 0.1 / (0.1 + 0.20))
    assert term_names(task) == ['stage', 'progress']


def test_stage_switch_never_lowers_the_reward_whatever_the_distance_at_the_switch():
    task = stacked()
    rng = np.random.default_rng(0)
    for bt in rng.uniform(0.06, 2.0, 200):
        before = r(task, 0.0500001, bt)
        after = r(task, 0.0499999, bt)
        assert (before.stage, after.stage) == (0, 1)
        assert after.reward > before.reward
        assert 0 < before.reward <= 1 < after.reward <= 2


def test_success_is_the_top_of_the_last_band_and_done():
    task = stacked()
    a, b = r(task, 0.3, 0.04), r(task, 0.01, 0.001)
    assert a.success and b.success and a.done and b.done
    assert a.reward == b.reward == pytest.approx(2.0)  # sub-tolerance jitter is not ranked
    bonus = parse_task({**RAW, 'success_bonus': 0.5, 'reward': {'form': 'stacked_progress'}})
    assert r(bonus, 0.3, 0.04).reward == pytest.approx(2.5)
    assert not r(task, 0.01, 0.2).done


def test_invalid_frames_carry_the_form_and_no_done():
    task = stacked()
    s = compute_reward(task, {'gripper': np.zeros(3), 'block': None, 'target': np.ones(3)})
    assert not s.valid and not s.done and s.form == 'stacked_progress'
    d = s.to_dict()
    assert d['done'] is False and d['form'] == 'stacked_progress' and d['reward'] is None


def test_stage_scale_and_exit():
    raw = dict(RAW, stages=[dict(RAW['stages'][0], scale_m=0.02), RAW['stages'][1]],
               reward={'form': 'stacked_progress', 'scale_m': 0.2})
    task = parse_task(raw)
    assert task.stage_scale(0) == 0.02 and task.stage_scale(1) == 0.2
    assert task.stage_exit(0) == 0.05 and task.stage_exit(1) == 0.05
    other = parse_task(dict(RAW, success={'distance': ['gripper', 'target'], 'below_m': 0.1}))
    assert other.stage_exit(1) == 0.0  # success on another pair: the stage's progress runs to d = 0


@pytest.mark.parametrize('reward, match', [
    ({'form': 'potential'}, 'reward.form: expected one of'),
    ({'form': 'stacked_progress', 'scale_m': 0}, 'scale_m'),
    ({'form': 'stacked_progress', 'gamma': 1}, r"unknown keys \['gamma'\]"),
    ('stacked', 'expected a mapping'),
])
def test_bad_reward_keys_are_refused(reward, match):
    with pytest.raises(TaskSpecError, match=match):
        parse_task({**RAW, 'reward': reward})


def test_stacked_refuses_staged_distance_weights():
    raw = dict(RAW, stages=[dict(RAW['stages'][0], offset=1.0), RAW['stages'][1]],
               reward={'form': 'stacked_progress'})
    with pytest.raises(TaskSpecError, match="stages \\['reach'\\] set weight/offset"):
        parse_task(raw)


def test_forms_agree_on_stage_and_success():
    old, new = parse_task(RAW), stacked()
    rng = np.random.default_rng(1)
    for gb, bt in rng.uniform(0.0, 0.5, (100, 2)):
        a, b = r(old, gb, bt), r(new, gb, bt)
        assert (a.stage, a.success) == (b.stage, b.success)
    assert dataclasses.replace(new, reward=RewardForm()).reward.form == 'staged_distance'


# --- hold_weight: a stage's band also rises while its active_when condition deepens -------------


def held(w=0.25, **reward):
    stages = [RAW['stages'][0], dict(RAW['stages'][1], hold_weight=w)]
    return parse_task({**RAW, 'stages': stages, 'reward': {'form': 'stacked_progress', **reward}})


def test_hold_weight_formula_and_terms():
    task = held(0.25, scale_m=0.1)
    assert task.holds and term_names(task) == ['stage', 'progress', 'hold']
    c = r(task, 0.02, 0.25)  # carry: progress 0.1 / (0.1 + 0.20) = 1/3; hold 1 - 0.02 / 0.05 = 0.6
    assert c.stage_name == 'carry'
    assert c.terms == {'stage': 1.0, 'progress': pytest.approx(0.75 / 3), 'hold': pytest.approx(0.25 * 0.6)}
    assert c.reward == pytest.approx(1 + 0.25 + 0.15)
    s = r(task, 0.15, 0.6)  # reach has no active_when: no hold term, its own progress unscaled
    assert s.terms == {'stage': 0.0, 'progress': pytest.approx(0.5), 'hold': 0.0}
    assert r(task, 0.0, 0.25).reward == pytest.approx(1 + 0.25 + 0.25)  # the grip closed: the whole hold share


def test_hold_weight_raises_the_reward_while_the_gripper_closes_on_a_block_that_has_not_moved():
    plain, task = stacked(), held(0.25)
    gbs = np.linspace(0.049, 0.0, 50)  # descending onto the block and closing the fingers
    assert len({r(plain, gb, 0.3).reward for gb in gbs}) == 1  # without: a plateau of ties
    rewards = [r(task, gb, 0.3).reward for gb in gbs]
    assert np.all(np.diff(rewards) > 0)


@pytest.mark.parametrize('w', [0.1, 0.5, 0.9])
def test_stage_switch_never_lowers_the_reward_with_a_hold_weight(w):
    task = held(w)
    rng = np.random.default_rng(2)
    for gb_before, bt in zip(rng.uniform(0.0500001, 0.06, 200), rng.uniform(0.0, 2.0, 200)):
        before, after = r(task, gb_before, bt), r(task, 0.0499999, bt)
        if after.success:
            continue
        assert (before.stage, after.stage) == (0, 1)
        assert after.reward > before.reward
        assert 0 < before.reward <= 1 < after.reward <= 2


def test_hold_weight_success_is_the_top_of_the_band_even_after_the_gripper_leaves():
    task = held(0.25)
    assert r(task, 0.3, 0.04).reward == pytest.approx(2.0)  # released on the target
    assert r(task, 0.01, 0.04).reward == pytest.approx(2.0)  # held at the target
    assert r(task, 0.01, 0.04).terms['hold'] == pytest.approx(0.25)


def test_zero_hold_weight_is_the_earlier_stage():
    old, zero = stacked(), held(0.0)
    assert not zero.holds and term_names(zero) == term_names(old)
    for gb, bt in np.random.default_rng(3).uniform(0.0, 0.5, (100, 2)):
        a, b = r(old, gb, bt), r(zero, gb, bt)
        assert a.reward == b.reward and a.terms == b.terms


def test_package_task_holds_a_quarter_of_carry():
    task = load_task(TASK_DIR / 'pick_and_place.yaml')
    assert [s.hold_weight for s in task.stages] == [0.0, 0.25]


def test_hold_weight_scripted_episode_is_value_ordered():
    """An analytic scripted pick-and-place (approach, descend onto the block, close the fingers,
    lift 6 cm straight up, carry at that height, lower onto the target): the reward of the task
    with a hold weight rises through the descent and the grasp, where without one it rests in
    ties from the switch (gripper-block 5 cm) until the carry begins."""
    from spatialvlm_ros.offline.score import value_order_correlation

    block0, target = np.array([0.0, 0.0, 0.025]), np.array([0.3, 0.1, 0.0])
    frames = []
    for s in np.linspace(0, 1, 15):  # approach: from 20 cm away to 6 cm above the block
        frames.append((block0 + (1 - s) * np.array([-0.2, 0.05, 0.1]) + np.array([0, 0, 0.06 * s]), block0))
    for s in np.linspace(0, 1, 8)[1:]:  # descend to 1 cm above the grasp point
        frames.append((block0 + np.array([0, 0, 0.06 - 0.05 * s]), block0))
    for s in np.linspace(0, 1, 6)[1:]:  # grasp: the closing fingers centre the block the last 8 mm
        frames.append((block0 + np.array([0, 0, 0.01 - 0.008 * s]), block0))
    for s in np.linspace(0, 1, 7)[1:]:  # lift 6 cm
        frames.append((block0 + [0, 0, 0.06 * s + 0.002], block0 + [0, 0, 0.06 * s]))
    above = target + [0, 0, 0.085]
    for s in np.linspace(0, 1, 20)[1:]:  # carry at height, then lower
        b = block0 + [0, 0, 0.06] + s * (above - block0 - [0, 0, 0.06])
        frames.append((b + [0, 0, 0.002], b))
    for s in np.linspace(0, 1, 6)[1:]:
        b = above + s * (target + [0, 0, 0.025] - above)
        frames.append((b + [0, 0, 0.002], b))

    def voc(task):
        rewards = []
        for g, b in frames:
            sample = compute_reward(task, {'gripper': g, 'block': b, 'target': target})
            rewards.append(sample.reward)
            if sample.done:
                break
        return value_order_correlation(rewards)

    assert voc(stacked()) < 0.96
    assert voc(held(0.25)) > 0.99
