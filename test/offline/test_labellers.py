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
    assert '--labeller {constant,geometric,vlm}' in capsys.readouterr().out
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
    with pytest.raises(OfflineError, match=r"unknown labeller 'sam'; expected one of \['constant', 'geometric', 'vlm'\]"):
        LabelConfig(task=task, labeller='sam')
    config = LabelConfig(task=task, labeller='constant')
    assert isinstance(make_labeller(config), constant_labeller)
    LABELLERS.pop('constant')  # e.g. a worker process without the plugin
    with pytest.raises(OfflineError, match=r"unknown labeller 'constant'; expected one of \['geometric', 'vlm'\]") as err:
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


# -- the VLM labeller ---------------------------------------------------------------------------


@pytest.fixture(scope='module')
def demo_bag(tmp_path_factory):
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    return record_episode(tmp_path_factory.mktemp('vlmbag') / 'demo', seed=0, frames=40, width=160, height=120,
                          progress=False)


@pytest.fixture(scope='module')
def vlm_server():
    from support.chat_server import ChatServer

    s = ChatServer()
    s.answer_fn = lambda text, n: ('About 12 cm.' if 'gripper' in text else 'They are roughly 0.3 meters apart.')
    yield s
    s.close()


def _vlm_label(bag, out, task, server, workers=1, chunk=8, every_k=3, **kw):
    from spatialvlm_ros.offline import RunOptions, label_bags

    config = LabelConfig(task=task, chunk_frames=chunk, labeller='vlm', bag=False,
                         labeller_options={'every_k': every_k, 'base_url': server.url, 'model': 'scripted',
                                           'timeout_s': 5.0, 'batch_size': 4})
    return label_bags([bag], out, config, RunOptions(workers=workers, progress=False, **kw))


def _rows(out, bag):
    return pq.read_table(out / bag.name / 'frames.parquet').to_pylist()


def test_vlm_labeller_options_are_checked_before_any_work(task):
    with pytest.raises(OfflineError, match='unknown option'):
        LabelConfig(task=task, labeller='vlm', labeller_options={'model': 'm', 'no_such_option': 1})
    with pytest.raises(OfflineError, match='every_k'):
        LabelConfig(task=task, labeller='vlm', labeller_options={'model': 'm', 'every_k': 0})
    with pytest.raises(OfflineError, match='unknown option'):
        LabelConfig(task=task, labeller='geometric', labeller_options={'every_k': 2})


def test_frames_asked_are_picked_by_stamp_alone():
    from spatialvlm_ros.offline.labellers import asks_about

    stamps = [i * 33_333_333 for i in range(3000)]
    picked = [s for s in stamps if asks_about(s, 10)]
    assert 200 < len(picked) < 400 and picked == [s for s in stamps if asks_about(s, 10)]
    assert all(asks_about(s, 1) for s in stamps[:10])


def test_vlm_labeller_rows_identical_on_1_and_2_workers_and_after_a_resume(demo_bag, task, vlm_server, tmp_path,
                                                                            monkeypatch):
    from spatialvlm_ros.offline import chunks as chunks_mod

    one = _vlm_label(demo_bag, tmp_path / 'one', task, vlm_server)
    rows = _rows(tmp_path / 'one', demo_bag)
    asked = [r for r in rows if r['vlm'] is not None]
    assert len(rows) == 40 and 5 <= len(asked) <= 30
    v = asked[0]['vlm']
    assert v['answers']['gripper-block'] == 'About 12 cm.' and v['distances']['gripper-block'] == pytest.approx(0.12)
    assert v['distances']['block-target'] == pytest.approx(0.3)
    assert v['reward'] is not None and v['depth_distances']['block-target'] == pytest.approx(
        asked[0]['distances']['block-target'])
    d = v['disagreement']['block-target']
    assert d['abs_m'] == pytest.approx(abs(0.3 - asked[0]['distances']['block-target']), abs=1e-5)
    s = one['vlm']
    assert s['frames_asked'] == len(asked) and s['frames_answered'] == len(asked)
    assert s['disagreement']['abs_m']['median'] is not None and s['disagreement']['abs_m']['p90'] is not None
    bag_summary = json.loads((tmp_path / 'one' / demo_bag.name / 'summary.json').read_text())
    assert bag_summary['vlm']['disagreement_per_pair']['gripper-block']['abs_m']['n'] > 0

    _vlm_label(demo_bag, tmp_path / 'two', task, vlm_server, workers=2)
    assert _rows(tmp_path / 'two', demo_bag) == rows

    # interrupted after two chunks, then resumed: the same rows
    real, calls = chunks_mod.write_chunk_dir, []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(chunks_mod, 'write_chunk_dir', interrupted)
    with pytest.raises(KeyboardInterrupt):
        _vlm_label(demo_bag, tmp_path / 'resumed', task, vlm_server)
    monkeypatch.setattr(chunks_mod, 'write_chunk_dir', real)
    asked_before = len(vlm_server.requests)
    resumed = _vlm_label(demo_bag, tmp_path / 'resumed', task, vlm_server)
    assert _rows(tmp_path / 'resumed', demo_bag) == rows
    assert len(vlm_server.requests) - asked_before < 2 * len(asked)  # the kept chunks were not asked again
    assert resumed['vlm']['disagreement'] == one['vlm']['disagreement']


def test_vlm_labeller_records_a_dead_server_per_frame(demo_bag, task, tmp_path):
    from spatialvlm_ros.offline import RunOptions, label_bags

    config = LabelConfig(task=task, chunk_frames=64, labeller='vlm', bag=False,
                         labeller_options={'every_k': 4, 'base_url': 'http://127.0.0.1:9/v1', 'model': 'm',
                                           'timeout_s': 0.5, 'retries': 0})
    summary = label_bags([demo_bag], tmp_path / 'o', config, RunOptions(workers=1, progress=False))
    assert summary['frames'] == 40 and summary['failures'] == {}  # the geometric rows are intact
    assert summary['vlm']['errors'] == {'server': summary['vlm']['frames_asked']}
    assert summary['vlm']['frames_with_reward'] == 0
