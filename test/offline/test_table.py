"""The per-frame Parquet table (``offline.table``): its schema follows the task (one distance column per pair,
the success bonus term only where the task has one), and rows written from dicts read back as given."""
from __future__ import annotations

import dataclasses
import sys

import pytest

pa = pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.offline import OfflineError, resolve_task  # noqa: E402
from spatialvlm_ros.offline.table import frames_schema, write_frames_table  # noqa: E402


@pytest.fixture(scope='module')
def task():
    from spatialvlm_ros.core.task import RewardForm

    # the staged-distance form: its terms are (offset, distance); the schema follows the task's form
    # (hold_weight is the stacked_progress form's: dropped with it)
    task = resolve_task(None)[1]
    return dataclasses.replace(task, stages=tuple(dataclasses.replace(s, hold_weight=0.0) for s in task.stages),
                               reward=RewardForm('staged_distance'))


def _row(frame, **kw):
    row = {'bag': 'b', 'frame': frame, 'stamp_ns': 10 + frame, 'log_time_ns': 20 + frame, 'frame_id': 'world',
           'valid': False, 'reward': None, 'stage': None, 'stage_name': None, 'success': None, 'done': None, 'terms': {},
           'distances': {}, 'missing': [], 'objects': [], 'facts': [], 'up': None, 'error_kind': None, 'error': None,
           'vlm': None}
    row.update(kw)
    return row


def test_the_schema_follows_the_task(task):
    schema = frames_schema(task)
    assert schema.names == ['bag', 'frame', 'stamp_ns', 'log_time_ns', 'frame_id', 'valid', 'reward', 'stage',
                            'stage_name', 'success', 'done', 'terms', 'distances', 'missing', 'objects', 'facts',
                            'up', 'error_kind', 'error', 'vlm']
    assert [f.name for f in schema.field('distances').type] == ['gripper-block', 'block-target']
    # the VLM labeller's column: per pair answers, parsed and depth distances, disagreement; its reward
    vlm = schema.field('vlm').type
    assert [f.name for f in vlm.field('disagreement').type] == ['gripper-block', 'block-target']
    assert {'answers', 'distances', 'depth_distances', 'reward', 'error'} <= {f.name for f in vlm}
    assert [f.name for f in schema.field('terms').type] == ['offset', 'distance']
    stacked = frames_schema(resolve_task(None)[1])  # the package task: stacked_progress, carry's hold_weight
    assert [f.name for f in stacked.field('terms').type] == ['stage', 'progress', 'hold']
    bonus = frames_schema(dataclasses.replace(task, success_bonus=1.0))
    assert [f.name for f in bonus.field('terms').type] == ['offset', 'distance', 'success_bonus']
    assert schema.field('stamp_ns').type == pa.int64() and schema.field('reward').type == pa.float64()
    obj = schema.field('objects').type.value_type
    assert [f.name for f in obj] == ['name', 'center_m', 'extent_m', 'extent_camera_m', 'points', 'pixels']
    assert obj.field('center_m').type == pa.list_(pa.float64(), 3)


def test_rows_read_back_as_written(task, tmp_path):
    fact = {'type': 'distance', 'subject': 'gripper', 'object': 'block', 'value': 0.12, 'unit': 'm',
            'frame': 'world', 'holds': None, 'confidence': 0.9, 'stamp_ns': 11}
    obj = {'name': 'block', 'center_m': [0.1, 0.2, 0.9], 'extent_m': [0.05, 0.05, 0.05],
           'extent_camera_m': [0.05, 0.04, 0.03], 'points': 120, 'pixels': 150}
    rows = [
        _row(0, error_kind='truncated', error='colour image truncated'),
        _row(1, valid=True, reward=-0.12, stage=0, stage_name='reach', success=False,
             terms={'offset': 0.0, 'distance': -0.12}, distances={'gripper-block': 0.12},
             missing=['target'], objects=[obj], facts=[fact],
             up={'source': 'plane', 'confidence': 0.75, 'averaged_frames': 5}),
    ]
    write_frames_table(tmp_path / 'f.parquet', rows, task)
    table = pq.read_table(tmp_path / 'f.parquet')
    assert table.schema.equals(frames_schema(task))
    back = table.to_pylist()
    assert back[0] == {**rows[0], 'terms': None, 'distances': None}  # no reward detail: null structs
    # a pair the row does not measure is null
    assert back[1] == {**rows[1], 'distances': {'gripper-block': 0.12, 'block-target': None}}
    assert pq.ParquetFile(tmp_path / 'f.parquet').metadata.row_group(0).column(0).compression == 'ZSTD'
    write_frames_table(tmp_path / 'empty.parquet', [], task)
    assert pq.read_table(tmp_path / 'empty.parquet').num_rows == 0


def test_without_pyarrow_the_error_says_how_to_install_it(task, monkeypatch):
    monkeypatch.setitem(sys.modules, 'pyarrow', None)
    monkeypatch.setitem(sys.modules, 'pyarrow.parquet', None)
    with pytest.raises(OfflineError, match='pyarrow is required for Parquet output; install with pip install') as err:
        frames_schema(task)
    assert err.value.kind == 'dependency'
