"""``synth_dataset``: SpatialVLM-style spatial QA from RGB-D bags or frames.

Per frame: the task's objects are grounded and measured by the core pipeline (gravity frame
from ``core.gravity`` when the pipeline provides it), then :mod:`offline.qa` writes templated
questions over every object pair with the metric answer from depth. Randomness (categories,
phrasings, units) is seeded per frame from ``seed``, the source and the stamp, so the dataset
does not depend on the order or the machine the frames were processed on.

Inputs: rosbag2 directories (frames paired as the live node pairs them; every ``every``-th
frame), ``.npz`` files or directories of them with ``rgb`` (HxWx3 uint8), ``depth`` (HxW float32
metres, NaN/0 = invalid), ``K`` (3x3), optional ``stamp_ns`` and ``frame_id``.

Output directory::

    data.jsonl      one sample per line: {"id", "messages" (chat format), "images" [relative path], ...provenance}
    data.parquet    the same with the images embedded (Hugging Face datasets ``Image`` features)
    images/*.png    the frames the questions are about
    summary.json
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .config import LabelConfig, default_params
from .errors import OfflineError
from .executors import make_executor
from .runner import RunOptions

__all__ = ['SynthConfig', 'synth_dataset', 'synth_items']

logger = logging.getLogger(__name__)

SYSTEM = 'spatialvlm_ros synth'


@dataclass(frozen=True)
class SynthConfig:
    """Options of :func:`synth_dataset`."""

    # Objects to ask about (names -> prompts) come from this task; perception from ``params``.
    task: object
    params: dict = field(default_factory=default_params)
    # Every n-th paired frame of a bag is used (neighbouring frames say nearly the same).
    every: int = 10
    # Questions drawn per object pair and frame (undecidable ones are dropped).
    per_pair: int = 4
    # Seed of every random choice (with the source and stamp of each frame).
    seed: int = 0
    # Frames per parallel job.
    chunk_frames: int = 16
    color_topic: Optional[str] = None
    depth_topic: Optional[str] = None
    info_topic: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ('every', 'per_pair', 'chunk_frames'):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise OfflineError(f'{name}: expected an integer >= 1, got {v!r}', kind='params')

    def label_config(self) -> LabelConfig:
        return LabelConfig(task=self.task, params=self.params, color_topic=self.color_topic,
                           depth_topic=self.depth_topic, info_topic=self.info_topic, chunk_frames=self.chunk_frames)


@dataclass(frozen=True)
class _Item:
    source: str
    kind: str  # 'bag' (raw messages) or 'npz' (a file path)
    payload: object


_STATE: dict = {}


def _pipeline(config: SynthConfig):
    key = id(config), config.label_config().fingerprint()
    if _STATE.get('key') != key:
        from ..core.pipeline import SpatialPipeline

        _STATE.clear()
        _STATE.update(key=key, pipe=SpatialPipeline(config.label_config().pipeline_config()))
    return _STATE['pipe']


def _frame(item: _Item, params: dict, ts):
    from ..core.depth import make_frame
    from ..core.types import Intrinsics
    from ..messages.convert import frame_from_msgs

    if item.kind == 'bag':
        color, depth, info = (ts.deserialize_cdr(raw, mtype) for mtype, raw in item.payload.raw)
        return frame_from_msgs(color, depth, info, float(params['min_depth_m']), float(params['max_depth_m']))
    try:
        with np.load(item.payload) as z:
            rgb, depth, k = z['rgb'], z['depth'].astype(np.float32), z['K']
            stamp = int(z['stamp_ns']) if 'stamp_ns' in z else 0
            frame_id = str(z['frame_id']) if 'frame_id' in z else 'camera_color_optical_frame'
    except (OSError, KeyError, ValueError) as err:
        raise OfflineError(f'{item.payload}: expected an .npz with rgb, depth (metres) and K: {err}',
                           kind='bad_input') from err
    intr = Intrinsics.from_k(k, rgb.shape[1], rgb.shape[0])
    return make_frame(rgb, 'rgb8', depth, '32FC1', intr, stamp, frame_id, float(params['min_depth_m']),
                      float(params['max_depth_m']))


def synth_items(job: tuple) -> list:
    """Worker: [(image name, PNG bytes, [sample dicts]) or (None, error kind, message)] per item."""
    import cv2

    from ..messages.bag import typestore_for
    from .qa import make_questions, pair_geometry

    config, items = job
    ts = typestore_for()
    pipe = _pipeline(config)
    task = config.task
    margin = float(config.params['fact_margin_m'])
    out = []
    for item in items:
        try:
            frame = _frame(item, config.params, ts)
            pipe.reset()  # each sample is measured on its own frame (a worker takes any items)
            result = pipe.process(frame)
        except Exception as err:  # noqa: BLE001 - a bad frame is reported, the dataset goes on
            out.append((None, getattr(err, 'kind', 'internal'), f'{item.source}: {err}'))
            continue
        gravity = getattr(result, 'gravity', None)
        up = np.asarray(gravity.up) if gravity is not None else np.array([0.0, -1.0, 0.0])
        gsource = gravity.source if gravity is not None else 'camera'
        stamp = int(frame.stamp_ns)
        rng = np.random.default_rng([config.seed, zlib.crc32(item.source.encode()), stamp % 2**32, stamp >> 32])
        found = [(n, o) for n, o in result.objects.items() if o is not None]
        image = f'{item.source}_{stamp}.png'
        objects = {n: {'center_m': [round(float(v), 5) for v in o.center],
                       'extent_m': [round(float(v), 5) for v in o.extent], 'points': o.point_count}
                   for n, o in found}
        samples = []
        for (na, a), (nb, b) in combinations(found, 2):
            if rng.random() < 0.5:
                (na, a), (nb, b) = (nb, b), (na, a)
            sizes = getattr(result, 'sizes', None) or {}
            g = pair_geometry(a, b, up, (sizes[na], sizes[nb]) if na in sizes and nb in sizes else None)
            descs = (task.objects[na], task.objects[nb])
            for qa in make_questions(rng, (na, nb), descs, g, config.per_pair, margin):
                samples.append({
                    'id': f'{item.source}-{stamp}-{len(samples)}',
                    'messages': [
                        {'role': 'user', 'content': [{'type': 'image', 'text': None},
                                                     {'type': 'text', 'text': qa.question}]},
                        {'role': 'assistant', 'content': [{'type': 'text', 'text': qa.answer}]},
                    ],
                    'images': [f'images/{image}'],
                    'category': qa.category,
                    'qualitative': qa.qualitative,
                    'source': item.source,
                    'stamp_ns': stamp,
                    'frame_id': frame.frame_id,
                    'subject': qa.subject,
                    'object': qa.object,
                    'value_m': None if qa.value_m is None else round(qa.value_m, 6),
                    'answer_value': qa.answer_value,
                    'unit': qa.unit,
                    'gravity_source': gsource,
                    'up': [round(float(v), 6) for v in up],
                    'objects': objects,
                })
        ok, png = cv2.imencode('.png', np.ascontiguousarray(frame.rgb[:, :, ::-1]))
        out.append((image, png.tobytes() if samples else b'', samples))
    return out


def _iter_jobs(inputs: Sequence[Path], config: SynthConfig, counts: Counter):
    """(config, [items]) jobs: bags read and paired in this process, npz files by path."""
    from .bagio import ReadStats, iter_chunks
    from .inputs import detect_topics

    lc = config.label_config()
    batch: list = []
    for path in inputs:
        path = Path(path)
        if (path.is_dir() and (path / 'metadata.yaml').exists()) or (path.is_file() and path.suffix == '.bag'):
            topics = detect_topics(path, config.color_topic, config.depth_topic, config.info_topic)
            stats = ReadStats()
            for chunk in iter_chunks(path, topics, lc, stats):
                for fj in chunk.frames:
                    if fj.index % config.every == 0:
                        batch.append(_Item(path.stem if path.is_file() else path.name, 'bag', fj))
                if len(batch) >= config.chunk_frames:
                    yield config, batch
                    batch = []
            counts['corrupt_messages'] += sum(stats.corrupt.values())
            continue
        files = sorted(path.glob('*.npz')) if path.is_dir() else [path]
        if not files or any(f.suffix != '.npz' or not f.exists() for f in files):
            raise OfflineError(f'{path} is neither a rosbag2 directory, a ROS 1 .bag nor .npz frames (rgb, depth, K)',
                               kind='bad_input')
        for f in files:
            batch.append(_Item(f.stem, 'npz', str(f)))
            if len(batch) >= config.chunk_frames:
                yield config, batch
                batch = []
    if batch:
        yield config, batch


def _hf_features() -> dict:
    text = {'dtype': 'string', '_type': 'Value'}
    return {
        'id': text,
        'images': {'feature': {'_type': 'Image'}, '_type': 'Sequence'},
        'messages': [{'role': text, 'content': [{'type': text, 'text': text}]}],
        'category': text, 'qualitative': {'dtype': 'bool', '_type': 'Value'}, 'source': text,
        'stamp_ns': {'dtype': 'int64', '_type': 'Value'}, 'frame_id': text, 'subject': text, 'object': text,
        'value_m': {'dtype': 'float64', '_type': 'Value'}, 'answer_value': {'dtype': 'float64', '_type': 'Value'},
        'unit': text, 'gravity_source': text, 'objects': text,
    }


def _write_parquet(path: Path, samples: list, images_dir: Path) -> None:
    from .table import pyarrow_modules

    pa, pq = pyarrow_modules()
    content = pa.list_(pa.struct([('type', pa.string()), ('text', pa.string())]))
    schema = pa.schema([
        ('id', pa.string()),
        ('images', pa.list_(pa.struct([('bytes', pa.binary()), ('path', pa.string())]))),
        ('messages', pa.list_(pa.struct([('role', pa.string()), ('content', content)]))),
        ('category', pa.string()), ('qualitative', pa.bool_()), ('source', pa.string()), ('stamp_ns', pa.int64()),
        ('frame_id', pa.string()), ('subject', pa.string()), ('object', pa.string()), ('value_m', pa.float64()),
        ('answer_value', pa.float64()), ('unit', pa.string()), ('gravity_source', pa.string()),
        ('objects', pa.string()),
    ], metadata={'huggingface': json.dumps({'info': {'features': _hf_features()}})})
    cache: dict = {}
    rows = []
    for s in samples:
        img = s['images'][0]
        if img not in cache:
            cache[img] = (images_dir.parent / img).read_bytes()
        row = {k: s[k] for k in schema.names if k not in ('images', 'objects')}
        row['images'] = [{'bytes': cache[img], 'path': img}]
        row['objects'] = json.dumps(s['objects'], sort_keys=True)
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression='zstd')


def synth_dataset(inputs: Sequence[Path], out: Path, config: SynthConfig, options: RunOptions = RunOptions()) -> dict:
    """Write the QA dataset to ``out`` (must not exist; built under a temporary name, renamed)."""
    out = Path(out)
    if out.exists():
        raise OfflineError(f'{out} already exists; choose another --out or delete it', kind='exists')
    inputs = [Path(p) for p in inputs]
    for p in inputs:
        if not p.exists():
            raise OfflineError(f'no input at {p}', kind='bad_input')
    staging = out.parent / f'.{out.name}.partial'
    shutil.rmtree(staging, ignore_errors=True)
    (staging / 'images').mkdir(parents=True)
    t0 = time.perf_counter()
    counts: Counter = Counter()
    failures: Counter = Counter()
    cats: Counter = Counter()
    samples: list = []
    executor = make_executor(options.workers, options.ray_address)
    bar = None
    if options.progress:
        from tqdm import tqdm

        bar = tqdm(unit='frame', desc='synth', file=sys.stderr)
    try:
        handles = []

        def drain(limit: int) -> None:
            while len(handles) > limit:
                for image, png, got in handles.pop(0).get():
                    counts['frames'] += 1
                    if image is None:
                        failures[png] += 1
                        continue
                    if got:
                        (staging / 'images' / image).write_bytes(png)
                        counts['frames_with_questions'] += 1
                    samples.extend(got)
                    cats.update(s['category'] for s in got)
                    if bar is not None:
                        bar.update(1)

        for job in _iter_jobs(inputs, config, counts):
            handles.append(executor.submit(synth_items, job))
            drain(executor.workers + 1)
        drain(0)
    except BaseException:
        if hasattr(executor, 'terminate'):
            executor.terminate()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    executor.close()
    with open(staging / 'data.jsonl', 'w') as fh:
        for s in samples:
            fh.write(json.dumps(s, sort_keys=True) + '\n')
    _write_parquet(staging / 'data.parquet', samples, staging / 'images')
    wall = time.perf_counter() - t0
    summary = {
        'inputs': [str(p) for p in inputs], 'output': str(out), 'task': config.task.name, 'seed': config.seed,
        'frames': counts['frames'], 'frames_with_questions': counts['frames_with_questions'],
        'samples': len(samples),
        'qualitative': sum(1 for s in samples if s['qualitative']),
        'quantitative': sum(1 for s in samples if not s['qualitative']),
        'by_category': dict(sorted(cats.items())),
        'gravity_sources': dict(Counter(s['gravity_source'] for s in samples)),
        'failures': dict(sorted(failures.items())), 'corrupt_messages': counts['corrupt_messages'],
        'throughput': {'wall_s': round(wall, 3), 'workers': executor.workers,
                       'frames_per_s': round(counts['frames'] / wall, 2) if wall > 0 else None},
    }
    (staging / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    os.replace(staging, out)
    return summary
