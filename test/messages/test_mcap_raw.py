"""``messages.mcap_raw``: an indexed MCAP bag's raw messages, exactly as rosbags reads them (order, time
windows, connection subsets, several files, zstd, checksums), without rosbags' copies; other bags through
rosbags itself."""
from __future__ import annotations

import struct

import pytest

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import open_reader  # noqa: E402
from spatialvlm_ros.messages.mcap_raw import is_indexed_mcap, raw_messages  # noqa: E402
from support.bags import blob_items as _items, write_blob_bag as _write  # noqa: E402


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
