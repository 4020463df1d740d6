"""One finished chunk on disk (``offline.chunks``): its labelled bag file, rows and counters written under a
temporary name and renamed into place; a worker's read-label-write of a chunk by reference gives the same
files as labelling it in memory."""
from __future__ import annotations

import json
import os
import pickle

os.environ.setdefault('MUJOCO_GL', 'egl')

import pytest  # noqa: E402

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, resolve_task  # noqa: E402
from spatialvlm_ros.offline.bagio import ReadStats, iter_chunks  # noqa: E402
from spatialvlm_ros.offline.chunks import (WriteJob, chunk_dir, label_and_write, portable_connections,  # noqa
                                           write_chunk_dir)
from spatialvlm_ros.offline.inputs import detect_topics  # noqa: E402
from spatialvlm_ros.offline.labeller import ChunkJob, label_chunk  # noqa: E402
from support.bags import bag_messages, output_tree, write_camera_bag  # noqa: E402


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def test_a_chunk_is_written_under_a_temporary_name_then_renamed(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=3, truncate_color=(1,))
    ts = typestore_for()
    config = LabelConfig(task=task)
    connections = []
    chunk, = iter_chunks(bag, detect_topics(bag), config, ReadStats(), ts, connections=connections)
    result = label_chunk(ChunkJob('b', chunk.index, tuple(chunk.frames), config))
    chunks = tmp_path / 'chunks'
    chunks.mkdir()
    (chunks / '.000000').mkdir()  # left by a killed worker: replaced
    (chunks / '.000000' / 'junk').write_text('x')
    timing = write_chunk_dir(chunks, chunk, result, connections, config, ts, read_s=0.5)
    assert sorted(p.name for p in chunks.iterdir()) == ['000000'] and chunk_dir(chunks, 0) == chunks / '000000'
    done = chunks / '000000'
    assert sorted(p.name for p in done.iterdir()) == ['done.json', 'labelled_000000', 'rows.jsonl']
    assert json.loads((done / 'done.json').read_text()) == timing
    assert timing['frames'] == 3 and timing['read_s'] == 0.5 and timing['decode_s'] == result.decode_s
    rows = [json.loads(line) for line in (done / 'rows.jsonl').read_text().splitlines()]
    assert rows == result.rows and rows[1]['error_kind'] == 'truncated'
    labelled = bag_messages(done / 'labelled_000000')
    original = bag_messages(bag)
    assert [m for m in labelled if m[0].startswith('/camera')] == original
    assert len(labelled) == len(original) + sum(len(m) for m in result.messages.values())
    # without the labelled bag: only rows and counters
    write_chunk_dir(tmp_path, chunk, result, connections, LabelConfig(task=task, bag=False), ts, read_s=0.0)
    assert sorted(p.name for p in chunk_dir(tmp_path, 0).iterdir()) == ['done.json', 'rows.jsonl']


def test_a_worker_writes_a_chunk_by_reference_as_one_labelled_in_memory(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=5, storage='mcap')
    ts = typestore_for()
    config = LabelConfig(task=task, chunk_frames=2)
    connections = []
    plain = list(iter_chunks(bag, detect_topics(bag), config, ReadStats(), ts, connections=connections))
    refs = list(iter_chunks(bag, detect_topics(bag), config, ReadStats(), ts, keep_data=False))
    portable = portable_connections(connections)
    assert all(c.owner is None for c in portable) and [c.topic for c in portable] == [c.topic for c in connections]
    (tmp_path / 'mem').mkdir()
    (tmp_path / 'worker').mkdir()
    for c in plain:
        result = label_chunk(ChunkJob('b', c.index, tuple(c.frames), config))
        write_chunk_dir(tmp_path / 'mem', c, result, connections, config, ts, read_s=0.0)
    for c in refs:
        job = WriteJob(bag=str(bag), name='b', chunk=c, config=config, connections=portable,
                       chunks=str(tmp_path / 'worker'), read_s=0.0)
        job = pickle.loads(pickle.dumps(job))  # what a pool worker gets
        assert label_and_write(job)['frames'] == len(c.frames)
    mem, worker = output_tree(tmp_path / 'mem'), output_tree(tmp_path / 'worker')
    assert sorted(mem) == sorted(worker) and len([k for k in mem if k.endswith('rows.jsonl')]) == 3
    assert {k: v for k, v in mem.items() if not k.endswith('done.json')} == \
        {k: v for k, v in worker.items() if not k.endswith('done.json')}
