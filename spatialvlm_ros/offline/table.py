"""The per-frame Parquet table of a labelled bag (one row per matched frame), via pyarrow."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..core.reward import term_names
from ..core.task import TaskSpec, pair_key
from .errors import OfflineError

__all__ = ['frames_schema', 'pyarrow_modules', 'vlm_type', 'write_frames_table']


def pyarrow_modules(purpose: str = 'Parquet output'):
    """(pyarrow, pyarrow.parquet), imported on first use; OfflineError(kind='dependency') naming
    ``purpose`` when pyarrow is missing. The one place the offline tools import it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise OfflineError(f'pyarrow is required for {purpose}; install with pip install pyarrow',
                           kind='dependency') from err
    return pa, pq



def frames_schema(task: TaskSpec):
    """Columns: ids and stamps, the reward detail (terms and distances as structs with one field
    per term of the task's reward form / task pair, metres), objects and facts (core.serialize
    schema) as nested lists; ``done`` is the frame's terminal flag (the task's success); ``up``
    the up the facts were read along (the facts document's: source, confidence, averaged_frames)."""
    pa, _ = pyarrow_modules()
    terms = term_names(task)
    vec = pa.list_(pa.float64(), 3)
    return pa.schema([
        ('bag', pa.string()),
        ('frame', pa.int64()),
        ('stamp_ns', pa.int64()),
        ('log_time_ns', pa.int64()),
        ('frame_id', pa.string()),
        ('valid', pa.bool_()),
        ('reward', pa.float64()),
        ('stage', pa.int32()),
        ('stage_name', pa.string()),
        ('success', pa.bool_()),
        ('done', pa.bool_()),
        ('terms', pa.struct([(t, pa.float64()) for t in terms])),
        ('distances', pa.struct([(pair_key(*p), pa.float64()) for p in task.pairs()])),
        ('missing', pa.list_(pa.string())),
        ('objects', pa.list_(pa.struct([('name', pa.string()), ('center_m', vec), ('extent_m', vec),
                                        ('extent_camera_m', vec), ('points', pa.int64()),
                                        ('pixels', pa.int64())]))),
        ('facts', pa.list_(pa.struct([('type', pa.string()), ('subject', pa.string()), ('object', pa.string()),
                                      ('value', pa.float64()), ('unit', pa.string()), ('frame', pa.string()),
                                      ('holds', pa.bool_()), ('confidence', pa.float64()),
                                      ('stamp_ns', pa.int64())]))),
        ('up', pa.struct([('source', pa.string()), ('confidence', pa.float64()), ('averaged_frames', pa.int64())])),
        ('error_kind', pa.string()),
        ('error', pa.string()),
        ('vlm', vlm_type(task)),
    ])


def vlm_type(task: TaskSpec):
    """The ``vlm`` column (the VLM labeller's frames; null elsewhere): per task pair the question's
    answer text, the distance parsed from it (metres), the depth distance and their disagreement, and
    the task's reward on the VLM's distances."""
    pa, _ = pyarrow_modules()
    pairs = [pair_key(*p) for p in task.pairs()]
    return pa.struct([
        ('backend', pa.string()),
        ('answers', pa.struct([(k, pa.string()) for k in pairs])),
        ('distances', pa.struct([(k, pa.float64()) for k in pairs])),
        ('depth_distances', pa.struct([(k, pa.float64()) for k in pairs])),
        ('disagreement', pa.struct([(k, pa.struct([('abs_m', pa.float64()), ('rel', pa.float64())]))
                                    for k in pairs])),
        ('valid', pa.bool_()),
        ('reward', pa.float64()),
        ('stage', pa.int32()),
        ('stage_name', pa.string()),
        ('success', pa.bool_()),
        ('error_kind', pa.string()),
        ('error', pa.string()),
    ])


def write_frames_table(path: Path, rows: Sequence[dict], task: TaskSpec) -> None:
    """Write ``rows`` (dicts as made by offline.labeller) to ``path`` (Parquet, zstd)."""
    pa, pq = pyarrow_modules()
    schema = frames_schema(task)
    terms = [f.name for f in schema.field('terms').type]
    dists = [f.name for f in schema.field('distances').type]
    cols = {name: [] for name in schema.names}
    for r in rows:
        for name in schema.names:
            v = r.get(name)
            if name == 'terms':
                v = None if not r['terms'] else {t: r['terms'].get(t) for t in terms}
            elif name == 'distances':
                v = None if not r['distances'] else {d: r['distances'].get(d) for d in dists}
            elif name == 'vlm' and v is not None:
                v = {f.name: v.get(f.name) for f in schema.field('vlm').type}
                for key in ('answers', 'distances', 'depth_distances', 'disagreement'):
                    v[key] = {d: (v[key] or {}).get(d) for d in dists}
            cols[name].append(v)
    table = pa.table(cols, schema=schema)
    pq.write_table(table, path, compression='zstd')
