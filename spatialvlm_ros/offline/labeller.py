"""Labelling one chunk of frames: the worker side (pure function of its job; runs in-process,
in a process pool or as a Ray task).

Per frame it does what the live ``spatial_facts`` and ``reward`` nodes do, with their code:
``ros.convert.frame_from_msgs`` -> ``core.pipeline.SpatialPipeline`` -> objects/facts documents
(``core.serialize``) -> the reward node's ``reward_from_observations`` on the objects document
as the reward node receives it. Outputs are serialised messages for the labelled bag and one
table row per frame.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..messages import serialize
from ..core.errors import SpatialError
from ..core.reward import reward_from_observations
from ..core.sizes import gravity_extents
from ..core.transform import RigidTransform, TransformError, kinematic_observation, transform_observation
from ..core.types import ns_to_stamp
from ..messages.convert import frame_from_msgs
from ..messages.markers import marker_array
from .config import LabelConfig

__all__ = ['LABELLER_FACTORIES', 'FrameJob', 'ChunkJob', 'ChunkResult', 'label_chunk', 'OUTPUT_TYPES']

logger = logging.getLogger(__name__)

OUTPUT_TYPES = {
    'objects': 'std_msgs/msg/String',
    'facts': 'std_msgs/msg/String',
    'markers': 'visualization_msgs/msg/MarkerArray',
    'reward': 'std_msgs/msg/Float32',
    'detail': 'std_msgs/msg/String',
}


def _geometric(config: LabelConfig):
    from ..core.pipeline import SpatialPipeline

    return SpatialPipeline(config.pipeline_config())


# labeller name -> factory(config) -> object with ``process(frame) -> PipelineResult``.
# The hook for a VLM-backed labeller: register a factory here and add its name to
# config.LABELLERS; everything downstream (reward, documents, bag, table) stays the same.
LABELLER_FACTORIES: dict[str, Callable[[LabelConfig], Any]] = {'geometric': _geometric}


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


@dataclass
class ChunkResult:
    bag: str
    chunk: int
    rows: list = field(default_factory=list)  # one dict per frame
    messages: dict = field(default_factory=dict)  # frame index -> [(output key, cdr bytes), ...]
    decode_s: float = 0.0
    compute_s: float = 0.0


_CACHE: dict[str, tuple] = {}


def _worker_state(config: LabelConfig) -> tuple:
    """(labeller, typestore, marker factory, transform or None), built once per process and config."""
    key = config.fingerprint()
    if key not in _CACHE:
        from ..messages.bag import message_factory, typestore_for

        ts = typestore_for()
        p = config.params
        tf = None
        if p.get('transform_source', 'none') == 'static':
            tf = list(p['static_transform']), str(p['target_frame'])
        _CACHE.clear()
        _CACHE[key] = (LABELLER_FACTORIES[config.labeller](config), ts, message_factory(ts), tf)
    return _CACHE[key]


def _row(bag: str, job: FrameJob, frame_id: str) -> dict:
    return {
        'bag': bag, 'frame': job.index, 'stamp_ns': job.stamp_ns, 'log_time_ns': job.log_time_ns,
        'frame_id': frame_id, 'valid': False, 'reward': None, 'stage': None, 'stage_name': None,
        'success': None, 'terms': {}, 'distances': {}, 'missing': [], 'objects': [], 'facts': [],
        'error_kind': None, 'error': None,
    }


def _known(fj: FrameJob, frame, tf) -> dict:
    """The frame's kinematic objects in the camera frame, as the live node's _kinematic_objects."""
    out = {}
    for name, point, frame_id in fj.known:
        if point is None:
            out[name] = None
            continue
        if frame_id in ('', frame.frame_id):
            p = point
        elif tf is not None and frame_id == tf.parent:
            p = tf.inverse().apply(point)
        else:
            raise TransformError(
                f'{name} position is in {frame_id!r} but no transform {frame_id!r} <- {frame.frame_id!r} is '
                f'configured; set target_frame: {frame_id} and transform_source: static', kind='transform')
        out[name] = kinematic_observation(name, p, frame.frame_id, frame.stamp_ns)
    return out


def label_chunk(job: ChunkJob) -> ChunkResult:
    """Label every frame of ``job``; a frame whose inputs are unusable gets a row with its error."""
    labeller, ts, markers, static_tf = _worker_state(job.config)
    p = job.config.params
    min_d, max_d = float(p['min_depth_m']), float(p['max_depth_m'])
    out = ChunkResult(bag=job.bag, chunk=job.chunk)
    for fj in job.frames:
        t0 = time.perf_counter()
        row = _row(job.bag, fj, '')
        try:
            color, depth, info = (ts.deserialize_cdr(raw, mtype) for mtype, raw in fj.raw)
            frame = frame_from_msgs(color, depth, info, min_d, max_d)
            t1 = time.perf_counter()
            out.decode_s += t1 - t0
            tf = None
            if static_tf is not None:
                tf = RigidTransform.from_xyz_quat(static_tf[0], static_tf[1], frame.frame_id, frame.stamp_ns)
            known = _known(fj, frame, tf) if fj.known else None
            result = labeller.process(frame, known=known) if known is not None else labeller.process(frame)
            # Gravity-aligned sizes from the camera-frame observations, before any transform (as the node);
            # a labeller whose result has no gravity gets the camera's up.
            extents = getattr(result, 'sizes', None) or gravity_extents(result.objects, getattr(result, 'gravity', None))
            objects, out_frame = result.objects, frame.frame_id
            if tf is not None:
                objects = {n: (None if o is None else transform_observation(o, tf)) for n, o in objects.items()}
                out_frame = tf.parent
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
        objects_doc = serialize.objects_to_doc(objects, frame.stamp_ns, out_frame, extents)
        facts_doc = serialize.facts_to_doc(result.facts, frame.stamp_ns, frame.frame_id)
        objects_text = serialize.dumps(objects_doc)
        # The reward node's path: the objects document as it arrives on the topic.
        stamp_ns, frame_id, seen = serialize.objects_from_doc(serialize.loads(objects_text))
        sample = reward_from_observations(job.config.task, seen, stamp_ns)
        detail_doc = serialize.reward_to_doc(sample, frame_id)
        d = sample.to_dict()
        row.update(
            frame_id=out_frame, valid=d['valid'], reward=d['reward'], stage=d['stage'], stage_name=d['stage_name'],
            success=d['success'], terms=d['terms'], distances=d['distances'], missing=d['missing'],
            objects=objects_doc['objects'], facts=facts_doc['facts'],
        )
        out.rows.append(row)
        if job.config.bag:
            out.messages[fj.index] = _output_messages(job.config, ts, markers, objects, result.facts, objects_text,
                                                      facts_doc, detail_doc, sample, frame.stamp_ns, out_frame)
        out.compute_s += time.perf_counter() - t1
    return out


def _output_messages(config: LabelConfig, ts, markers, objects, facts, objects_text: str, facts_doc: dict,
                     detail_doc: dict, sample, stamp_ns: int, out_frame: str) -> list:
    """[(output key, CDR bytes), ...] of one frame for the labelled bag, as the live nodes publish them."""
    t = ts.types
    msgs = [('objects', t['std_msgs/msg/String'](data=objects_text)),
            ('facts', t['std_msgs/msg/String'](data=serialize.dumps(facts_doc)))]
    if config.markers:
        sec, nanosec = ns_to_stamp(stamp_ns)
        header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
                                          frame_id=out_frame)
        msgs.append(('markers', marker_array(markers, objects, facts, header)))
    if sample.valid:
        msgs.append(('reward', t['std_msgs/msg/Float32'](data=float(sample.reward))))
    msgs.append(('detail', t['std_msgs/msg/String'](data=serialize.dumps(detail_doc))))
    return [(k, bytes(ts.serialize_cdr(m, OUTPUT_TYPES[k]))) for k, m in msgs]

