import dataclasses
import math

import numpy as np
import pytest

from spatialvlm_ros.core.task import RewardForm, load_task, parse_task
from spatialvlm_ros.core.reward import compute_reward
from support.paths import REPO

TASK = REPO / 'config' / 'tasks' / 'pick_and_place.yaml'


@pytest.fixture(scope='module')
def task():
    # The staged_distance rule (the default form); the package task's shaped form: test/core/test_reward_forms.py.
    # hold_weight belongs to stacked_progress: dropped with it.
    t = load_task(TASK)
    return dataclasses.replace(t, stages=tuple(dataclasses.replace(s, hold_weight=0.0) for s in t.stages),
                               reward=RewardForm('staged_distance'))


def pos(x, y=0.0, z=1.0):
    return np.array([x, y, z])


def test_reach_stage_is_negative_gripper_block_distance(task):
    s = compute_reward(task, {'gripper': pos(0.0), 'block': pos(0.3), 'target': pos(0.6)}, 7)
    assert s.valid and s.stage_name == 'reach' and s.stamp_ns == 7
    assert s.reward == pytest.approx(-0.3)
    assert s.distances == {'gripper-block': pytest.approx(0.3), 'block-target': pytest.approx(0.3)}


def test_carry_stage_when_gripper_holds_block(task):
    s = compute_reward(task, {'gripper': pos(0.31), 'block': pos(0.3), 'target': pos(0.6, z=1.4)}, 0)
    assert s.stage_name == 'carry' and not s.success
    assert s.reward == pytest.approx(-0.5)


def test_success_keeps_last_stage_even_after_the_gripper_leaves(task):
    s = compute_reward(task, {'gripper': pos(0.0), 'block': pos(0.6), 'target': pos(0.62)}, 0)
    assert s.success and s.stage_name == 'carry' and s.reward == pytest.approx(-0.02)


def test_missing_object_gives_no_reward_not_a_made_up_one(task):
    s = compute_reward(task, {'gripper': pos(0.0), 'block': None, 'target': pos(0.6)}, 0)
    assert not s.valid and math.isnan(s.reward) and s.missing == ('block',)
    assert s.to_dict()['reward'] is None


def test_weights_offsets_and_bonus():
    t = parse_task({
        'name': 't', 'objects': {'a': 'red', 'b': 'blue'},
        'stages': [{'name': 's', 'distance': ['a', 'b'], 'weight': 2.0, 'offset': 1.0}],
        'success': {'distance': ['a', 'b'], 'below_m': 0.1}, 'success_bonus': 5.0,
    })
    assert compute_reward(t, {'a': pos(0), 'b': pos(0.5)}).reward == pytest.approx(0.0)
    assert compute_reward(t, {'a': pos(0), 'b': pos(0.05)}).reward == pytest.approx(1.0 - 0.1 + 5.0)
