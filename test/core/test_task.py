"""core.task: a task YAML is the one definition of the objects (names, prompts, centre modes) and its stages."""

from __future__ import annotations

import pytest

from spatialvlm_ros.core.errors import TaskSpecError
from spatialvlm_ros.core.task import Stage, TaskSpec, load_task, parse_task, task_path

STAGES = [{'name': 'reach', 'distance': ['gripper', 'cup']}]


def test_objects_are_prompts_or_prompt_and_centre_mode():
    t = parse_task({'name': 't', 'objects': {'gripper': {'prompt': 'yellow gripper', 'center_mode': 'grip'},
                                             'cup': 'red cup'}, 'stages': STAGES})
    assert t.objects == {'gripper': 'yellow gripper', 'cup': 'red cup'}  # report order kept
    assert t.center_modes == {'gripper': 'grip'}


@pytest.mark.parametrize('objects, says', [
    ({'gripper': {'prompt': 'g', 'mode': 'grip'}, 'cup': 'c'}, r'objects.gripper: expected \{prompt'),
    ({'gripper': {'center_mode': 'grip'}, 'cup': 'c'}, r'objects.gripper: expected \{prompt'),
    ({}, 'objects: expected a mapping'),
])
def test_malformed_objects_are_refused_with_the_expected_shape(objects, says):
    with pytest.raises(TaskSpecError, match=says):
        parse_task({'objects': objects, 'stages': STAGES})


def test_centre_modes_must_name_objects_of_the_task():
    with pytest.raises(TaskSpecError, match=r"center_mode given for \['mug'\]"):
        TaskSpec(name='t', objects={'gripper': 'g', 'cup': 'c'}, stages=(Stage('s', ('gripper', 'cup')),),
                 center_modes={'mug': 'flat'})


def test_package_tasks_resolve_by_name_and_the_demo_task_names_its_modes():
    path = task_path('pick_and_place')
    assert path.name == 'pick_and_place.yaml' and task_path(str(path)) == path
    demo = load_task(path)
    assert demo.center_modes == {'gripper': 'grip', 'target': 'flat'}
    with pytest.raises(TaskSpecError, match='no task file'):
        task_path('/nowhere/task.yaml')


@pytest.mark.parametrize(
    'raw,match',
    [
        ({'objects': {'a': 'x'}, 'stages': []}, 'stages'),
        ({'objects': {'a': 'x'}, 'stages': [{'distance': ['a', 'z']}]}, "object 'z'"),
        ({'objects': {'a': 'x', 'b': 'y'}, 'stages': [{'distance': ['a']}]}, 'pair of object names'),
        ({'objects': {'a': 'x', 'b': 'y'}, 'stages': [{'distance': ['a', 'b'], 'wieght': 1}]}, 'unknown keys'),
        ({'objects': {'a': 'x', 'b': 'y'}, 'stages': [{'distance': ['a', 'b']}],
          'success': {'distance': ['a', 'b'], 'below_m': -1}}, 'below_m must be > 0'),
    ],
)
def test_bad_specs_say_what_is_wrong(raw, match):
    with pytest.raises(TaskSpecError, match=match):
        parse_task(raw)


def test_load_task_names_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('name: x\nobjects: [a, b]\nstages: []\n')
    with pytest.raises(TaskSpecError, match='bad.yaml'):
        load_task(bad)
    with pytest.raises(TaskSpecError, match='cannot read'):
        load_task(tmp_path / 'missing.yaml')


HOLD = {'objects': {'g': 'gripper', 'b': 'block', 't': 'target'}, 'reward': {'form': 'stacked_progress'}}
CARRY = {'name': 'carry', 'distance': ['b', 't'], 'active_when': {'distance': ['g', 'b'], 'below_m': 0.05}}


def test_hold_weight_is_read_per_stage_and_defaults_to_zero():
    t = parse_task({**HOLD, 'stages': [{'distance': ['g', 'b']}, {**CARRY, 'hold_weight': 0.25}]})
    assert [s.hold_weight for s in t.stages] == [0.0, 0.25] and t.holds
    assert not parse_task({**HOLD, 'stages': [{'distance': ['g', 'b']}, CARRY]}).holds


@pytest.mark.parametrize('stages, reward, match', [
    ([{'distance': ['g', 'b'], 'hold_weight': 0.2}], None, r'stages\[0\]: hold_weight needs an active_when'),
    ([{'distance': ['g', 'b']}, {**CARRY, 'hold_weight': 1.0}], None, r'stages\[1\]: hold_weight must be in \[0, 1\)'),
    ([{'distance': ['g', 'b']}, {**CARRY, 'hold_weight': -0.1}], None, r'hold_weight must be in \[0, 1\)'),
    ([{'distance': ['g', 'b']}, {**CARRY, 'hold_weight': 'firm'}], None, "hold_weight must be a number.*'firm'"),
    ([{'distance': ['g', 'b']}, {**CARRY, 'hold_weight': 0.25}], {'form': 'staged_distance'},
     r"stages \['carry'\] set hold_weight, which only the stacked_progress form uses"),
])
def test_bad_hold_weights_say_what_is_wrong(stages, reward, match):
    raw = {**HOLD, 'stages': stages}
    if reward is not None:
        raw['reward'] = reward
    with pytest.raises(TaskSpecError, match=match):
        parse_task(raw)


def test_a_task_built_in_code_validates_its_hold_weights_too():
    from spatialvlm_ros.core.task import Condition, RewardForm

    objects = {'g': 'gripper', 'b': 'block'}
    with pytest.raises(TaskSpecError, match="stage 'reach' sets hold_weight but has no active_when"):
        TaskSpec(name='t', objects=objects, stages=(Stage('reach', ('g', 'b'), hold_weight=0.2),),
                 reward=RewardForm('stacked_progress'))
    with pytest.raises(TaskSpecError, match=r"stage 'grip' hold_weight must be a number in \[0, 1\)"):
        TaskSpec(name='t', objects=objects, reward=RewardForm('stacked_progress'),
                 stages=(Stage('reach', ('g', 'b')),
                         Stage('grip', ('g', 'b'), active_when=Condition(('g', 'b'), 0.05), hold_weight=1.5)))
