"""`spatialvlm label` on bags whose camera streams are image_transport's compressed topics:
``<base>/compressed`` colour and ``<base>/compressedDepth`` depth found automatically, raw preferred
when both are there, explicit topics accepted, lossless transports labelled exactly as raw, and a
corrupt compressed frame reported as a 'decode' row."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import logging  # noqa: E402
import struct  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')
cv2 = pytest.importorskip('cv2')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.inputs import detect_topics  # noqa: E402

W, H, FRAMES = 160, 120, 8
COLOR, DEPTH, INFO = '/camera/color/image_raw', '/camera/depth/image_raw', '/camera/color/camera_info'
C_COLOR, C_DEPTH = COLOR + '/compressed', DEPTH + '/compressedDepth'


def _png_colour(msg):
    """compressed_image_transport, format png: colour converted to bgr8, "<enc>; png compressed bgr8"."""
    img = image_from_msg(msg)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if msg.encoding == 'rgb8' else img
    ok, buf = cv2.imencode('.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    assert ok
    return f'{msg.encoding}; png compressed bgr8', buf.tobytes()


def _jpeg_colour(msg):
    img = image_from_msg(msg)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if msg.encoding == 'rgb8' else img
    ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return f'{msg.encoding}; jpeg compressed bgr8', buf.tobytes()


def _png_depth16(msg):
    """compressed_depth_image_transport, 16UC1: ConfigHeader{INV_DEPTH=0, params} + 16-bit PNG."""
    assert msg.encoding == '16UC1'
    d = image_from_msg(msg).copy()
    d[d > 10000] = 0  # depth_max 10 m
    ok, buf = cv2.imencode('.png', d, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    assert ok
    return '16UC1; compressedDepth png', struct.pack('<iff', 0, 0.0, 0.0) + buf.tobytes()


def _twin(src: Path, dst: Path, encoders: dict, keep_raw: bool = False, corrupt: tuple = ()) -> Path:
    """A copy of ``src`` whose topics in ``encoders`` (raw topic -> (new topic, encoder)) are CompressedImage."""
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    ts = typestore_for()
    t = ts.types
    with Reader(src) as r, Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns, new = {}, {}
        for c in r.connections:
            if c.topic not in encoders or keep_raw:
                conns[c.id] = w.add_connection(c.topic, c.msgtype, typestore=ts)
            if c.topic in encoders:
                new[c.id] = w.add_connection(encoders[c.topic][0], 'sensor_msgs/msg/CompressedImage', typestore=ts)
        seen: dict = {}
        for c, stamp, raw in r.messages():
            if c.id in conns:
                w.write(conns[c.id], stamp, raw)
            if c.id in new:
                msg = ts.deserialize_cdr(raw, c.msgtype)
                fmt, data = encoders[c.topic][1](msg)
                i = seen[c.topic] = seen.get(c.topic, -1) + 1
                if (c.topic, i) in corrupt:
                    data = data[: len(data) // 3]
                out = t['sensor_msgs/msg/CompressedImage'](header=msg.header, format=fmt,
                                                           data=np.frombuffer(data, np.uint8))
                w.write(new[c.id], stamp, ts.serialize_cdr(out, 'sensor_msgs/msg/CompressedImage'))
    return dst


@pytest.fixture(scope='module')
def bags(tmp_path_factory) -> dict:
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    root = tmp_path_factory.mktemp('compressed_bags')
    raw = record_episode(root / 'raw', seed=0, frames=FRAMES, width=W, height=H, depth_encoding='16UC1',
                         progress=False)
    lossless = {COLOR: (C_COLOR, _png_colour), DEPTH: (C_DEPTH, _png_depth16)}
    return {
        'raw': raw,
        'png': _twin(raw, root / 'png', lossless),
        'both': _twin(raw, root / 'both', lossless, keep_raw=True),
        'jpeg': _twin(raw, root / 'jpeg', {COLOR: (C_COLOR, _jpeg_colour), DEPTH: (C_DEPTH, _png_depth16)}),
        'corrupt': _twin(raw, root / 'corrupt', lossless, corrupt=((DEPTH, 2),)),
    }


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def _rows(out: Path, name: str) -> list:
    return pq.read_table(out / name / 'frames.parquet').to_pylist()


def test_compressed_topics_are_detected(bags):
    topics = detect_topics(bags['png'])
    assert (topics.color, topics.depth, topics.info) == (C_COLOR, C_DEPTH, INFO)


def test_raw_is_preferred_and_the_log_says_so(bags, caplog):
    with caplog.at_level(logging.INFO, logger='spatialvlm_ros.offline.inputs'):
        topics = detect_topics(bags['both'])
    assert (topics.color, topics.depth) == (COLOR, DEPTH)
    text = caplog.text
    assert f'using {COLOR} (raw' in text and f'using {DEPTH} (raw' in text and C_COLOR in text and C_DEPTH in text


def test_explicit_compressed_topics(bags):
    topics = detect_topics(bags['both'], color=C_COLOR, depth=C_DEPTH)
    assert (topics.color, topics.depth) == (C_COLOR, C_DEPTH)
    with pytest.raises(OfflineError, match=r'expected sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage'):
        detect_topics(bags['both'], color=INFO)


def test_lossless_compressed_bag_labels_exactly_as_raw(bags, task, tmp_path):
    cfg = LabelConfig(task=task, chunk_frames=4)
    opts = RunOptions(workers=1, progress=False)
    label_bags([bags['raw']], tmp_path / 'raw', cfg, opts)
    summary = label_bags([bags['png']], tmp_path / 'png', cfg, opts)
    assert summary['frames'] == FRAMES
    raw, png = _rows(tmp_path / 'raw', 'raw'), _rows(tmp_path / 'png', 'png')
    assert len(raw) == len(png) == FRAMES
    assert any(r['reward'] is not None for r in raw)  # frames with a reward are compared, not only misses
    keys = ('stamp_ns', 'valid', 'reward', 'stage', 'success', 'distances', 'objects', 'error_kind')
    for a, b in zip(raw, png):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    # the labelled bag keeps the compressed camera topics
    from rosbags.rosbag2 import Reader

    with Reader(tmp_path / 'png' / 'png' / 'labelled') as r:
        assert {C_COLOR, C_DEPTH} <= {c.topic for c in r.connections}


def test_jpeg_colour_labels_close_to_raw(bags, task, tmp_path):
    cfg = LabelConfig(task=task, chunk_frames=4)
    opts = RunOptions(workers=1, progress=False)
    label_bags([bags['raw']], tmp_path / 'raw', cfg, opts)
    label_bags([bags['jpeg']], tmp_path / 'jpeg', cfg, opts)
    raw, jpeg = _rows(tmp_path / 'raw', 'raw'), _rows(tmp_path / 'jpeg', 'jpeg')
    assert [r['stamp_ns'] for r in raw] == [r['stamp_ns'] for r in jpeg]
    assert not any(r['error_kind'] for r in jpeg)
    diffs = [abs(a['distances'][k] - b['distances'][k]) for a, b in zip(raw, jpeg)
             for k in a['distances'] if a['distances'][k] is not None and b['distances'].get(k) is not None]
    assert diffs and max(diffs) < 0.01  # colour masks move by a pixel or two at most


def test_corrupt_compressed_frame_is_a_decode_row(bags, task, tmp_path):
    summary = label_bags([bags['corrupt']], tmp_path / 'out', LabelConfig(task=task, chunk_frames=4),
                         RunOptions(workers=1, progress=False))
    rows = _rows(tmp_path / 'out', 'corrupt')
    bad = [r for r in rows if r['error_kind']]
    assert len(rows) == FRAMES and len(bad) == 1
    assert bad[0]['error_kind'] == 'decode' and 'PNG' in bad[0]['error'] and bad[0]['reward'] is None
    assert summary['failures'] == {'decode': 1}


def test_synth_reads_compressed_bags_like_raw(bags, task, tmp_path):
    import json

    from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset

    cfg = SynthConfig(task=task, every=2, per_pair=3, seed=7)
    opts = RunOptions(workers=1, progress=False)
    raw = synth_dataset([bags['raw']], tmp_path / 'raw', cfg, opts)
    png = synth_dataset([bags['png']], tmp_path / 'png', cfg, opts)
    assert png['frames'] == raw['frames'] > 0 and png['failures'] == raw['failures']

    def measured(d):  # the questions drawn depend on the source's name; what was measured must not
        return {s['stamp_ns']: s['objects'] for s in map(json.loads, (d / 'data.jsonl').read_text().splitlines())}

    assert measured(tmp_path / 'png') == measured(tmp_path / 'raw') != {}


def test_a_ros1_bag_with_compressed_topics_labels_as_its_rosbag2_twin(bags, task, tmp_path):
    """ROS 1 bags recorded with image_transport's compressed topics (most public .bag datasets)."""
    from rosbags.rosbag1 import Writer as Ros1Writer

    from spatialvlm_ros.messages.bag import open_reader, typestore_for
    from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset

    ts = typestore_for()
    ros1 = tmp_path / 'png.bag'
    with open_reader(bags['png']) as reader, Ros1Writer(ros1) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
        for c, t, raw in reader.messages():
            writer.write(conns[c.id], t, ts.cdr_to_ros1(raw, c.msgtype))
    assert (detect_topics(ros1).color, detect_topics(ros1).depth) == (C_COLOR, C_DEPTH)
    cfg, opts = LabelConfig(task=task, chunk_frames=4), RunOptions(workers=1, progress=False)
    label_bags([bags['png']], tmp_path / 'two', cfg, opts)
    label_bags([ros1], tmp_path / 'one', cfg, opts)
    strip = [{k: v for k, v in r.items() if k != 'bag'} for r in _rows(tmp_path / 'two', 'png')]
    assert strip == [{k: v for k, v in r.items() if k != 'bag'} for r in _rows(tmp_path / 'one', 'png')]
    synth = synth_dataset([ros1], tmp_path / 'qa', SynthConfig(task=task), opts)
    assert synth['samples'] > 0 and synth['frames_with_questions'] > 0
