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
