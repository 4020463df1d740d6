"""core.params: the node parameters and the task -> the objects to find and the PipelineConfig
(one mapping for the live node and the offline labeller)."""

from __future__ import annotations

import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.params import load_defaults, pipeline_config_from_params, task_objects
from spatialvlm_ros.core.task import load_task, task_path


@pytest.fixture(scope='module')
def defaults():
    return load_defaults('spatial_facts.yaml', 'spatial_facts')


@pytest.fixture(scope='module')
def demo_task():
    return load_task(task_path('pick_and_place'))


def test_the_task_defines_the_objects_prompts_and_centre_modes(defaults, demo_task):
    queries, modes = task_objects(defaults, demo_task)
    assert [(q.name, q.prompt) for q in queries] == [('gripper', 'yellow gripper'), ('block', 'red block'),
                                                    ('target', 'blue target')]
    assert modes == {'gripper': 'grip', 'target': 'flat'}
    config = pipeline_config_from_params(defaults, demo_task)
    assert {n: c.center_mode for n, c in config.lift_overrides.items()} == modes
    assert config.lift.center_mode == 'support'  # the YAML default for everything else


def test_node_parameters_override_the_task_modes(defaults, demo_task):
    p = {**defaults, 'object_center_modes': ['gripper=centroid'], 'flat_objects': ['block']}
    _, modes = task_objects(p, demo_task)
    assert modes == {'gripper': 'centroid', 'target': 'flat', 'block': 'flat'}


def test_object_names_without_a_task_and_checked_against_one(defaults, demo_task):
    queries, modes = task_objects({**defaults, 'object_names': ['cup'], 'object_prompts': ['red cup']})
    assert [(q.name, q.prompt) for q in queries] == [('cup', 'red cup')] and modes == {}
    more = {**defaults, 'object_names': ['gripper', 'block', 'target', 'cup'],
            'object_prompts': ['yellow gripper', 'red block', 'blue target', 'red cup']}
    queries, modes = task_objects(more, demo_task)
    assert [q.name for q in queries] == ['gripper', 'block', 'target', 'cup'] and modes['gripper'] == 'grip'
    with pytest.raises(SpatialError, match=r"needs the objects \['gripper', 'target'\], which object_names"):
        task_objects({**defaults, 'object_names': ['block'], 'object_prompts': ['red block']}, demo_task)


@pytest.mark.parametrize('change, says', [
    ({}, 'no objects to find'),
    ({'object_names': ['cup'], 'object_prompts': []}, 'one prompt per name'),
    ({'object_names': ['cup'], 'object_prompts': ['red cup'], 'flat_objects': ['disc']}, 'flat_objects names'),
    ({'object_names': ['cup'], 'object_prompts': ['red cup'], 'object_center_modes': ['cup']}, 'name=mode'),
    ({'object_names': ['cup'], 'object_prompts': ['red cup'], 'object_center_modes': ['mug=flat']}, 'name=mode'),
])
def test_bad_object_parameters_say_what_to_change(defaults, change, says):
    with pytest.raises(SpatialError, match=says) as err:
        task_objects({**defaults, **change})
    assert err.value.kind == 'params'


def test_selected_grounder_and_lifting_options_come_from_the_parameters(defaults, demo_task):
    p = {**defaults, 'min_pixels': 77, 'grip_palm_m': 0.01, 'erode_px': 3, 'up_rotation': [1, 0, 0, 0, 0, -1, 0, 1, 0]}
    config = pipeline_config_from_params(p, demo_task)
    assert config.grounder == 'color' and config.grounder_config['min_pixels'] == 77
    assert 'detector_model' not in config.grounder_config  # only the selected grounder's options
    assert config.lift.erode_px == 3 and config.lift.modes['grip'].grip_palm_m == 0.01
    assert config.base_rotation == (1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0)
    assert pipeline_config_from_params(defaults, demo_task).base_rotation is None  # [0.0]: estimate up
