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
