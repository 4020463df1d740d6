"""Bag reading and labelled-bag writing (``offline.bagio``): frames paired as the live node pairs them, cut into
chunks that together hold every message of the bag, read back by reference to the same bytes, corrupt messages
counted and never paired; outputs inserted after the message that completed their frame."""
from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import pytest  # noqa: E402

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, resolve_task  # noqa: E402
from spatialvlm_ros.offline.bagio import ReadStats, fill_chunk, iter_chunks, merge_metadata, write_chunk_bag  # noqa
from spatialvlm_ros.offline.config import OUTPUT_TOPICS, default_params  # noqa: E402
from spatialvlm_ros.offline.inputs import detect_topics  # noqa: E402
from support.bags import (COLOR, DEPTH, FIRST_STAMP, INFO, PERIOD, bag_messages, copy_with_repeats,  # noqa: E402
                          write_camera_bag)


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_chunks_by_reference_read_back_the_same_messages(task, tmp_path, storage):
    """Pool workers get chunks by reference and read the bytes from the bag: the same chunks, also for
    messages that share a log time (every frame's three here) and a connection (a repeated camera_info)."""
    bag = write_camera_bag(tmp_path / 'src', frames=7, storage=storage, corrupt_depth=(4,))
    dup = copy_with_repeats(bag, tmp_path / 'dup', storage)
    ts = typestore_for()
    config = LabelConfig(task=task, chunk_frames=3)
    topics = detect_topics(dup)
    plain = list(iter_chunks(dup, topics, config, ReadStats(), ts))
    refs = list(iter_chunks(dup, topics, config, ReadStats(), ts, keep_data=False))
    assert [c.by_reference for c in refs] == [True] * len(plain)
    assert any(k[2] > 0 for c in refs for k in c.messages)  # a repeated (connection, log time) is in the bag
    filled = [fill_chunk(dup, c) for c in refs]
    assert [(c.index, c.messages, c.frames, c.after) for c in filled] == \
        [(c.index, [(i, t, bytes(r)) for i, t, r in c.messages], c.frames, c.after) for c in plain]


def test_chunks_hold_every_message_and_pair_each_frame_once(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=7, corrupt_depth=(4,))
    stats, connections = ReadStats(), []
    chunks = list(iter_chunks(bag, detect_topics(bag), LabelConfig(task=task, chunk_frames=3), stats,
                              connections=connections))
    topic_of = {c.id: c.topic for c in connections}
    assert sorted(topic_of.values()) == sorted([COLOR, DEPTH, INFO])
    # 6 frames pair (frame 4's depth is unreadable): two chunks of 3, the last ending at the bag's last message
    assert [len(c.frames) for c in chunks] == [3, 3] and [c.index for c in chunks] == [0, 1]
    assert [f.index for c in chunks for f in c.frames] == list(range(6))
    assert [f.stamp_ns for c in chunks for f in c.frames] == [FIRST_STAMP + i * PERIOD for i in (0, 1, 2, 3, 5, 6)]
    # the chunks concatenate into the whole bag, byte for byte
    assert [(topic_of[i], t, bytes(r)) for c in chunks for i, t, r in c.messages] == bag_messages(bag)
    assert stats.messages == stats.camera_messages == 21 and stats.matched == 6
    assert stats.corrupt == {DEPTH: 1} and DEPTH in stats.corrupt_examples[0]
    for c in chunks:
        for f in c.frames:
            # a frame is the (colour, depth, camera_info) of one stamp, completed by the message its outputs follow
            assert [m for m, _ in f.raw] == ['sensor_msgs/msg/Image', 'sensor_msgs/msg/Image',
                                             'sensor_msgs/msg/CameraInfo']
            done = c.messages[c.after[f.index]]
            assert done[1] == f.log_time_ns == f.stamp_ns and bytes(done[2]) in [r for _, r in f.raw]


def test_max_rate_hz_drops_frames_on_header_stamps(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=7)
    stats = ReadStats()
    config = LabelConfig(task=task, params={**default_params(), 'max_rate_hz': 20.0})  # every 50 ms, frames 33 ms apart
    chunks = list(iter_chunks(bag, detect_topics(bag), config, stats))
    assert [f.stamp_ns for c in chunks for f in c.frames] == [FIRST_STAMP + i * PERIOD for i in (0, 2, 4, 6)]
    assert stats.matched == 7 and stats.rate_limited == 3


def test_a_bag_changed_under_a_chunk_by_reference_is_an_error(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=3, storage='mcap')
    refs = list(iter_chunks(bag, detect_topics(bag), LabelConfig(task=task), ReadStats(), keep_data=False))
    other = write_camera_bag(tmp_path / 'shorter', frames=2, storage='mcap')
    with pytest.raises(OfflineError, match=r'messages of chunk 0 are no longer in the bag') as err:
        fill_chunk(other, refs[0])
    assert err.value.kind == 'unreadable'
    # without messages (no labelled bag) only the frames' camera messages are read
    only_frames = fill_chunk(bag, refs[0], with_messages=False)
    assert only_frames.messages == [] and len(only_frames.frames) == 3 and not only_frames.by_reference
    plain = list(iter_chunks(bag, detect_topics(bag), LabelConfig(task=task), ReadStats()))
    assert only_frames.frames == plain[0].frames
    assert fill_chunk(other, plain[0]) is plain[0]  # a chunk with its bytes needs no reading


def test_outputs_follow_the_message_that_completed_their_frame(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=3)
    ts = typestore_for()
    connections = []
    config = LabelConfig(task=task, markers=False)
    chunk, = iter_chunks(bag, detect_topics(bag), config, ReadStats(), ts, connections=connections)
    s = ts.types['std_msgs/msg/String']
    f32 = ts.types['std_msgs/msg/Float32']
    outputs = {1: [('objects', bytes(ts.serialize_cdr(s(data='o1'), 'std_msgs/msg/String'))),
                   ('reward', bytes(ts.serialize_cdr(f32(data=0.5), 'std_msgs/msg/Float32')))]}
    write_chunk_bag(tmp_path / 'out', connections, chunk, outputs, config, ts)
    from rosbags.rosbag2 import Reader

    with Reader(tmp_path / 'out') as r:
        assert {c.topic for c in r.connections} == {COLOR, DEPTH, INFO} | {
            t for k, t in OUTPUT_TOPICS.items() if k != 'markers'}
        got = [(c.topic, t, bytes(raw)) for c, t, raw in r.messages()]
    original = bag_messages(bag)
    pos = chunk.after[1] + 1
    assert got[:pos] == original[:pos] and got[pos + 2:] == original[pos:]
    assert [g[:2] for g in got[pos:pos + 2]] == [(OUTPUT_TOPICS['objects'], chunk.frames[1].log_time_ns),
                                                 (OUTPUT_TOPICS['reward'], chunk.frames[1].log_time_ns)]
    assert ts.deserialize_cdr(got[pos][2], 'std_msgs/msg/String').data == 'o1'


def test_merged_metadata_joins_the_chunk_files_in_order():
    def part(start, duration, count, topics, path):
        return {'rosbag2_bagfile_information': {
            'version': 9, 'storage_identifier': 'mcap', 'duration': {'nanoseconds': duration},
            'starting_time': {'nanoseconds_since_epoch': start}, 'message_count': count,
            'topics_with_message_count': [{'topic_metadata': {'name': n, 'type': t}, 'message_count': c}
                                          for n, t, c in topics],
            'compression_format': '', 'compression_mode': '',
            'files': [{'path': path, 'message_count': count}]}}

    a = part(100, 50, 3, [('/a', 'A', 2), ('/b', 'B', 1)], 'x.mcap')
    empty = part(0, 0, 0, [], 'y.mcap')
    b = part(160, 40, 2, [('/a', 'A', 2)], 'z.mcap')
    doc = merge_metadata([a, empty, b], ['labelled_000000.mcap', 'labelled_000001.mcap', 'labelled_000002.mcap'])
    info = doc['rosbag2_bagfile_information']
    assert info['starting_time'] == {'nanoseconds_since_epoch': 100} and info['duration'] == {'nanoseconds': 100}
    assert info['message_count'] == 5
    assert {(t['topic_metadata']['name'], t['message_count']) for t in info['topics_with_message_count']} == \
        {('/a', 4), ('/b', 1)}
    assert [f['path'] for f in info['files']] == info['relative_file_paths'] == \
        ['labelled_000000.mcap', 'labelled_000001.mcap', 'labelled_000002.mcap']
    assert [f['message_count'] for f in info['files']] == [3, 0, 2]


def test_messages_after_the_last_frame_make_a_last_chunk_without_frames(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=4, corrupt_depth=(3,))  # the last frame never pairs
    chunks = list(iter_chunks(bag, detect_topics(bag), LabelConfig(task=task, chunk_frames=3), ReadStats()))
    assert [len(c.frames) for c in chunks] == [3, 0]
    assert [t for _, t, _ in chunks[1].messages] == [FIRST_STAMP + 3 * PERIOD] * 3
