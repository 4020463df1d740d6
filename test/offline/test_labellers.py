"""The labeller registry (``offline.labellers``): a labeller registered anywhere is a choice of
``spatialvlm label --labeller`` and labels a run; unknown names are refused with the known ones; the
geometric labeller is the live nodes' FrameStep."""
from __future__ import annotations

import dataclasses
import json
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import pytest  # noqa: E402

pytest.importorskip('rosbags')
pq = pytest.importorskip('pyarrow.parquet')

from spatialvlm_ros.core.types import RewardSample  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, resolve_task  # noqa: E402
from spatialvlm_ros.offline.labellers import (LABELLERS, GeometricLabeller, make_labeller,  # noqa: E402
                                              register_labeller)
from support.bags import write_camera_bag  # noqa: E402


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


@dataclasses.dataclass(frozen=True)
class _NoOptions:
    pass


@pytest.fixture
def constant_labeller():
    """A throwaway labeller 'constant': the geometric result with a valid reward of 0.25 on every frame."""
    assert 'constant' not in LABELLERS

    @register_labeller('constant')
    class ConstantLabeller(GeometricLabeller):
        config_type = _NoOptions
        frames = 0

        def __call__(self, frame, known=None, transform=None, label_image=None):
            result = super().__call__(frame, known, transform, label_image)
            type(self).frames += 1
            reward = RewardSample(stamp_ns=result.stamp_ns, reward=0.25, stage=0, stage_name='constant',
                                  success=False, distances={}, terms={'offset': 0.0, 'distance': 0.25})
            return dataclasses.replace(result, reward=reward)

    yield ConstantLabeller
    LABELLERS.pop('constant', None)


def test_a_registered_labeller_is_a_cli_choice_and_labels_a_run(constant_labeller, task, tmp_path, capsys):
    from spatialvlm_ros.cli import build_parser, main

    with pytest.raises(SystemExit):
        build_parser().parse_args(['label', '--help'])
    assert '--labeller {constant,geometric}' in capsys.readouterr().out
    bag = write_camera_bag(tmp_path / 'bag', frames=4)
    assert main(['label', str(bag), '--out', str(tmp_path / 'out'), '--labeller', 'constant', '--workers', '1',
                 '--no-progress', '--json']) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['labeller'] == 'constant' and summary['frames_with_reward'] == 4 and summary['reward_mean'] == 0.25
    rows = pq.read_table(tmp_path / 'out' / 'bag' / 'frames.parquet').to_pylist()
    assert [(r['reward'], r['stage_name'], r['valid']) for r in rows] == [(0.25, 'constant', True)] * 4
    assert constant_labeller.frames == 4
    # the geometric labeller on the same bag: no reward (only the red block is in view)
    assert main(['label', str(bag), '--out', str(tmp_path / 'geo'), '--workers', '1', '--no-progress', '--json']) == 0
    assert json.loads(capsys.readouterr().out)['frames_with_reward'] == 0


def test_unknown_labellers_are_refused_naming_the_known_ones(constant_labeller, task, capsys):
    with pytest.raises(OfflineError, match=r"unknown labeller 'vlm'; expected one of \['constant', 'geometric'\]"):
        LabelConfig(task=task, labeller='vlm')
    config = LabelConfig(task=task, labeller='constant')
    assert isinstance(make_labeller(config), constant_labeller)
    LABELLERS.pop('constant')  # e.g. a worker process without the plugin
    with pytest.raises(OfflineError, match=r"unknown labeller 'constant'; expected one of \['geometric'\]") as err:
        make_labeller(config)
    assert err.value.kind == 'params'
    from spatialvlm_ros.cli import main

    with pytest.raises(SystemExit):
        main(['label', 'bag', '--out', 'o', '--labeller', 'constant'])
    assert "invalid choice: 'constant' (choose from" in capsys.readouterr().err


def test_registering_checks_the_entry():
    with pytest.raises(OfflineError, match=r"labeller 'geometric' is registered twice"):
        @register_labeller('geometric')
        class Other(GeometricLabeller):
            pass

    with pytest.raises(OfflineError, match=r'labeller Bare must define config_type'):
        @register_labeller('bare')
        class Bare:
            pass
    assert 'bare' not in LABELLERS and LABELLERS['geometric'] is GeometricLabeller


def test_the_geometric_labeller_is_the_live_frame_step(task):
    labeller = make_labeller(LabelConfig(task=task))
    try:
        assert isinstance(labeller, GeometricLabeller)
        assert labeller.step.task == task
        assert [q.name for q in labeller.step.config.queries] == list(task.objects)
    finally:
        labeller.close()
