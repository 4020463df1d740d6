"""LeRobot export (``offline.lerobot``, ``spatialvlm label --lerobot``): the v3.0 layout, read back with
pyarrow (and lerobot where it imports), rewards equal to frames.parquet frame for frame, one episode per bag."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pa = pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.lerobot import CODEBASE_VERSION, lerobot_features, write_lerobot_dataset  # noqa: E402

W, H, FRAMES = 160, 120, 12


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


@pytest.fixture(scope='module')
def labelled(tmp_path_factory, task):
    """Two bags (the second a copy of the first under another name) labelled with --lerobot."""
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    d = tmp_path_factory.mktemp('lerobot')
    a = record_episode(d / 'ep_a', seed=0, frames=FRAMES, width=W, height=H, progress=False)
    b = d / 'ep_b'
    shutil.copytree(a, b)
    summary = label_bags([a, b], d / 'out', LabelConfig(task=task, chunk_frames=5, bag=False),
                         RunOptions(workers=1, progress=False), lerobot=d / 'lr')
    return d, summary


def test_layout_and_info(labelled, task):
    d, summary = labelled
    root = d / 'lr'
    for rel in ('meta/info.json', 'meta/tasks.parquet', 'meta/episodes/chunk-000/file-000.parquet',
                'data/chunk-000/file-000.parquet'):
        assert (root / rel).is_file(), rel
    info = json.loads((root / 'meta/info.json').read_text())
    assert info['codebase_version'] == CODEBASE_VERSION == 'v3.0'
    assert info['total_episodes'] == 2 and info['total_frames'] == 2 * FRAMES and info['total_tasks'] == 1
    stamps = pq.read_table(d / 'out' / 'ep_a' / 'frames.parquet').column('stamp_ns').to_pylist()
    assert info['fps'] == round(1e9 / float(np.median(np.diff(stamps))))  # the sim's frame rate
    assert info['features'] == lerobot_features(task)
    for key in ('index', 'episode_index', 'frame_index', 'timestamp', 'next.reward', 'next.done', 'next.success',
                'reward.stage', 'reward.valid'):
        assert info['features'][key]['shape'] == [1] and info['features'][key]['description']
    assert info['features']['next.reward']['dtype'] == 'float32'
    dist = [k for k in info['features'] if k.startswith('reward.distance.')]
    assert dist and all(info['features'][k]['unit'] == 'm' for k in dist)
    assert summary['lerobot']['episodes'] == 2 and summary['lerobot']['frames'] == 2 * FRAMES


def test_rewards_equal_frames_parquet(labelled, task):
    d, _ = labelled
    data = pq.read_table(d / 'lr' / 'data/chunk-000/file-000.parquet')
    assert data.schema.field('next.reward').type == pa.float32()
    assert data.column('index').to_pylist() == list(range(2 * FRAMES))
    eps = pq.read_table(d / 'lr' / 'meta/episodes/chunk-000/file-000.parquet').to_pylist()
    assert [e['episode_index'] for e in eps] == [0, 1] and [e['bag'] for e in eps] == ['ep_a', 'ep_b']
    for ep, e in enumerate(eps):
        assert (e['dataset_from_index'], e['dataset_to_index'], e['length']) == (ep * FRAMES, (ep + 1) * FRAMES, FRAMES)
        frames = pq.read_table(d / 'out' / e['bag'] / 'frames.parquet').to_pylist()
        rows = data.filter(pa.compute.equal(data.column('episode_index'), ep)).to_pylist()
        assert [r['frame_index'] for r in rows] == list(range(FRAMES))
        assert rows[0]['timestamp'] == 0.0
        for f, r in zip(frames, rows):
            want = np.float32(f['reward'] if f['valid'] else 0.0)
            assert np.float32(r['next.reward']) == want
            assert r['next.done'] == bool(f['done']) and r['next.success'] == bool(f['success'])
            assert r['reward.valid'] == f['valid']
            assert r['reward.stage'] == (-1 if f['stage'] is None else f['stage'])
            assert r['timestamp'] == pytest.approx((f['stamp_ns'] - frames[0]['stamp_ns']) / 1e9, abs=1e-6)
            for k, v in (f['distances'] or {}).items():
                got = r[f'reward.distance.{k}']
                assert (math.isnan(got) if v is None else got == pytest.approx(v, rel=1e-6))
    assert any(np.float32(r) > 0 for r in data.column('next.reward').to_pylist())


def test_tasks_parquet_reads_as_lerobot_does(labelled, task):
    pd = pytest.importorskip('pandas')
    tasks = pd.read_parquet(labelled[0] / 'lr' / 'meta/tasks.parquet')
    assert list(tasks.index) == [task.name] and tasks.loc[task.name, 'task_index'] == 0


def test_rewrite_replaces_the_root(labelled, task, tmp_path):
    d, _ = labelled
    root = tmp_path / 'lr'
    (root / 'stale').mkdir(parents=True)
    info = write_lerobot_dataset(root, [d / 'out' / 'ep_a' / 'frames.parquet'], task)
    assert info['total_episodes'] == 1 and not (root / 'stale').exists()
    assert not any(p.name.startswith('.') for p in tmp_path.iterdir())


def test_lerobot_reads_it(labelled):
    """Where lerobot imports (it needs torch and torchvision), LeRobotDataset loads the export."""
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except Exception as err:  # noqa: BLE001 - not installed or its torch stack does not import here
        pytest.skip(f'lerobot does not import here: {type(err).__name__}: {err}')
    d, _ = labelled
    ds = LeRobotDataset('local/spatialvlm', root=d / 'lr')
    assert len(ds) == 2 * FRAMES and ds.meta.total_episodes == 2
    data = pq.read_table(d / 'lr' / 'data/chunk-000/file-000.parquet')
    assert [float(ds[i]['next.reward']) for i in range(len(ds))] == pytest.approx(
        data.column('next.reward').to_pylist())
