"""A rosbags rosbag2 ``Writer`` whose MCAP files are byte for byte those of rosbags' own, written
with fewer copies.

rosbags' MCAP storage copies every message three times before the file gets it (into a record
``BytesIO``, into the chunk's ``BytesIO``, out of it with ``getvalue()``, and a fourth time into the
chunk record); for a labelled bag that copies every camera image again, which was most of the cost
of writing one. :class:`FastMcapWriter` overrides only the two methods that copy (``write`` and
``close_chunk``): the same records, message indexes and chunk indexes, at the same offsets, each
payload copied once into the chunk and the chunk written from its buffer. Everything else
(schemas, channels, summary, footer, metadata.yaml) is rosbags' code.

:class:`FastWriter` also remembers the YAML of each connection's QoS profiles (rosbags dumps it
with ruamel for every connection, ~1 ms each: a labelled bag writes one file per chunk, each with
all the input and output connections).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from io import BytesIO

from io import StringIO

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.errors import WriterError
from rosbags.rosbag2.metadata import dump_qos_v8, dump_qos_v9
from rosbags.rosbag2.storage_mcap import McapWriter, PendingChunk

__all__ = ['FastMcapWriter', 'FastWriter']

# op 0x05, record length, then the message header: channel id, sequence (0), log time, publish time
_MESSAGE = struct.Struct('<BQHIQQ')
_CHUNK_HEAD = struct.Struct('<BQQQQI')  # op 0x06, record length, start, end, uncompressed size, crc (0)
_U32 = struct.Struct('<I')
_U64 = struct.Struct('<Q')
_INDEX_HEAD = struct.Struct('<BQHI')  # op 0x07, record length, channel id, byte length of the entries
_CHUNK_LIMIT = 2**20  # rosbags closes a chunk once it holds more than this


class FastMcapWriter(McapWriter):
    """rosbags' McapWriter with copy-free ``write`` and ``close_chunk`` (same bytes; module doc)."""

    def write(self, connection, timestamp: int, data) -> None:
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        self.message_start_time = min(timestamp, self.message_start_time)
        self.message_end_time = max(timestamp, self.message_end_time)
        self.channel_stats[connection.id] += 1
        chunk = self.chunk
        chunk.message_start_time = min(timestamp, chunk.message_start_time)
        chunk.message_end_time = max(timestamp, chunk.message_end_time)
        bio = chunk.bio
        chunk.msgs[connection.id].append((timestamp, bio.tell()))
        bio.write(_MESSAGE.pack(0x05, 22 + size, connection.id, 0, timestamp, timestamp))
        bio.write(data)
        if bio.tell() > _CHUNK_LIMIT:
            self.close_chunk()

    def close_chunk(self) -> None:
        chunk = self.chunk
        usize = chunk.bio.tell()
        body = chunk.bio.getbuffer()
        compressed = None
        try:
            compressed = body if self.compression == '' else self.compressor(body)
            name = self.compression.encode()
            csize = len(compressed)
            head = _U32.pack(len(name)) + name + _U64.pack(csize)
            chunk_start = self.bio.tell()
            self.bio.write(_CHUNK_HEAD.pack(0x06, 28 + len(head) + csize, chunk.message_start_time,
                                            chunk.message_end_time, usize, 0) + head)
            self.bio.write(compressed)
        finally:
            del compressed
            body.release()
        chunk_end = self.bio.tell()

        offsets: list[tuple[int, int]] = []
        for cid, msgs in chunk.msgs.items():
            offsets.append((cid, self.bio.tell()))
            flat = [v for entry in msgs for v in entry]
            self.bio.write(_INDEX_HEAD.pack(0x07, 6 + 16 * len(msgs), cid, 16 * len(msgs))
                           + struct.pack(f'<{len(flat)}Q', *flat))

        rec = BytesIO()
        rec.write(struct.pack('<QQQQI', chunk.message_start_time, chunk.message_end_time, chunk_start,
                              chunk_end - chunk_start, len(offsets) * 10))
        for cid, offset in offsets:
            rec.write(struct.pack('<HQ', cid, offset))
        rec.write(_U64.pack(self.bio.tell() - chunk_end))
        rec.write(_U32.pack(len(name)) + name)
        rec.write(struct.pack('<QQ', csize, usize))
        self.chunks.append(rec)

        self.chunk = PendingChunk(2**63 - 1, 0, BytesIO(), defaultdict(list))


_QOS_YAML: dict[str, str] = {}  # repr of dumped QoS profiles -> their YAML as rosbags writes it


def _qos_yaml(dumped) -> str:
    key = repr(dumped)
    if key not in _QOS_YAML:
        from ruamel.yaml import YAML

        stream = StringIO()
        yaml = YAML(typ='safe')
        yaml.default_flow_style = False
        yaml.dump(dumped, stream)
        _QOS_YAML[key] = stream.getvalue().strip()
    return _QOS_YAML[key]


class FastWriter(Writer):
    """rosbags' rosbag2 Writer with :class:`FastMcapWriter` as its MCAP storage and the QoS YAML of
    its connections remembered (module doc)."""

    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: FastMcapWriter}

    def add_connection(self, topic: str, msgtype: str, *, typestore=None, msgdef: str | None = None,
                       rihs01: str | None = None, serialization_format: str = 'cdr',
                       offered_qos_profiles=()) -> Connection:
        """rosbags 0.11's ``Writer.add_connection``, line for line, but for the QoS YAML (:func:`_qos_yaml`)."""
        if not self.storage:
            raise WriterError('Bag was not opened.')
        if msgdef is None or rihs01 is None:
            if not typestore:
                raise WriterError('Cannot determine message definition. '
                                  'Use either the typestore or msgdef+rihs01 arguments.')
            msgdef, _ = typestore.generate_msgdef(msgtype, ros_version=2)
            rihs01 = typestore.hash_rihs01(msgtype)
        assert msgdef is not None
        assert rihs01
        fmt = 'ros2idl' if msgdef.startswith('=' * 80 + '\nIDL: ') else 'ros2msg'
        fmtmap = {'ros2msg': MessageDefinitionFormat.MSG, 'ros2idl': MessageDefinitionFormat.IDL}
        connection = Connection(
            id=len(self.connections) + 1,
            topic=topic,
            msgtype=msgtype,
            msgdef=MessageDefinition(fmtmap[fmt], msgdef),
            digest=rihs01,
            msgcount=0,
            ext=ConnectionExtRosbag2(serialization_format=serialization_format,
                                     offered_qos_profiles=list(offered_qos_profiles)),
            owner=self,
        )
        for conn in self.connections:
            if conn.topic == connection.topic and conn.msgtype == connection.msgtype and conn.ext == connection.ext:
                raise WriterError(f'Connection can only be added once: {connection!r}.')
        dump_qos = dump_qos_v9 if self.version >= 9 else dump_qos_v8
        dumped = dump_qos(list(offered_qos_profiles))
        if not isinstance(dumped, str):
            dumped = _qos_yaml(dumped)
        if msgtype not in self.added_types:
            self.storage.add_msgtype(connection)
            self.added_types.add(msgtype)
        self.storage.add_connection(connection, dumped)
        self.connections.append(connection)
        self.counts[connection.id] = 0
        return connection
