"""Labelling one chunk of frames: the worker side (pure function of its job; runs in-process,
in a process pool or as a Ray task).

Per frame: ``messages.convert.frame_from_msgs`` -> the registered labeller (``offline.labellers``;
'geometric' is the live nodes' :class:`~spatialvlm_ros.core.step.FrameStep`) -> the documents and
messages the live nodes publish (``messages.serialize``, ``messages.markers``). Outputs are
serialised messages for the labelled bag and one table row per frame.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Iterable

from ..core.errors import SpatialError
from ..core.step import KnownPosition
from ..core.transform import RigidTransform
from ..core.types import ns_to_stamp
from ..messages import serialize
from ..messages.bag import message_factory, typestore_for
from ..messages.convert import frame_from_msgs, label_image_from_msg
from ..messages.markers import marker_array, marker_array_cdr
from .config import LabelConfig
from .labellers import make_labeller

__all__ = ['FrameJob', 'ChunkJob', 'ChunkResult', 'label_chunk', 'label_frames', 'OUTPUT_TYPES']

logger = logging.getLogger(__name__)

OUTPUT_TYPES = {
    'objects': 'std_msgs/msg/String',
    'facts': 'std_msgs/msg/String',
    'markers': 'visualization_msgs/msg/MarkerArray',
    'reward': 'std_msgs/msg/Float32',
    'detail': 'std_msgs/msg/String',
}


@dataclass(frozen=True)
class FrameJob:
    """One matched (colour, depth, camera_info) set, as serialized CDR with its message types."""

    index: int  # matched-frame index in the bag
    stamp_ns: int  # the colour header stamp
    log_time_ns: int  # bag time of the message that completed the match (outputs are logged then)
    raw: tuple  # ((msgtype, bytes) colour, (msgtype, bytes) depth, (msgtype, bytes) camera_info)
    # Known positions at this frame: ((name, (x, y, z) or None, frame_id), ...) (kinematic objects).
    known: tuple = ()


@dataclass(frozen=True)
class ChunkJob:
    bag: str
    chunk: int
    frames: tuple  # FrameJob, ...
    config: LabelConfig
    lead: tuple = ()  # FrameJob, ...: the frames just before, seen but not labelled (Chunk.lead)


@dataclass
class ChunkResult:
    bag: str
    chunk: int
    rows: list = field(default_factory=list)  # one dict per frame
    messages: dict = field(default_factory=dict)  # frame index -> [(output key, cdr bytes), ...]
    decode_s: float = 0.0
    compute_s: float = 0.0  # wall time of the step, reward rows and output messages
    step_cpu_s: float = 0.0  # this thread's CPU time in the labeller's per-frame step alone


_CACHE: dict[str, tuple] = {}


def _worker_state(config: LabelConfig) -> tuple:
    """(labeller, typestore, message factory, static transform values or None), built once per
    process and config."""
    key = config.fingerprint()
    if key not in _CACHE:
        ts = typestore_for()
        p = config.params
        tf = None
        if p.get('transform_source', 'none') == 'static':
            tf = list(p['static_transform']), str(p['target_frame'])
        _CACHE.clear()
        _CACHE[key] = (make_labeller(config), ts, message_factory(ts), tf)
    return _CACHE[key]


def _row(bag: str, job: FrameJob, frame_id: str) -> dict:
    return {
        'bag': bag, 'frame': job.index, 'stamp_ns': job.stamp_ns, 'log_time_ns': job.log_time_ns,
        'frame_id': frame_id, 'valid': False, 'reward': None, 'stage': None, 'stage_name': None,
        'success': None, 'done': None, 'terms': {}, 'distances': {}, 'missing': [], 'objects': [], 'facts': [],
        'up': None, 'error_kind': None, 'error': None, 'vlm': None,
    }


def label_chunk(job: ChunkJob) -> ChunkResult:
    """Label every frame of ``job`` (serialized bag messages); a frame whose inputs are unusable gets
    a row with its error."""
    ts = _worker_state(job.config)[1]
    p = job.config.params
    min_d, max_d = float(p['min_depth_m']), float(p['max_depth_m'])

    def decode(fj: FrameJob):
        color, depth, info, *masks = (ts.deserialize_cdr(raw, mtype) for mtype, raw in fj.raw)
        frame = frame_from_msgs(color, depth, info, min_d, max_d)
        return frame, (label_image_from_msg(masks[0], frame) if masks else None)

    return label_frames(job.bag, job.chunk, ((fj, partial(decode, fj)) for fj in job.frames), job.config,
                        lead=[(fj, partial(decode, fj)) for fj in job.lead])


def label_frames(name: str, chunk: int, items: Iterable[tuple], config: LabelConfig,
                 lead: Iterable[tuple] = ()) -> ChunkResult:
    """Label frames from any input: ``items`` are ``(FrameJob, decode)`` pairs, ``decode()`` giving
    ``(core.types.Frame, label image or None)`` and raising SpatialError for unusable inputs (the
    frame then gets a row with its error, as does any other exception, kind 'internal'). ``FrameJob.raw``
    is only read by ``decode``. The bag path (:func:`label_chunk`) and the LeRobot dataset input
    (``offline.lerobot_input``) both label through here.

    lead: the same pairs for the frames just before (``PipelineConfig.lead_frames`` of them), given
    to the labeller's ``warm`` and not labelled, so the chunk's first frames get the up the live
    stream gave them (a static camera's up is steadied over recent frames)."""
    labeller, ts, new, static_tf = _worker_state(config)
    out = ChunkResult(bag=name, chunk=chunk)
    _warm(labeller, lead, out)
    for fj, decode in items:
        t0 = time.perf_counter()
        row = _row(name, fj, '')
        try:
            frame, labels = decode()
            t1 = time.perf_counter()
            out.decode_s += t1 - t0
            tf = None
            if static_tf is not None:
                tf = RigidTransform.from_xyz_quat(static_tf[0], static_tf[1], frame.frame_id, frame.stamp_ns)
            known = {name: None if point is None else KnownPosition(point, frame_id)
                     for name, point, frame_id in fj.known}
            c0 = time.thread_time()
            result = labeller(frame, known, tf, labels)
            out.step_cpu_s += time.thread_time() - c0
        except SpatialError as err:
            out.decode_s += time.perf_counter() - t0
            row.update(error_kind=err.kind, error=str(err))
            out.rows.append(row)
            continue
        except Exception as err:  # noqa: BLE001 - as the node: report the frame, never die on it
            out.decode_s += time.perf_counter() - t0
            row.update(error_kind='internal', error=f'{type(err).__name__}: {err}')
            out.rows.append(row)
            continue
        objects_doc = serialize.objects_to_doc(result.objects, result.stamp_ns, result.frame_id, result.sizes,
                                               result.up)
        facts_doc = serialize.facts_to_doc(result.facts, result.stamp_ns, result.camera_frame, result.gravity)
        d = result.reward.to_dict()
        row.update(
            frame_id=result.frame_id, valid=d['valid'], reward=d['reward'], stage=d['stage'],
            stage_name=d['stage_name'], success=d['success'], done=d['done'], terms=d['terms'], distances=d['distances'],
            missing=d['missing'], objects=objects_doc['objects'], facts=facts_doc['facts'], up=facts_doc.get('up'),
        )
        out.rows.append(row)
        if config.bag:
            detail_doc = serialize.reward_to_doc(result.reward, result.frame_id)
            out.messages[fj.index] = _output_messages(config, ts, new, result, objects_doc, facts_doc, detail_doc)
        out.compute_s += time.perf_counter() - t1
    flush = getattr(labeller, 'flush', None)
    if flush is not None:  # a labeller that batches across the chunk's frames (the VLM labeller)
        t1 = time.perf_counter()
        by_stamp = {r['stamp_ns']: r for r in out.rows}
        for stamp, doc in flush().items():
            if stamp in by_stamp:
                by_stamp[stamp]['vlm'] = doc
        out.compute_s += time.perf_counter() - t1
    return out


def _warm(labeller, lead: Iterable[tuple], out: ChunkResult) -> None:
    """A new chunk: the labeller forgets the frames it saw (another chunk's, in this worker) and
    sees the chunk's lead frames; one it cannot read was not seen live either."""
    reset, warm = getattr(labeller, 'reset', None), getattr(labeller, 'warm', None)
    if reset is not None:
        reset()
    if warm is None:
        return
    for _, decode in lead:
        t0 = time.perf_counter()
        try:
            frame, _ = decode()
        except Exception:  # noqa: BLE001 - its own chunk reports it; the live node never saw its up
            out.decode_s += time.perf_counter() - t0
            continue
        out.decode_s += time.perf_counter() - t0
        c0 = time.thread_time()
        try:
            warm(frame)
        except Exception:  # noqa: BLE001 - as above: the frame's own row says what was wrong
            pass
        out.step_cpu_s += time.thread_time() - c0


def _output_messages(config: LabelConfig, ts, new, result, objects_doc: dict, facts_doc: dict,
                     detail_doc: dict) -> list:
    """[(output key, CDR bytes), ...] of one frame for the labelled bag, as the live nodes publish them."""
    t = ts.types
    msgs = [('objects', t['std_msgs/msg/String'](data=serialize.dumps(objects_doc))),
            ('facts', t['std_msgs/msg/String'](data=serialize.dumps(facts_doc)))]
    if config.markers:
        if sys.byteorder == 'little':  # the bytes serialize_cdr gives (little endian here), written directly
            msgs.append(('markers', marker_array_cdr(result.objects, result.facts, result.stamp_ns, result.frame_id)))
        else:
            sec, nanosec = ns_to_stamp(result.stamp_ns)
            header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
                                              frame_id=result.frame_id)
            msgs.append(('markers', marker_array(new, result.objects, result.facts, header)))
    if result.reward.valid:
        msgs.append(('reward', t['std_msgs/msg/Float32'](data=float(result.reward.reward))))
    msgs.append(('detail', t['std_msgs/msg/String'](data=serialize.dumps(detail_doc))))
    return [(k, m if isinstance(m, bytes) else bytes(ts.serialize_cdr(m, OUTPUT_TYPES[k]))) for k, m in msgs]
