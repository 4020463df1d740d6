"""The offline label configuration (``offline.config``): the live node's parameters and the task, bad options
refused naming what to change, params files read, and the fingerprint that tells the outputs of two
configurations apart (resume refuses to mix them)."""
from __future__ import annotations

import dataclasses
import pickle

import pytest

pytest.importorskip('yaml')

from spatialvlm_ros.offline import LabelConfig, OfflineError, load_params, resolve_task  # noqa: E402
from spatialvlm_ros.offline.config import DEFAULT_TASK, default_params  # noqa: E402


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def test_kinematic_objects_need_their_topic(task):
    params = default_params()
    params['kinematic_objects'] = ['gripper']
    with pytest.raises(OfflineError, match=r"kinematic_objects \['gripper'\] need their position topics offline: "
                                           r"pass --kinematic NAME=TOPIC"):
        LabelConfig(task=task, params=params)
    with pytest.raises(OfflineError, match='expected \\(object name of the task'):
        LabelConfig(task=task, kinematic=(('elbow', '/x'),))
    # with their topics they are the node's kinematic objects
    config = LabelConfig(task=task, params=params, kinematic=(('gripper', '/robot/ee'),))
    assert config.node_params()['kinematic_objects'] == ['gripper']
    assert LabelConfig(task=task).node_params()['kinematic_objects'] == []


@pytest.mark.parametrize('change, says', [
    (dict(labeller='nope'), r"unknown labeller 'nope'; expected one of \[.*'geometric'.*\]"),
    (dict(chunk_frames=0), r'chunk_frames: expected an integer >= 1, got 0'),
    (dict(chunk_frames=True), r'chunk_frames: expected an integer >= 1, got True'),
    (dict(chunk_frames=2.5), r'chunk_frames: expected an integer >= 1, got 2.5'),
    (dict(params={'transform_source': 'tf'}), r"transform_source 'tf' is not supported offline; use 'none' or "
                                              r"'static'"),
    (dict(params={'max_rate_hz': -1.0}), r'max_rate_hz: expected a number >= 0, got -1.0'),
    (dict(params={'max_rate_hz': float('nan')}), r'max_rate_hz: expected a number >= 0, got nan'),
])
def test_bad_options_are_refused_naming_the_option(task, change, says):
    if 'params' in change:
        change = {'params': {**default_params(), **change['params']}}
    with pytest.raises(OfflineError, match=says) as err:
        LabelConfig(task=task, **change)
    assert err.value.kind == 'params'


def test_the_perception_is_the_live_nodes_and_bad_parameters_say_so(task):
    config = LabelConfig(task=task)
    pipeline = config.pipeline_config()
    assert [q.name for q in pipeline.queries] == list(task.objects)
    params = {**default_params(), 'grounder': 'no_such_grounder'}
    with pytest.raises(OfflineError, match='bad perception parameters: ') as err:
        LabelConfig(task=task, params=params).pipeline_config()
    assert err.value.kind == 'params'


def test_the_fingerprint_changes_with_what_changes_the_outputs_only(task):
    base = LabelConfig(task=task)
    fp = base.fingerprint()
    assert fp == LabelConfig(task=task).fingerprint() and len(fp) == 16
    assert pickle.loads(pickle.dumps(base)).fingerprint() == fp  # it travels to the workers unchanged
    defaults = default_params()
    # live-only parameters (transport, timers, the debug image) change nothing offline
    for name, value in [('qos_reliability', 'reliable'), ('qos_depth', 1), ('publish_debug_image', True),
                        ('input_timeout_s', 99.0), ('diagnostics_period_s', 9.0), ('transform_timeout_s', 3.0)]:
        assert defaults[name] != value, name
        assert LabelConfig(task=task, params={**defaults, name: value}).fingerprint() == fp, name
    # what changes the outputs changes it
    changed = [
        LabelConfig(task=task, params={**defaults, 'max_rate_hz': 5.0}),
        LabelConfig(task=task, params={**defaults, 'slop_s': defaults['slop_s'] * 2}),
        LabelConfig(task=task, params={**defaults, 'max_depth_m': defaults['max_depth_m'] + 1}),
        LabelConfig(task=task, color_topic='/c'),
        LabelConfig(task=task, chunk_frames=base.chunk_frames + 1),
        LabelConfig(task=task, bag=False),
        LabelConfig(task=task, compress=True),
        LabelConfig(task=task, markers=False),
        LabelConfig(task=dataclasses.replace(task, success_bonus=task.success_bonus + 1.0)),
        LabelConfig(task=task, params={**defaults, 'kinematic_objects': ['gripper']},
                    kinematic=(('gripper', '/ee'),)),
    ]
    prints = [c.fingerprint() for c in changed]
    assert fp not in prints and len(set(prints)) == len(prints)


def test_params_files_override_the_defaults(tmp_path):
    assert load_params(None) == default_params()
    good = tmp_path / 'p.yaml'
    good.write_text('spatial_facts:\n  ros__parameters:\n    max_depth_m: 2.5\n    slop_s: 0.05\n')
    params = load_params(good)
    assert params['max_depth_m'] == 2.5 and params['slop_s'] == 0.05
    assert {k: v for k, v in params.items() if k not in ('max_depth_m', 'slop_s')} == \
        {k: v for k, v in default_params().items() if k not in ('max_depth_m', 'slop_s')}
    cases = {
        'unknown': ('spatial_facts:\n  ros__parameters:\n    max_dept_m: 2.5\n',
                    r"unknown parameters \['max_dept_m'\]; expected some of \[.*'max_depth_m'"),
        'shape': ('reward:\n  ros__parameters: {}\n', r'has no spatial_facts: ros__parameters: section'),
        'yaml': ('spatial_facts: [unclosed\n', r'cannot read params file'),
    }
    for name, (text, says) in cases.items():
        path = tmp_path / f'{name}.yaml'
        path.write_text(text)
        with pytest.raises(OfflineError, match=says) as err:
            load_params(path)
        assert err.value.kind == 'params', name
    with pytest.raises(OfflineError, match='cannot read params file'):
        load_params(tmp_path / 'missing.yaml')


def test_tasks_resolve_by_name_or_path_and_unknown_ones_are_refused(tmp_path):
    path, task = resolve_task(None)
    assert path.stem == DEFAULT_TASK and task.name == DEFAULT_TASK
    assert resolve_task(DEFAULT_TASK)[1] == task and resolve_task(path)[1] == task
    with pytest.raises(OfflineError) as err:
        resolve_task('no_such_task')
    assert err.value.kind == 'task' and 'no_such_task' in str(err.value)
