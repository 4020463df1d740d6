"""``messages.mcap_raw``: an indexed MCAP bag's raw messages, exactly as rosbags reads them (order, time
windows, connection subsets, several files, zstd, checksums), without rosbags' copies; other bags through
rosbags itself."""
from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import open_reader, typestore_for  # noqa: E402
from spatialvlm_ros.messages.mcap_raw import is_indexed_mcap, raw_messages  # noqa: E402

BLOB = 'sensor_msgs/msg/Image'  # big payloads: several MCAP chunks (rosbags closes one past 1 MiB)
SMALL = 'std_msgs/msg/String'


def _write(path, compress: bool, items, storage='mcap'):
    """A bag of ``items`` [(topic, log time, payload size), ...] written in the order given (log times
    out of order and repeated across chunks on purpose)."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    ts = typestore_for()
    t = ts.types
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    w = Writer(path, version=9, storage_plugin=plugin)
    if compress:
        w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    w.open()
    conns = {}
    for k, (topic, stamp, size) in enumerate(items):
        if topic not in conns:
            conns[topic] = w.add_connection(topic, BLOB if topic.startswith('/img') else SMALL, typestore=ts)
        if topic.startswith('/img'):
            header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=0, nanosec=k), frame_id='c')
            msg = t[BLOB](header=header, height=1, width=size, encoding='mono8', is_bigendian=0, step=size,
                          data=np.full(size, k % 251, np.uint8))
            raw = ts.serialize_cdr(msg, BLOB)
        else:
            raw = ts.serialize_cdr(t[SMALL](data=f'message {k}'), SMALL)
        w.write(conns[topic], stamp, raw)
    w.close()
    return path


def _items(seed: int) -> list:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(60):
        stamp = 1000 + i * 10 + int(rng.integers(-25, 25))  # out of order within and across chunks
        items.append(('/img_a', stamp, int(rng.integers(50_000, 300_000))))
        items.append(('/text', stamp, 0))  # the same log time on another connection
        if i % 7 == 0:
            items.append(('/img_b', stamp, 1000))
            items.append(('/img_b', stamp, 2000))  # the same log time twice on one connection
    return items


def _rosbags(reader, conns=(), start=None, stop=None):
    return [(c.id, t, bytes(raw)) for c, t, raw in reader.messages(connections=conns, start=start, stop=stop)]


def _ours(reader, conns=(), start=None, stop=None):
    out = []
    for c, t, raw in raw_messages(reader, connections=conns, start=start, stop=stop):
        assert isinstance(raw, memoryview)
        out.append((c.id, t, bytes(raw)))
    return out


@pytest.mark.parametrize('compress', [False, True])
def test_the_same_messages_in_the_same_order_as_rosbags(tmp_path, compress):
    bag = _write(tmp_path / 'b', compress, _items(0))
    with open_reader(bag) as reader:
        assert is_indexed_mcap(reader)
        assert len(reader.storage.storages[0].chunks) > 3
        everything = _rosbags(reader)
        assert len(everything) == len(_items(0)) and _ours(reader) == everything
        by_topic = {c.topic: c for c in reader.connections}
        for conns in ([by_topic['/img_a']], [by_topic['/text'], by_topic['/img_b']], list(reader.connections)):
            for start, stop in ((None, None), (1100, 1300), (None, 1205), (1300, None), (1205, 1206), (0, 10)):
                assert _ours(reader, conns, start, stop) == _rosbags(reader, conns, start, stop)


def test_a_bag_of_several_files_is_read_file_after_file(tmp_path):
    """As a labelled bag (one file per chunk): each file's messages in turn, as rosbags reads them."""
    import yaml

    from spatialvlm_ros.offline.bagio import merge_metadata

    parts = [_write(tmp_path / f'p{i}', i == 1, _items(i)[: 40 + 10 * i]) for i in range(2)]
    bag = tmp_path / 'joined'
    bag.mkdir()
    metas, rels = [], []
    for i, p in enumerate(parts):
        rel = f'part_{i}.mcap'
        (p / f'p{i}.mcap').rename(bag / rel)
        metas.append(yaml.safe_load((p / 'metadata.yaml').read_text()))
        rels.append(rel)
    (bag / 'metadata.yaml').write_text(yaml.safe_dump(merge_metadata(metas, rels), sort_keys=False))
    with open_reader(bag) as reader:
        assert is_indexed_mcap(reader) and len(reader.storage.storages) == 2
        assert _ours(reader) == _rosbags(reader)
        text = [c for c in reader.connections if c.topic == '/text']
        assert _ours(reader, text, 1100, 1400) == _rosbags(reader, text, 1100, 1400)


def test_a_chunk_checksum_mismatch_is_an_error_as_in_rosbags(tmp_path):
    from rosbags.rosbag2.errors import ReaderError

    bag = _write(tmp_path / 'b', True, _items(3))
    with open_reader(bag) as reader:
        chunk = reader.storage.storages[0].chunks[1]
    mcap = bag / 'b.mcap'
    data = bytearray(mcap.read_bytes())
    struct.pack_into('<I', data, chunk.chunk_start_offset + 9 + 24, 12345)  # a checksum the data do not have
    mcap.write_bytes(bytes(data))
    with open_reader(bag) as reader:
        with pytest.raises(ReaderError, match='checksum'):
            _rosbags(reader)
        with pytest.raises(ReaderError, match='checksum'):
            _ours(reader)


def test_other_bags_are_read_by_rosbags(tmp_path):
    bag = _write(tmp_path / 'b', False, _items(1)[:30], storage='sqlite3')
    with open_reader(bag) as reader:
        assert not is_indexed_mcap(reader)
        assert [(c.id, t, bytes(r)) for c, t, r in raw_messages(reader)] == _rosbags(reader)


@pytest.mark.parametrize('compress', [False, True])
def test_the_fast_writer_writes_rosbags_bytes(tmp_path, compress):
    """messages.mcap_writer.FastWriter: the same MCAP file and metadata.yaml as rosbags' Writer, for bytes and
    memoryview payloads, several chunks, repeated and out-of-order log times, connections with QoS profiles, with
    a definition or a typestore, and the same refusal of a connection added twice."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.rosbag2.errors import WriterError
    from rosbags.rosbag2.storage_mcap import McapWriter

    from spatialvlm_ros.messages.mcap_writer import FastMcapWriter, FastWriter

    src = _write(tmp_path / 'src', False, _items(5))
    QOS = [Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE, QosTime(0, 0),
               QosTime(2**31 - 1, 0), QosLiveliness.AUTOMATIC, QosTime(1, 500), False),
           Qos(QosHistory.KEEP_ALL, 1, QosReliability.BEST_EFFORT, QosDurability.TRANSIENT_LOCAL, QosTime(3, 4),
               QosTime(0, 0), QosLiveliness.SYSTEM_DEFAULT, QosTime(0, 0), True)]
    ts = typestore_for()
    outs = []
    for cls in (Writer, FastWriter):
        w = cls(tmp_path / cls.__name__ / 'x', version=9, storage_plugin=StoragePlugin.MCAP)
        if compress:
            w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        w.open()
        assert type(w.storage) is (FastMcapWriter if cls is FastWriter else McapWriter)
        with open_reader(src) as reader:
            conns = {c.id: w.add_connection(c.topic, c.msgtype, msgdef=c.msgdef.data, rihs01=c.digest,
                                            offered_qos_profiles=c.ext.offered_qos_profiles)
                     for c in reader.connections}
            extra = w.add_connection('/extra', SMALL, typestore=ts, offered_qos_profiles=QOS)
            w.add_connection('/extra2', SMALL, typestore=ts, offered_qos_profiles=QOS[:1])
            with pytest.raises(WriterError, match='only be added once'):
                w.add_connection('/extra', SMALL, typestore=ts, offered_qos_profiles=QOS)
            for k, (c, t, raw) in enumerate(raw_messages(reader)):
                w.write(conns[c.id], t, raw if k % 2 else bytes(raw))
                if k % 5 == 0:
                    w.write(extra, t - 3, ts.serialize_cdr(ts.types[SMALL](data='x' * k), SMALL))
        w.close()
        outs.append(((tmp_path / cls.__name__ / 'x' / 'x.mcap').read_bytes(),
                     (tmp_path / cls.__name__ / 'x' / 'metadata.yaml').read_text()))
    assert outs[0] == outs[1]
    with open_reader(tmp_path / 'FastWriter' / 'x') as reader:
        assert len(reader.storage.storages[0].chunks) > 3


def test_metadata_yaml_from_a_template_is_ruamels_dump():
    """The writer's metadata YAML, filled into a template per shape of the document, is ruamel's own dump: for
    integers of any size, words that ruamel writes plain, and everything a template must leave to ruamel (keywords,
    numbers in strings, short, empty, quoted, non-ASCII and long strings past the line width)."""
    from spatialvlm_ros.messages.mcap_writer import _TEMPLATES, _metadata_yaml, _ruamel

    rng = np.random.default_rng(0)
    words = ['labelled_000012.mcap', '/camera/color/image_raw', 'sensor_msgs/msg/Image', 'RIHS01_' + 'ab12' * 16,
             'True', 'null', 'yes_and_no', '12345678.mcap', '-dash_first', '.dot_first', 'with space inside',
             'colon: inside', 'ünïcode_name_long', '', 'cdr', 'x' * 90, 'keep_last', 'a/b' * 30]

    def doc(seed):
        r = np.random.default_rng(seed)
        return {'rosbag2_bagfile_information': {
            'version': 9, 'relative_file_paths': [words[seed % 4]],
            'duration': {'nanoseconds': int(r.integers(0, 2**62))},
            'message_count': int(r.integers(0, 10**6)),
            'topics_with_message_count': [
                {'topic_metadata': {'name': str(r.choice(words)), 'type': str(r.choice(words)),
                                    'offered_qos_profiles': [], 'type_description_hash': str(r.choice(words))},
                 'message_count': int(r.integers(-5, 10**9))} for _ in range(int(r.integers(1, 6)))],
            'custom_data': None, 'flag': bool(r.integers(0, 2)), 'ratio': float(r.random()),
            'ros_distro': 'rosbags'}}

    for seed in range(60):
        d = doc(int(rng.integers(0, 8)))  # repeated shapes: the template path
        assert _metadata_yaml(d) == _ruamel(d)
        d['rosbag2_bagfile_information']['message_count'] = int(rng.integers(0, 10**12))
        assert _metadata_yaml(d) == _ruamel(d)
    assert any(t is not None for t in _TEMPLATES.values())  # documents were filled in, not dumped


def test_metadata_yaml_leaves_what_ruamel_may_quote_to_ruamel():
    """A string in the place of a word the template stands in for, of the same length, that ruamel would quote,
    escape or break: the document is dumped by ruamel, never filled into the word's template."""
    from spatialvlm_ros.messages.mcap_writer import _metadata_yaml, _ruamel

    base = 'labelled_000012.mcap'
    for other in ('labelled 000012.mcap', 'labelled:000012.mcap', '12345678901234567890', 'ünïcode_000012.mcap',
                  '-abelled_000012.mcap', 'labelled_000012.mca\n', "labelled'000012.mcap", 'labelled#000012.mcap'):
        assert len(other) == len(base) or other.startswith('ü')
        for value in (base, other, base):
            d = {'info': {'relative_file_paths': [value], 'path': value, 'count': 3}}
            assert _metadata_yaml(d) == _ruamel(d), value
