"""Labelling one chunk of frames (``offline.labeller.label_chunk``): one row per frame with what the labeller
found against the known scene, a frame whose inputs are unusable a row with its error (never a made-up reward),
and the output messages the live nodes publish."""
from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, resolve_task  # noqa: E402
from spatialvlm_ros.offline.bagio import ReadStats, iter_chunks  # noqa: E402
from spatialvlm_ros.offline.inputs import detect_topics  # noqa: E402
from spatialvlm_ros.offline.labeller import OUTPUT_TYPES, ChunkJob, label_chunk  # noqa: E402
from spatialvlm_ros.offline.labellers import LABELLERS, GeometricLabeller, register_labeller  # noqa: E402
from support.bags import FIRST_STAMP, PERIOD, image_msg, write_camera_bag  # noqa: E402


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def _job(bag, config):
    chunk, = iter_chunks(bag, detect_topics(bag), config, ReadStats())
    return ChunkJob(bag.name, chunk.index, tuple(chunk.frames), config)


def test_rows_say_what_was_found_and_which_frames_failed(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=4, truncate_color=(2,))
    config = LabelConfig(task=task, chunk_frames=8)
    result = label_chunk(_job(bag, config))
    assert [r['frame'] for r in result.rows] == [0, 1, 2, 3]
    assert [r['stamp_ns'] for r in result.rows] == [FIRST_STAMP + i * PERIOD for i in range(4)]
    good = [r for r in result.rows if r['frame'] != 2]
    bad, = [r for r in result.rows if r['frame'] == 2]
    assert bad['error_kind'] == 'truncated' and 'truncated' in bad['error']
    assert bad['reward'] is None and bad['valid'] is False and bad['objects'] == []
    for r in good:
        assert r['error_kind'] is None and r['bag'] == 'b' and r['frame_id'] == 'cam'
        # only the red square (the block) is in view: 10x10 px at 1 m, f = 60 px, principal point (31.5, 23.5)
        assert r['missing'] == ['gripper', 'target'] and r['valid'] is False and r['reward'] is None
        block, = r['objects']
        assert block['name'] == 'block'
        np.testing.assert_allclose(block['center_m'][:2], [(24.5 - 31.5) / 60, (24.5 - 23.5) / 60], atol=0.01)
        assert 0.99 < block['center_m'][2] < 1.1
        np.testing.assert_allclose(block['extent_camera_m'][:2], [9 / 60, 9 / 60], atol=0.02)
    # the labelled bag's messages: every output but the reward (there is none), as their message types
    ts = typestore_for()
    assert sorted(result.messages) == [0, 1, 3]
    for index, msgs in result.messages.items():
        assert [k for k, _ in msgs] == ['objects', 'facts', 'markers', 'detail']
        for key, raw in msgs:
            ts.deserialize_cdr(raw, OUTPUT_TYPES[key])
    assert result.decode_s > 0 and result.compute_s > 0


def test_without_bag_or_markers_fewer_messages_and_the_same_rows(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'b', frames=2)
    full = label_chunk(_job(bag, LabelConfig(task=task)))
    no_markers = label_chunk(_job(bag, LabelConfig(task=task, markers=False)))
    no_bag = label_chunk(_job(bag, LabelConfig(task=task, bag=False)))
    assert full.rows == no_markers.rows == no_bag.rows
    assert no_bag.messages == {}
    assert {i: [k for k, _ in m] for i, m in no_markers.messages.items()} == \
        {i: ['objects', 'facts', 'detail'] for i in (0, 1)}


def test_implausible_depth_is_the_frames_error(task, tmp_path):
    """Depth in millimetres as 32FC1 (1000.0 'metres'): rejected before the range crop hides it."""
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    src = write_camera_bag(tmp_path / 'b', frames=2)
    ts = typestore_for()
    with Reader(src) as r, Writer(tmp_path / 'mm', version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {c.id: w.add_connection(c.topic, c.msgtype, typestore=ts) for c in r.connections}
        for c, t, raw in r.messages():
            if c.topic.startswith('/camera/depth'):
                raw = ts.serialize_cdr(image_msg(ts, np.full((48, 64), 1000.0, np.float32), '32FC1', t), c.msgtype)
            w.write(conns[c.id], t, raw)
    result = label_chunk(_job(tmp_path / 'mm', LabelConfig(task=task)))
    assert [r['error_kind'] for r in result.rows] == ['implausible_depth'] * 2
    assert all('implausible' in r['error'] and r['reward'] is None for r in result.rows)
    assert result.messages == {}


@pytest.fixture
def failing_labeller():
    @register_labeller('failing')
    class Failing(GeometricLabeller):
        def __call__(self, frame, known=None, transform=None, label_image=None):
            if frame.stamp_ns == FIRST_STAMP:
                raise ValueError('a bug in the labeller')
            return super().__call__(frame, known, transform, label_image)

    yield Failing
    LABELLERS.pop('failing', None)


def test_a_labeller_that_raises_fails_only_its_frame(task, tmp_path, failing_labeller):
    bag = write_camera_bag(tmp_path / 'b', frames=2)
    result = label_chunk(_job(bag, LabelConfig(task=task, labeller='failing')))
    first, second = result.rows
    assert first['error_kind'] == 'internal' and first['error'] == 'ValueError: a bug in the labeller'
    assert second['error_kind'] is None and [o['name'] for o in second['objects']] == ['block']
    assert sorted(result.messages) == [1]
