"""A rosbags rosbag2 ``Writer`` whose MCAP files are byte for byte those of rosbags' own, written
with fewer copies.

rosbags' MCAP storage copies every message three times before the file gets it (into a record
``BytesIO``, into the chunk's ``BytesIO``, out of it with ``getvalue()``, and a fourth time into the
chunk record); for a labelled bag that copies every camera image again, which was most of the cost
of writing one. :class:`FastMcapWriter` overrides only the two methods that copy (``write`` and
``close_chunk``): the same records, message indexes and chunk indexes, at the same offsets, each
payload copied once into the chunk and the chunk written from its buffer. Everything else
(schemas, channels, summary, footer, metadata.yaml) is rosbags' code.

:class:`FastWriter` also spares most of rosbags' YAML dumps (ruamel, pure Python): a labelled bag
writes one file per chunk, and each file's close dumped its metadata twice (~4 ms each) and every
connection's QoS profiles once. The QoS YAML is remembered; the metadata's is filled into a
template per shape of the document (:func:`_metadata_yaml`), checked against ruamel's own dump
the first time.
"""

from __future__ import annotations

import re
import shutil
import struct
from collections import defaultdict
from io import BytesIO

from io import StringIO

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.rosbag2 import CompressionMode, StoragePlugin, Writer
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


def _ruamel(doc) -> str:
    """``doc`` dumped as rosbags' writer dumps it."""
    from ruamel.yaml import YAML

    stream = StringIO()
    yaml = YAML(typ='safe')
    yaml.default_flow_style = False
    yaml.dump(doc, stream)
    return stream.getvalue()


_QOS_YAML: dict[str, str] = {}  # repr of dumped QoS profiles -> their YAML as rosbags writes it


def _qos_yaml(dumped) -> str:
    key = repr(dumped)
    if key not in _QOS_YAML:
        _QOS_YAML[key] = _ruamel(dumped).strip()
    return _QOS_YAML[key]


# Scalars a template may stand in for: integers (decimal whatever their value, never near the line
# width here), and strings that ruamel writes plain (a word of letters, digits, _ . / -, not starting
# with a digit, . or -, and not a YAML keyword), replaced by a placeholder of the same length, so that
# ruamel breaks the lines of the template exactly where it would break the document's.
_PLAIN = re.compile(r'[A-Za-z_/][A-Za-z0-9_./-]{7,}\Z')
_KEYWORDS = {'true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n'}
_INT_MARK = 7_306_194_553_000_000_000  # + index: 19 digits found nowhere else in a document
_TEMPLATES: dict[str, tuple | None] = {}  # shape -> (parts, value index of each gap), or None: use ruamel


def _metadata_yaml(doc) -> str:
    """ruamel's dump of ``doc`` (as :func:`_ruamel`), from a template of its shape: the document with its
    integers and long plain words replaced by placeholders, dumped once, checked against ruamel's dump
    of the document itself, then filled in (~20 us instead of ~4 ms)."""
    values: list[str] = []

    def mark(x):
        if isinstance(x, bool) or x is None:
            return x
        if isinstance(x, int):
            values.append(str(x))
            return _INT_MARK + len(values) - 1
        if isinstance(x, str) and _PLAIN.match(x) and x.lower() not in _KEYWORDS:
            values.append(x)
            tag = f'q{len(values) - 1}q'
            return tag + 'z' * (len(x) - len(tag))
        if isinstance(x, dict):
            return {k: mark(v) for k, v in x.items()}
        if isinstance(x, list):
            return [mark(v) for v in x]
        return x

    shaped = mark(doc)
    key = repr(shaped)
    if key not in _TEMPLATES:
        text = _ruamel(shaped)
        marks = re.compile('|'.join([rf'\b{_INT_MARK // 10**6}\d{{6}}\b', r'\bq\d+qz*\b']))
        parts, order, at = [], [], 0
        for m in marks.finditer(text):
            token = m.group(0)
            index = int(token) - _INT_MARK if token[0] != 'q' else int(token[1:token.index('q', 1)])
            parts.append(text[at:m.start()])
            order.append(index)
            at = m.end()
        parts.append(text[at:])
        template = (parts, order) if sorted(order) == list(range(len(values))) else None
        if template is not None and _fill(template, values) != _ruamel(doc):
            template = None
        if len(_TEMPLATES) >= 256:  # a process writing bags of ever new shapes: keep the newest
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    template = _TEMPLATES[key]
    return _ruamel(doc) if template is None else _fill(template, values)


def _fill(template: tuple, values: list[str]) -> str:
    parts, order = template
    out = [parts[0]]
    for i, part in zip(order, parts[1:]):
        out.append(values[i])
        out.append(part)
    return ''.join(out)


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

    def close(self) -> None:
        """rosbags 0.11's ``Writer.close``, line for line, but for the metadata YAML (:func:`_metadata_yaml`)."""
        from rosbags.rosbag2.writer import zstd

        assert self.storage
        compression_mode = ('' if self.compression_mode in {CompressionMode.NONE, CompressionMode.STORAGE}
                            else self.compression_mode.name.lower())
        compression_format = ('' if self.compression_mode in {CompressionMode.NONE, CompressionMode.STORAGE}
                              else self.compression_format)
        path = self.storage.path
        dst = (path.with_suffix(f'{path.suffix}.{compression_format}') if self.compression_mode == CompressionMode.FILE
               else path)
        duration = max(0, self.max_timestamp - self.min_timestamp)
        start = self.min_timestamp
        count = sum(self.counts.values())
        dump_qos = dump_qos_v9 if self.version >= 9 else dump_qos_v8
        metadata = {
            'rosbag2_bagfile_information': {
                'version': self.version,
                'storage_identifier': self.storage_plugin.name.lower(),
                'relative_file_paths': [dst.name],
                'duration': {'nanoseconds': duration},
                'starting_time': {'nanoseconds_since_epoch': start},
                'message_count': count,
                'topics_with_message_count': [
                    {
                        'topic_metadata': {
                            'name': x.topic,
                            'type': x.msgtype,
                            'serialization_format': x.ext.serialization_format,
                            'offered_qos_profiles': dump_qos(x.ext.offered_qos_profiles),
                            'type_description_hash': x.digest,
                        },
                        'message_count': self.counts[x.id],
                    }
                    for x in self.connections
                    if isinstance(x.ext, ConnectionExtRosbag2)
                ],
                'compression_format': compression_format,
                'compression_mode': compression_mode,
                'files': [
                    {
                        'path': dst.name,
                        'starting_time': {'nanoseconds_since_epoch': start},
                        'duration': {'nanoseconds': duration},
                        'message_count': count,
                    },
                ],
                'custom_data': self.custom_data or None,
                'ros_distro': 'rosbags',
            },
        }
        metadata_text = _metadata_yaml(metadata)
        self.storage.close(self.version, _metadata_yaml(metadata['rosbag2_bagfile_information']).strip())
        self.storage = None
        if self.compression_mode == CompressionMode.FILE:
            tmp = dst.with_suffix(f'{dst.suffix}.tmp')
            with path.open('rb') as infile, zstd.open(tmp, 'wb') as outfile:
                shutil.copyfileobj(infile, outfile)
            _ = tmp.replace(dst)
            path.unlink()
        tmp = self.metapath.with_suffix('.yaml.tmp')
        _ = tmp.write_text(metadata_text, 'utf8')
        _ = tmp.replace(self.metapath)
