"""Bag reading (frames paired exactly as the live node pairs them) and labelled-bag writing.

Reading: every message of the bag in bag order; messages of the camera topics are
deserialized (a message that cannot be is corrupt: counted, skipped, never paired, as the
live node never receives it), their header stamps fed to ``core.sync.ApproximateTimeSync``
with the node's slop and queue size, and the node's ``max_rate_hz`` limit applied on header
stamps. The stream is cut into chunks of ``chunk_frames`` matched frames; a chunk holds every
raw message up to the one that completed its last match, so chunks are independent units of
work whose labelled bag files concatenate into the whole bag.

By reference (``keep_data=False``): the chunks carry each message's key (connection id, log
time, occurrence of that pair) instead of its bytes, and a worker on this machine reads the
bytes back from the bag itself (:func:`fill_chunk`): images then never cross between processes
(pickling 2 MB a frame through a pipe costs more than reading it again). A worker keeps the bag
open between its chunks and reads MCAP chunks with :mod:`..messages.mcap_raw` (no copies); the
main process reads the same way and takes camera stamps from the CDR header alone.

Writing: one MCAP file per chunk (original messages copied byte for byte, outputs inserted
right after the message that completed each frame's match, logged at its bag time, header
stamps of the source frame); :func:`merge_metadata` joins the chunk files into one rosbag2
(split-file) bag.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
from collections import Counter, namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..messages.sync import ApproximateTimeSync
from ..core.transform import StampedBuffer
from ..messages.convert import header_stamp_ns
from ..messages.bag import open_reader, typestore_for
from ..messages.cdr import IMAGE_STAMP_READERS
from ..messages.mcap_raw import raw_messages
from .config import OUTPUT_TOPICS, LabelConfig
from .errors import OfflineError
from .inputs import CameraTopics
from .labeller import OUTPUT_TYPES, FrameJob

__all__ = ['Chunk', 'ReadStats', 'iter_chunks', 'fill_chunk', 'write_chunk_bag', 'merge_metadata']

logger = logging.getLogger(__name__)


@dataclass
class ReadStats:
    messages: int = 0
    camera_messages: int = 0
    corrupt: Counter = field(default_factory=Counter)  # topic -> corrupt messages skipped
    corrupt_examples: list = field(default_factory=list)  # first few 'topic @ time: error'
    matched: int = 0
    rate_limited: int = 0
    sync_dropped: int = 0
    sync_out_of_order: int = 0
    sync_time_jumps: int = 0
    ground_truth: list = field(default_factory=list)  # /sim/ground_truth docs, when the bag has them


@dataclass
class Chunk:
    index: int
    # (connection id, log time ns, raw bytes), bag order; by reference: (connection id, log time
    # ns, occurrence), the occurrence counting earlier messages of that connection at that time.
    messages: list
    frames: list  # FrameJob (by reference: their raw entries are (msgtype, message key))
    after: dict  # frame index -> position in ``messages`` after which its outputs go
    by_reference: bool = False
    # The frames just before this chunk's first (FrameJob, as ``frames``), not labelled: the up of
    # a static camera is steadied over recent frames (core.up_window), so they are seen first.
    lead: list = field(default_factory=list)


class _MessageKeys:
    """Keys naming a message without its bytes: (connection id, log time ns, occurrence), the
    occurrence counting earlier messages of that connection at that same log time. One rule for
    the reader that indexes the bag and the worker that reads a window of it back."""

    def __init__(self) -> None:
        self._last: dict = {}  # connection id -> (log time, occurrences so far)

    def key(self, conn_id: int, log_time: int) -> tuple:
        t_prev, occ = self._last.get(conn_id, (None, 0))
        occ = occ + 1 if t_prev == log_time else 0
        self._last[conn_id] = (log_time, occ)
        return conn_id, int(log_time), occ


GROUND_TRUTH_TOPIC = '/sim/ground_truth'
# A known position (geometry_msgs/PointStamped) in a StampedBuffer.
_Known = namedtuple('_Known', 'stamp_ns point frame_id')


def iter_chunks(path: Path, topics: CameraTopics, config: LabelConfig, stats: ReadStats, typestore=None,
                connections: list | None = None, keep_data: bool = True) -> Iterator[Chunk]:
    """Chunks of the bag at ``path`` (see module doc). ``connections`` receives the bag's connections;
    ``keep_data=False``: chunks by reference, for :func:`fill_chunk`."""
    import json

    ts = typestore or typestore_for()
    p = config.params
    sync = ApproximateTimeSync(tuple(topics.by_stream()), slop_ns=int(float(p['slop_s']) * 1e9),
                               queue_size=int(p['sync_queue_size']))
    rate = float(p.get('max_rate_hz', 0.0))
    min_period_ns = int(0.9e9 / rate) if rate > 0 else 0
    last_processed = None
    stream_of = {t: s for s, t in topics.by_stream().items()}
    per_chunk = config.chunk_frames
    n_lead = config.pipeline_config().lead_frames
    tol_ns = int(float(p.get('kinematic_tolerance_s', 0.02)) * 1e9)
    kin_topics = dict((topic, name) for name, topic in config.kinematic)
    buffers = {name: StampedBuffer(tol_ns, max_items=100_000) for name, _ in config.kinematic}
    pending: list = []  # full chunks whose kinematic lookups wait for later positions

    def resolve(chunk: Chunk) -> Chunk:
        """Kinematic positions of the chunk's frames: the nearest within tolerance in the bag."""
        if not buffers:
            return chunk
        frames = []
        for fj in chunk.frames:
            known = []
            for name, buf in buffers.items():
                item = buf.lookup(fj.stamp_ns)
                known.append((name, None if item is None else item[1], '' if item is None else item[2]))
            frames.append(dataclasses.replace(fj, known=tuple(known)))
        return dataclasses.replace(chunk, frames=frames)

    def ready(chunk: Chunk, newest_ns: int) -> bool:
        return not buffers or not chunk.frames or newest_ns > chunk.frames[-1].stamp_ns + tol_ns
    with open_reader(path) as reader:
        if connections is not None:
            connections.extend(reader.connections)
        index, frame_index = 0, 0
        messages, frames, after = [], [], {}
        lead: list = []
        newest = -1
        keys = _MessageKeys()
        for conn, log_time, raw in raw_messages(reader):
            stats.messages += 1
            if keep_data:
                raw = bytes(raw)  # the chunk travels with its bytes (to Ray: a memoryview does not pickle)
                messages.append((conn.id, int(log_time), raw))
            else:
                messages.append(keys.key(conn.id, log_time))
            if conn.topic in kin_topics:
                try:
                    m = ts.deserialize_cdr(raw, conn.msgtype)
                    item = _Known(header_stamp_ns(m), (m.point.x, m.point.y, m.point.z), m.header.frame_id)
                except Exception as err:  # noqa: BLE001 - a corrupt position is counted like a corrupt image
                    stats.corrupt[conn.topic] += 1
                    if len(stats.corrupt_examples) < 5:
                        stats.corrupt_examples.append(f'{conn.topic} @ {log_time}: {type(err).__name__}: {err}')
                    continue
                buffers[kin_topics[conn.topic]].add(item)
                newest = max(newest, item.stamp_ns)
                while pending and ready(pending[0], newest):
                    yield resolve(pending.pop(0))
                continue
            if conn.topic == GROUND_TRUTH_TOPIC and conn.msgtype == 'std_msgs/msg/String':
                try:
                    stats.ground_truth.append(json.loads(ts.deserialize_cdr(raw, conn.msgtype).data))
                except Exception:  # noqa: BLE001 - ground truth only feeds the plot
                    pass
            stream = stream_of.get(conn.topic)
            if stream is None:
                continue
            stats.camera_messages += 1
            try:
                read_stamp = IMAGE_STAMP_READERS.get(conn.msgtype)
                if read_stamp is not None:
                    stamp = read_stamp(raw)  # the workers deserialize it; here only its layout is checked
                else:
                    stamp = header_stamp_ns(ts.deserialize_cdr(raw, conn.msgtype))
            except Exception as err:  # noqa: BLE001 - corrupt CDR: the live node would never get it
                stats.corrupt[conn.topic] += 1
                if len(stats.corrupt_examples) < 5:
                    stats.corrupt_examples.append(f'{conn.topic} @ {log_time}: {type(err).__name__}: {err}')
                continue
            matched = sync.add(stream, stamp, (conn.msgtype, raw if keep_data else messages[-1], stamp))
            if matched is None:
                continue
            stats.matched += 1
            if min_period_ns and last_processed is not None and 0 <= stamp - last_processed < min_period_ns:
                stats.rate_limited += 1
                continue
            last_processed = stamp
            frames.append(FrameJob(index=frame_index, stamp_ns=matched[0][2], log_time_ns=int(log_time),
                                   raw=tuple((m, r) for m, r, _ in matched)))
            after[frame_index] = len(messages) - 1
            frame_index += 1
            if len(frames) == per_chunk:
                pending.append(Chunk(index, messages, frames, after, not keep_data, lead))
                index += 1
                lead = (lead + frames)[-n_lead:] if n_lead else []
                messages, frames, after = [], [], {}
                while pending and ready(pending[0], newest):
                    yield resolve(pending.pop(0))
        for chunk in pending:
            yield resolve(chunk)
        if messages or index == 0:
            yield resolve(Chunk(index, messages, frames, after, not keep_data, lead))
    s = sync.stats
    stats.sync_dropped, stats.sync_out_of_order, stats.sync_time_jumps = s.dropped, s.out_of_order, s.time_jumps


_OPEN: dict = {}  # this process's open input bag: {(path, files' identity): (open_reader context, reader)}


def _bag_identity(path: Path) -> tuple:
    """What tells one bag from another at ``path``: its files' names, inodes, sizes and mtimes."""
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file())
    return (str(path.resolve()),) + tuple((f.name, st.st_ino, st.st_size, st.st_mtime_ns)
                                          for f in files for st in (f.stat(),))


def _reader(path: Path):
    """An open reader of the bag at ``path``, kept open between the chunks a worker reads from it
    (opening parses metadata.yaml and the MCAP index: 10-20 ms, half a millisecond a frame for
    a chunk of 64 frames); reopened when the bag's files change, closed at exit."""
    key = _bag_identity(path)
    if key not in _OPEN:
        _close_readers()
        ctx = open_reader(path)
        _OPEN[key] = (ctx, ctx.__enter__())
    return _OPEN[key][1]


def _close_readers() -> None:
    while _OPEN:
        ctx, _ = _OPEN.pop(next(iter(_OPEN)))
        ctx.__exit__(None, None, None)


atexit.register(_close_readers)


def fill_chunk(path: Path, chunk: Chunk, with_messages: bool = True) -> Chunk:
    """``chunk`` (by reference) with its messages' bytes, read from the bag at ``path``.

    Reads only the time window the chunk's messages and frames span (MCAP: the chunks of the
    file that overlap it). A message the window does not give back means the bag changed
    since it was indexed: an OfflineError, never a silently different output.
    with_messages: False reads only the frames' camera messages (no labelled bag is written);
    the chunk's ``messages`` are then empty.
    The bytes are those of the bag's messages, for an MCAP bag as memoryviews of its chunks
    (:mod:`..messages.mcap_raw`; no copy): for this process, not to be pickled.
    """
    if not chunk.by_reference:
        return chunk
    keys = list(chunk.messages) if with_messages else []
    for fj in (*chunk.lead, *chunk.frames):
        keys.extend(ref for _, ref in fj.raw)
    if not keys:
        return dataclasses.replace(chunk, messages=[], frames=list(chunk.frames), by_reference=False)
    lo = min(k[1] for k in keys)
    hi = max(k[1] for k in keys)
    wanted = set(keys)
    conn_ids = {k[0] for k in keys}
    data: dict = {}
    keys_of = _MessageKeys()
    reader = _reader(Path(path))
    conns = [c for c in reader.connections if c.id in conn_ids]
    for conn, log_time, raw in raw_messages(reader, connections=conns, start=lo, stop=hi + 1):
        key = keys_of.key(conn.id, log_time)
        if key in wanted:
            data[key] = raw
    missing = wanted - data.keys()
    if missing:
        raise OfflineError(f'{path}: {len(missing)} messages of chunk {chunk.index} are no longer in the bag '
                           f'(e.g. connection {min(missing)[0]} at {min(missing)[1]} ns); was it changed while '
                           'being labelled? Run again.', kind='unreadable')
    def filled(fj):
        return dataclasses.replace(fj, raw=tuple((m, data[ref]) for m, ref in fj.raw))

    messages = [(cid, t, data[(cid, t, occ)]) for cid, t, occ in chunk.messages] if with_messages else []
    return Chunk(chunk.index, messages, [filled(fj) for fj in chunk.frames], chunk.after, False,
                 [filled(fj) for fj in chunk.lead])


def _qos(conn) -> list:
    return list(getattr(conn.ext, 'offered_qos_profiles', []) or [])


_DEFINITIONS: dict = {}


def _definition(ts, msgtype: str) -> tuple[str, str]:
    """(message definition, RIHS01 hash) of ``msgtype`` in ``ts``, as rosbags' writer derives them from
    a typestore, once per process (deriving them took a few ms per connection and chunk)."""
    key = (id(ts), msgtype)
    if key not in _DEFINITIONS:  # the typestore is kept with its entries: its id is not reused
        _DEFINITIONS[key] = (ts, ts.generate_msgdef(msgtype, ros_version=2)[0], ts.hash_rihs01(msgtype))
    return _DEFINITIONS[key][1:]


def write_chunk_bag(path: Path, connections: list, chunk: Chunk, outputs: dict, config: LabelConfig, ts) -> None:
    """One labelled-bag file: the chunk's messages plus ``outputs`` (frame index -> [(key, cdr)])."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin

    from ..messages.mcap_writer import FastWriter

    writer = FastWriter(path, version=9, storage_plugin=StoragePlugin.MCAP)  # rosbags' bytes, fewer copies
    if config.compress:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    writer.open()
    try:
        conn_map = {}
        for c in connections:
            msgdef = getattr(c.msgdef, 'data', '') or None
            kwargs = {'msgdef': msgdef, 'rihs01': c.digest} if msgdef and c.digest else {'typestore': ts}
            try:
                conn_map[c.id] = writer.add_connection(
                    c.topic, c.msgtype, serialization_format=getattr(c.ext, 'serialization_format', 'cdr'),
                    offered_qos_profiles=_qos(c), **kwargs)
            except Exception as err:  # noqa: BLE001 - a duplicate connection: reuse the first one
                same = [o for o in writer.connections if o.topic == c.topic and o.msgtype == c.msgtype]
                if not same:
                    raise OfflineError(f'cannot copy topic {c.topic} ({c.msgtype}): {err}', kind='write') from err
                conn_map[c.id] = same[0]
        out_conns = {}
        for key in OUTPUT_TOPICS:
            if key == 'markers' and not config.markers:
                continue
            msgdef, rihs01 = _definition(ts, OUTPUT_TYPES[key])
            out_conns[key] = writer.add_connection(OUTPUT_TOPICS[key], OUTPUT_TYPES[key], msgdef=msgdef, rihs01=rihs01)
        inserts: dict[int, list] = {}
        for fj in chunk.frames:
            if fj.index in outputs:
                inserts[chunk.after[fj.index]] = [(fj.log_time_ns, fj.index)]
        for pos, (cid, log_time, raw) in enumerate(chunk.messages):
            writer.write(conn_map[cid], log_time, raw)
            for log_t, fidx in inserts.get(pos, ()):
                for key, data in outputs[fidx]:
                    writer.write(out_conns[key], log_t, data)
    except BaseException:
        writer.close()
        raise
    writer.close()


def merge_metadata(parts: list[dict], relative_paths: list[str]) -> dict:
    """One rosbag2 metadata document for the chunk files, in order."""
    infos = [p['rosbag2_bagfile_information'] for p in parts]
    starts = [i['starting_time']['nanoseconds_since_epoch'] for i in infos if i['message_count']]
    ends = [i['starting_time']['nanoseconds_since_epoch'] + i['duration']['nanoseconds'] for i in infos
            if i['message_count']]
    start = min(starts) if starts else 0
    topics: dict = {}
    for i in infos:
        for t in i['topics_with_message_count']:
            name = t['topic_metadata']['name'], t['topic_metadata']['type']
            if name in topics:
                topics[name]['message_count'] += t['message_count']
            else:
                topics[name] = {'topic_metadata': dict(t['topic_metadata']), 'message_count': t['message_count']}
    files = []
    for i, rel in zip(infos, relative_paths):
        f = dict(i['files'][0])
        f['path'] = rel
        files.append(f)
    first = infos[0]
    return {'rosbag2_bagfile_information': {
        'version': first['version'],
        'storage_identifier': first['storage_identifier'],
        'relative_file_paths': list(relative_paths),
        'duration': {'nanoseconds': (max(ends) - start) if ends else 0},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': sum(i['message_count'] for i in infos),
        'topics_with_message_count': list(topics.values()),
        'compression_format': first['compression_format'],
        'compression_mode': first['compression_mode'],
        'files': files,
        'custom_data': None,
        'ros_distro': 'rosbags',
    }}
