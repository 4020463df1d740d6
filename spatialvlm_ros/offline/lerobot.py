"""LeRobot export: the labelled bags' per-frame rewards as a LeRobot v3.0 dataset (no videos).

Layout of ``root`` (LeRobot ``CODEBASE_VERSION = "v3.0"``; checked against lerobot 0.4.4 from
PyPI, ``src/lerobot/datasets/utils.py`` / ``lerobot_dataset.py``, and the layout constants of
huggingface/lerobot main at 7427f31 (0.6.2), which are the same)::

    root/meta/info.json                          codebase_version, fps, features, totals, paths
    root/meta/tasks.parquet                      the task's description (pandas index) -> task_index
    root/meta/episodes/chunk-000/file-000.parquet  one row per episode (one episode per bag)
    root/data/chunk-000/file-000.parquet         one row per frame

A frame row: ``index`` (global), ``episode_index``, ``frame_index``, ``timestamp`` (float32 s
since the episode's first frame), ``task_index``, ``next.reward`` (float32, shape (1,); 0 where
the frame has no reward), ``next.done`` / ``next.success`` (bool, shape (1,)), ``reward.valid``,
``reward.stage`` and one ``reward.distance.<a>_to_<b>`` (float32 metres, NaN where unmeasured) per
pair of the task. Each feature carries ``description`` (and ``unit``) in ``info.json``. The values
are read from each bag's ``frames.parquet``, so the two agree frame for frame.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Sequence

from ..core.task import TaskSpec, pair_key
from .errors import OfflineError
from .table import pyarrow_modules

__all__ = ['CODEBASE_VERSION', 'write_lerobot_dataset', 'lerobot_features']

CODEBASE_VERSION = 'v3.0'
DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet'
EPISODES_PATH = 'meta/episodes/chunk-000/file-000.parquet'
TASKS_PATH = 'meta/tasks.parquet'
INFO_PATH = 'meta/info.json'


def _distance_key(pair) -> str:
    return f'reward.distance.{pair_key(*pair)}'


def lerobot_features(task: TaskSpec) -> dict:
    """LeRobot ``features`` of the exported table (dtype, shape, names, description, unit)."""
    feats = {
        'timestamp': {'dtype': 'float32', 'shape': [1], 'names': None,
                      'description': "seconds since the episode's first frame (colour header stamps)", 'unit': 's'},
        'frame_index': {'dtype': 'int64', 'shape': [1], 'names': None, 'description': 'frame in the episode'},
        'episode_index': {'dtype': 'int64', 'shape': [1], 'names': None, 'description': 'episode (one per bag)'},
        'index': {'dtype': 'int64', 'shape': [1], 'names': None, 'description': 'frame in the dataset'},
        'task_index': {'dtype': 'int64', 'shape': [1], 'names': None, 'description': 'row of meta/tasks.parquet'},
        'next.reward': {'dtype': 'float32', 'shape': [1], 'names': None,
                        'description': f'dense staged reward of task {task.name!r} in [0, 1] (0 where the frame has '
                                       'no reward: see reward.valid)', 'unit': '1'},
        'next.done': {'dtype': 'bool', 'shape': [1], 'names': None,
                      'description': "terminal flag: the task's success holds in this frame"},
        'next.success': {'dtype': 'bool', 'shape': [1], 'names': None,
                         'description': "the task's success condition holds in this frame"},
        'reward.valid': {'dtype': 'bool', 'shape': [1], 'names': None,
                         'description': 'every object the reward needs was measured in this frame'},
        'reward.stage': {'dtype': 'int64', 'shape': [1], 'names': None,
                         'description': 'reward stage index (-1: no reward); stages: '
                                        + ', '.join(f'{i}={s.name}' for i, s in enumerate(task.stages))},
    }
    for pair in task.pairs():
        feats[_distance_key(pair)] = {
            'dtype': 'float32', 'shape': [1], 'names': None, 'unit': 'm',
            'description': f'distance between the centres of {pair[0]} and {pair[1]} (NaN: not measured)'}
    return feats


def _pa():
    return pyarrow_modules('the LeRobot export')


def _fps(stamps: Sequence[int]) -> int:
    """The episode's frame rate: the median colour-stamp step, rounded (LeRobot's fps is an int)."""
    steps = sorted(b - a for a, b in zip(stamps, stamps[1:]) if b > a)
    if not steps:
        return 30
    return max(1, int(round(1e9 / steps[len(steps) // 2])))


def write_lerobot_dataset(root: Path, frames_tables: Sequence[Path], task: TaskSpec,
                          fps: int | None = None) -> dict:
    """Write ``root`` (see module doc) from the ``frames.parquet`` of each bag, one episode each,
    in the given order; returns ``info.json``. ``root`` is replaced atomically."""
    pa, pq = _pa()
    root = Path(root)
    feats = lerobot_features(task)
    dist_cols = [(pair_key(*p), _distance_key(p)) for p in task.pairs()]
    cols: dict = {k: [] for k in feats}
    episodes = {'episode_index': [], 'tasks': [], 'length': [], 'data/chunk_index': [], 'data/file_index': [],
                'dataset_from_index': [], 'dataset_to_index': [], 'meta/episodes/chunk_index': [],
                'meta/episodes/file_index': [], 'bag': []}
    rates = []
    index = 0
    for ep, path in enumerate(frames_tables):
        t = pq.read_table(path, columns=['bag', 'stamp_ns', 'valid', 'reward', 'stage', 'success', 'done',
                                         'distances']).to_pylist()
        stamps = [r['stamp_ns'] for r in t]
        rates.append(_fps(stamps))
        t0 = stamps[0] if stamps else 0
        for i, r in enumerate(t):
            cols['index'].append(index + i)
            cols['episode_index'].append(ep)
            cols['frame_index'].append(i)
            cols['timestamp'].append((r['stamp_ns'] - t0) / 1e9)
            cols['task_index'].append(0)
            cols['next.reward'].append(r['reward'] if r['valid'] and r['reward'] is not None else 0.0)
            cols['next.done'].append(bool(r['done']))
            cols['next.success'].append(bool(r['success']))
            cols['reward.valid'].append(bool(r['valid']))
            cols['reward.stage'].append(-1 if r['stage'] is None else int(r['stage']))
            d = r['distances'] or {}
            for k, col in dist_cols:
                v = d.get(k)
                cols[col].append(math.nan if v is None else v)
        episodes['episode_index'].append(ep)
        episodes['tasks'].append([task.name])
        episodes['length'].append(len(t))
        episodes['data/chunk_index'].append(0)
        episodes['data/file_index'].append(0)
        episodes['dataset_from_index'].append(index)
        episodes['dataset_to_index'].append(index + len(t))
        episodes['meta/episodes/chunk_index'].append(0)
        episodes['meta/episodes/file_index'].append(0)
        episodes['bag'].append(t[0]['bag'] if t else Path(path).parent.name)
        index += len(t)
    types = {'float32': pa.float32(), 'int64': pa.int64(), 'bool': pa.bool_()}
    data = pa.table({k: pa.array(v, type=types[feats[k]['dtype']]) for k, v in cols.items()})
    fps = fps or (max(set(rates), key=rates.count) if rates else 30)
    info = {
        'codebase_version': CODEBASE_VERSION,
        'robot_type': None,
        'total_episodes': len(frames_tables),
        'total_frames': index,
        'total_tasks': 1,
        'chunks_size': 1000,
        'data_files_size_in_mb': 100,
        'video_files_size_in_mb': 200,
        'fps': int(fps),
        'splits': {'train': f'0:{len(frames_tables)}'},
        'data_path': DATA_PATH,
        'video_path': None,
        'features': feats,
    }
    staging = root.with_name(f'.{root.name}.tmp')
    shutil.rmtree(staging, ignore_errors=True)
    for sub in ('data/chunk-000', 'meta/episodes/chunk-000'):
        (staging / sub).mkdir(parents=True)
    pq.write_table(data, staging / DATA_PATH.format(chunk_index=0, file_index=0))
    pq.write_table(pa.table(episodes), staging / EPISODES_PATH)
    # pandas' own layout (lerobot reads it with pd.read_parquet: the task string is the index)
    tasks = pa.table({'task_index': pa.array([0], pa.int64()), '__index_level_0__': [task.name]})
    pandas_meta = {'index_columns': ['__index_level_0__'], 'column_indexes': [], 'columns': [
        {'name': 'task_index', 'field_name': 'task_index', 'pandas_type': 'int64', 'numpy_type': 'int64',
         'metadata': None},
        {'name': None, 'field_name': '__index_level_0__', 'pandas_type': 'unicode', 'numpy_type': 'object',
         'metadata': None}], 'creator': {'library': 'pyarrow', 'version': pa.__version__}, 'pandas_version': '2.2.0'}
    tasks = tasks.replace_schema_metadata({b'pandas': json.dumps(pandas_meta).encode()})
    pq.write_table(tasks, staging / TASKS_PATH)
    (staging / INFO_PATH).write_text(json.dumps(info, indent=4) + '\n')
    if root.exists():
        shutil.rmtree(root)
    os.replace(staging, root)
    return info
