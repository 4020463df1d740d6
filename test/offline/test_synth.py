"""Spatial QA synthesis: answers match the measured geometry, seeded and order-independent,
chat-format JSONL and Parquet with images, .npz frames and bags, errors with clear texts."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.offline import OfflineError, RunOptions, resolve_task  # noqa: E402
from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset  # noqa: E402


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


@pytest.fixture(scope='module')
def sim_bag(tmp_path_factory) -> Path:
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    return record_episode(tmp_path_factory.mktemp('bags') / 'ep', seed=2, frames=12, width=320, height=240,
                          progress=False)


def test_synth_from_bag_chat_format_parquet_and_provenance(sim_bag, task, tmp_path):
    cfg = SynthConfig(task=task, every=3, per_pair=3, seed=7)
    summary = synth_dataset([sim_bag], tmp_path / 'ds', cfg, RunOptions(workers=1, progress=False))
    assert summary['frames'] == 4 and summary['samples'] > 10 and summary['failures'] == {}
    assert summary['gravity_sources'].keys() <= {'plane', 'given', 'prior', 'camera'}
    lines = [json.loads(x) for x in (tmp_path / 'ds' / 'data.jsonl').read_text().splitlines()]
    assert len(lines) == summary['samples']
    s = lines[0]
    user, assistant = s['messages']
    assert user['role'] == 'user' and user['content'][0]['type'] == 'image' and user['content'][1]['type'] == 'text'
    assert assistant['role'] == 'assistant'
    assert (tmp_path / 'ds' / s['images'][0]).exists()
    assert set(s['objects']) == set(task.objects) and s['source'] == 'ep' and s['stamp_ns'] > 0
    for s in lines:
        if s['category'] == 'distance':  # the metric answer is the measured centre distance
            c = s['objects']
            d = np.linalg.norm(np.subtract(c[s['subject']]['center_m'], c[s['object']]['center_m']))
            assert s['value_m'] == pytest.approx(d, abs=1e-4)
    table = pq.read_table(tmp_path / 'ds' / 'data.parquet')
    assert table.num_rows == len(lines)
    assert b'huggingface' in table.schema.metadata
    row = table.slice(0, 1).to_pylist()[0]
    assert row['images'][0]['bytes'][:4] == b'\x89PNG' and row['messages'] == lines[0]['messages']
    # the same seed gives the same dataset, in a pool too
    again = synth_dataset([sim_bag], tmp_path / 'ds2', cfg, RunOptions(workers=2, progress=False))
    assert again['samples'] == summary['samples']
    assert (tmp_path / 'ds2' / 'data.jsonl').read_bytes() == (tmp_path / 'ds' / 'data.jsonl').read_bytes()
    other = synth_dataset([sim_bag], tmp_path / 'ds3', SynthConfig(task=task, every=3, per_pair=3, seed=8),
                          RunOptions(workers=1, progress=False))
    assert (tmp_path / 'ds3' / 'data.jsonl').read_bytes() != (tmp_path / 'ds' / 'data.jsonl').read_bytes()
    assert other['frames'] == 4
    with pytest.raises(OfflineError, match='already exists'):
        synth_dataset([sim_bag], tmp_path / 'ds', cfg, RunOptions(workers=1, progress=False))


def test_synth_from_npz_frames_and_bad_inputs(task, tmp_path):
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[40:70, 20:50] = (220, 20, 20)  # red block, left
    rgb[40:70, 100:130] = (20, 40, 220)  # blue target, right
    depth = np.full((120, 160), 1.0, np.float32)
    k = np.array([[150.0, 0, 79.5], [0, 150.0, 59.5], [0, 0, 1]])
    frames = tmp_path / 'frames'
    frames.mkdir()
    np.savez(frames / 'f0.npz', rgb=rgb, depth=depth, K=k, stamp_ns=5)
    summary = synth_dataset([frames], tmp_path / 'ds', SynthConfig(task=task, per_pair=40),
                            RunOptions(workers=1, progress=False))
    lines = [json.loads(x) for x in (tmp_path / 'ds' / 'data.jsonl').read_text().splitlines()]
    assert summary['frames'] == 1 and lines and summary['gravity_sources']
    for s in lines:
        assert {s['subject'], s['object']} <= {'block', 'target', ''}
        text = s['messages'][0]['content'][1]['text'] + ' ' + s['messages'][1]['content'][0]['text']
        if s['category'] == 'left_predicate' and s['subject'] == 'block':
            assert re.match(r'(Yes|Correct)', s['messages'][1]['content'][0]['text']), text
    (tmp_path / 'junk.txt').write_text('x')
    with pytest.raises(OfflineError, match='neither a rosbag2 directory, a ROS 1 .bag nor .npz frames'):
        synth_dataset([tmp_path / 'junk.txt'], tmp_path / 'ds9', SynthConfig(task=task), RunOptions(workers=1))
    assert not (tmp_path / 'ds9').exists() and not (tmp_path / '.ds9.partial').exists()


def test_parquet_loads_in_hugging_face_datasets(task, tmp_path):
    datasets = pytest.importorskip('datasets')  # optional: checked where it is installed
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[40:70, 20:50] = (220, 20, 20)
    rgb[40:70, 100:130] = (20, 40, 220)
    np.savez(tmp_path / 'f0.npz', rgb=rgb, depth=np.full((120, 160), 1.0, np.float32),
             K=np.array([[150.0, 0, 79.5], [0, 150.0, 59.5], [0, 0, 1]]))
    synth_dataset([tmp_path / 'f0.npz'], tmp_path / 'ds', SynthConfig(task=task, per_pair=8),
                  RunOptions(workers=1, progress=False))
    ds = datasets.load_dataset('parquet', data_files=str(tmp_path / 'ds' / 'data.parquet'), split='train',
                               cache_dir=str(tmp_path / 'cache'))
    assert isinstance(ds.features['images'].feature, datasets.Image)
    assert ds[0]['images'][0].size == (160, 120)
