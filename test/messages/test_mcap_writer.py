"""``messages.mcap_writer``: rosbags' rosbag2 Writer with fewer copies and fewer YAML dumps, writing the same bytes
(MCAP file and metadata.yaml) as rosbags' own."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import open_reader, typestore_for  # noqa: E402
from spatialvlm_ros.messages.mcap_raw import raw_messages  # noqa: E402
from support.bags import SMALL, blob_items as _items, write_blob_bag as _write  # noqa: E402


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
