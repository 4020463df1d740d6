"""Raw messages of an indexed MCAP rosbag2, as rosbags yields them, with less work per message.

``rosbags`` reads a chunk by copying every message record twice (into a ``BytesIO`` of the record,
then out of it) and builds a named tuple per message; for 640x480 images that is most of what
reading a zstd bag costs besides decompressing it. :func:`raw_messages` gives the same messages in
the same order (for each file of the bag in turn: the chunks' messages merged by log time, ties by
the chunk's file offset, then by file order within a chunk; the same time window and chunk
selection; the same chunk checksum check), each as a ``memoryview`` into its decompressed chunk:
no copy is made, and none is kept beyond the messages the caller holds on to.

Any other bag (sqlite3, ROS 1, MCAP files without a chunk index, per-message compression) is read
by ``rosbags`` itself, so callers need no second path.
"""

from __future__ import annotations

import heapq
import os
import struct
from typing import Iterator

__all__ = ['raw_messages', 'is_indexed_mcap']

_HIQ = struct.Struct('<HIQ')  # message record: channel id, sequence, log time (then publish time, data)
_U64 = struct.Struct('<Q')
_U32 = struct.Struct('<I')


def _storages(reader) -> list | None:
    """The McapReader storages of a rosbags directory reader whose messages this module can read
    (chunked, indexed, no per-message compression); None for any other reader."""
    try:
        from rosbags.rosbag2 import Reader
        from rosbags.rosbag2.reader import DirectoryReader
        from rosbags.rosbag2.storage_mcap import McapReader
    except ImportError:  # pragma: no cover - rosbags is a dependency of every reader here
        return None
    if not isinstance(reader, Reader) or not isinstance(reader.storage, DirectoryReader):
        return None
    directory = reader.storage
    if directory.metadata.compression_mode == 'message':
        return None
    storages = list(directory.storages)
    if not storages or not all(isinstance(s, McapReader) and s.chunks and s.bio is not None for s in storages):
        return None  # an unindexed MCAP file is scanned by rosbags (with its own order checks)
    return storages


def is_indexed_mcap(reader) -> bool:
    """Whether :func:`raw_messages` reads ``reader``'s messages itself (else rosbags does)."""
    return _storages(reader) is not None


def _connection_map(storage, connections) -> dict:
    """storage channel id -> the directory connection (rosbags' DirectoryReader.messages rule)."""
    out = {}
    for x in storage.connections:
        conn = next((y for y in connections if y.topic == x.topic and y.msgtype == x.msgtype and y.ext == x.ext
                     and (not x.digest or not y.digest or y.digest == x.digest)), None)
        if conn is not None:
            out[x.id] = conn
    return out


def _chunk_messages(fd: int, chunk, channels: dict, lo: int, hi: int) -> Iterator[tuple]:
    """(log time, chunk offset, position, connection, memoryview) of one chunk's wanted messages, in log
    time order (file order among equal times), after a first item at the chunk's start time that
    carries no message: as rosbags' ``msgsrc``, so that a merge of chunks decompresses each one
    only when its messages are next."""
    from rosbags.rosbag2.errors import ReaderError
    from rosbags.rosbag2.storage_mcap import decompress

    yield (chunk.message_start_time, 0, 0, None, None)
    base = chunk.chunk_start_offset
    head = os.pread(fd, 4, base + 9 + 24)
    data_at = base + 9 + 40 + len(chunk.compression)
    compressed = os.pread(fd, chunk.compressed_size, data_at)
    if len(head) != 4 or len(compressed) != chunk.compressed_size:
        raise ReaderError(f'Truncated record at offset {data_at}: expected {chunk.compressed_size} bytes, '
                          f'got {len(compressed)}.')
    raw = decompress(compressed, chunk.compression, chunk.uncompressed_size, _U32.unpack(head)[0])
    del compressed
    view = memoryview(raw)
    n = len(raw)
    found = []
    pos = 0
    while pos < n:
        if pos + 9 > n:
            raise ReaderError(f'Truncated record at offset {pos}: expected 8 bytes, got {n - pos - 1}.')
        op = raw[pos]
        size = _U64.unpack_from(raw, pos + 1)[0]
        body = pos + 9
        end = body + size
        if end > n:
            raise ReaderError(f'Truncated record at offset {body}: expected {size} bytes, got {n - body}.')
        if op == 0x05:
            if size < 22:
                raise ReaderError(f'Invalid message record length {size}.')
            cid, _, log_time = _HIQ.unpack_from(raw, body)
            if lo <= log_time < hi and cid in channels:
                found.append((log_time, base, len(found), channels[cid], view[body + 22:end]))
        pos = end
    found.sort(key=lambda m: m[0])  # stable: file order among equal log times, as rosbags sorts
    yield from found


def raw_messages(reader, connections=(), start: int | None = None, stop: int | None = None) -> Iterator[tuple]:
    """``(connection, log time ns, raw CDR)`` of ``reader`` (an open reader of :func:`.bag.open_reader`),
    exactly as ``reader.messages(connections, start, stop)`` yields them; for an indexed MCAP bag
    the raw data are memoryviews of the decompressed chunks (see module doc), else rosbags' bytes."""
    storages = _storages(reader)
    if storages is None:
        yield from reader.messages(connections=connections, start=start, stop=stop)
        return
    wanted = list(connections) or list(reader.connections)
    for storage in storages:
        by_channel = _connection_map(storage, wanted)
        if not by_channel:
            continue
        fd = storage.bio.fileno()
        sources = [
            _chunk_messages(fd, x, by_channel,
                            x.message_start_time if start is None else start,
                            x.message_end_time + 1 if stop is None else stop)
            for x in storage.chunks
            if (start is None or start < x.message_end_time + 1)
            and (stop is None or x.message_start_time < stop)
            and any(x.channel_count.get(cid, 0) for cid in by_channel)
        ]
        for log_time, offset, _, conn, data in heapq.merge(*sources):
            if offset:
                yield conn, log_time, data
