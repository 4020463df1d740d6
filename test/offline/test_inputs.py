"""Which topics of a bag are the colour image, the depth and the camera_info (``offline.inputs.detect_topics``):
detected from message types and encodings, given ones checked, missing and ambiguous ones refused naming the
candidates and the option that picks one."""
from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.inputs import CameraTopics, detect_topics  # noqa: E402
from support.bags import (CAMERA_INFO, COLOR, DEPTH, IMAGE, INFO, camera_images, image_msg, info_msg,  # noqa: E402
                          write_bag, write_camera_bag)


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def _label(bags, out, task, workers=1, chunk=8, **kw):
    return label_bags(bags, out, LabelConfig(task=task, chunk_frames=chunk), RunOptions(workers=workers, progress=False,
                                                                                      **kw))


def _stream_bag(path, images: dict, infos=(), frames=2):
    """A bag with image topics ``{topic: encoding}`` and camera_info topics ``infos``."""
    ts = typestore_for()
    rgb, depth = camera_images()
    arrays = {'rgb8': rgb, 'bgr8': rgb[..., ::-1].copy(), '32FC1': depth, '16UC1': (depth * 1000).astype(np.uint16),
              'mono16': (depth * 1000).astype(np.uint16)}
    stamps = [1_000_000_000 + i * 33_000_000 for i in range(frames)]
    streams = {t: (IMAGE, [(s, image_msg(ts, arrays[enc], enc, s)) for s in stamps]) for t, enc in images.items()}
    streams.update({t: (CAMERA_INFO, [(s, info_msg(ts, s)) for s in stamps]) for t in infos})
    return write_bag(path, streams)


def test_bag_without_the_camera_topics_fails_at_once_naming_them(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'colour_only', topics=(COLOR,))
    with pytest.raises(OfflineError, match=r'no depth image .* and no camera_info .* topic; it has '
                                           r'/camera/color/image_raw') as err:
        _label([bag], tmp_path / 'out', task)
    assert err.value.kind == 'missing_topics'
    assert not (tmp_path / 'out').exists()
    with pytest.raises(OfflineError, match='depth topic /nope is not in the bag'):
        label_bags([bag], tmp_path / 'out', LabelConfig(task=task, depth_topic='/nope'), RunOptions(workers=1))


def test_ambiguous_topics_name_the_option(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'two', topics=(COLOR, DEPTH, INFO))
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    # a second colour stream
    ts = typestore_for()
    two = tmp_path / 'two_colour'
    with Reader(bag) as r, Writer(two, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {c.id: w.add_connection(c.topic, c.msgtype, typestore=ts) for c in r.connections}
        extra = w.add_connection('/other/image', 'sensor_msgs/msg/Image', typestore=ts)
        for c, t, raw in r.messages():
            w.write(conns[c.id], t, raw)
            if c.topic == COLOR:
                w.write(extra, t, raw)
    with pytest.raises(OfflineError, match=r'several colour image .* pick one with --color-topic'):
        _label([two], tmp_path / 'out', task)
    summary = label_bags([two], tmp_path / 'out', LabelConfig(task=task, color_topic=COLOR), RunOptions(workers=1,
                                                                                                      progress=False))
    assert summary['frames'] == 3


@pytest.mark.parametrize('depth_encoding', ['32FC1', '16UC1', 'mono16'])
def test_colour_and_depth_are_told_apart_by_the_encoding(tmp_path, depth_encoding):
    bag = _stream_bag(tmp_path / 'b', {'/cam/a': depth_encoding, '/cam/b': 'bgr8'}, infos=('/cam/info',))
    assert detect_topics(bag) == CameraTopics(color='/cam/b', depth='/cam/a', info='/cam/info')


def test_the_camera_info_next_to_the_colour_topic_is_picked_among_several(tmp_path):
    bag = _stream_bag(tmp_path / 'b', {'/rs/color/image_raw': 'rgb8', '/rs/depth/image_rect_raw': '16UC1'},
                      infos=('/rs/color/camera_info', '/rs/depth/camera_info'))
    assert detect_topics(bag).info == '/rs/color/camera_info'
    # also next to a colour topic given by name
    bag2 = _stream_bag(tmp_path / 'b2', {'/l/color/image': 'rgb8', '/r/color/image': 'rgb8', '/d/image': '32FC1'},
                       infos=('/l/color/camera_info', '/r/color/camera_info'))
    assert detect_topics(bag2, color='/r/color/image') == CameraTopics('/r/color/image', '/d/image',
                                                                        '/r/color/camera_info')
    # two camera_infos, neither next to the colour topic: ambiguous, the flag named
    bag3 = _stream_bag(tmp_path / 'b3', {'/c/image': 'rgb8', '/d/image': '32FC1'}, infos=('/x/info', '/y/info'))
    with pytest.raises(OfflineError, match=r"several camera_info .* \['/x/info', '/y/info'\]: pick one with "
                                           r"--info-topic") as err:
        detect_topics(bag3)
    assert err.value.kind == 'ambiguous_topics'
    assert detect_topics(bag3, info='/y/info').info == '/y/info'


def test_given_topics_are_checked_against_the_bag(tmp_path):
    bag = write_camera_bag(tmp_path / 'b')
    assert detect_topics(bag) == CameraTopics(COLOR, DEPTH, INFO)
    assert detect_topics(bag, color=COLOR, depth=DEPTH, info=INFO) == CameraTopics(COLOR, DEPTH, INFO)
    with pytest.raises(OfflineError, match=rf'info topic {COLOR} is sensor_msgs/msg/Image, expected '
                                           r'sensor_msgs/msg/CameraInfo') as err:
        detect_topics(bag, info=COLOR)
    assert err.value.kind == 'missing_topics'
    assert str(err.value).endswith(f'It has {INFO} (sensor_msgs/msg/CameraInfo), {COLOR} (sensor_msgs/msg/Image), '
                                   f'{DEPTH} (sensor_msgs/msg/Image)')
    # every problem at once
    with pytest.raises(OfflineError, match=r'color topic /a is not in the bag; depth topic /b is not in the bag'):
        detect_topics(bag, color='/a', depth='/b')


def test_a_topic_without_messages_is_refused(tmp_path):
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    src = write_camera_bag(tmp_path / 'b')
    ts = typestore_for()

    dst = tmp_path / 'empty_depth'
    with Reader(src) as r, Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {c.id: w.add_connection(c.topic, c.msgtype, typestore=ts) for c in r.connections}
        for c, t, raw in r.messages():
            if c.topic != INFO:
                w.write(conns[c.id], t, raw)
    with pytest.raises(OfflineError, match=rf'info topic {INFO} has no messages') as err:
        detect_topics(dst)
    assert err.value.kind == 'missing_topics'


def test_an_image_topic_whose_first_message_is_corrupt_is_judged_by_the_next(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts = typestore_for()
    rgb, depth = camera_images()
    with Writer(tmp_path / 'b', version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection('/c', IMAGE, typestore=ts)
        d = w.add_connection('/d', IMAGE, typestore=ts)
        i = w.add_connection('/i', CAMERA_INFO, typestore=ts)
        w.write(d, 1, bytes(ts.serialize_cdr(image_msg(ts, depth, '32FC1', 1), IMAGE))[:40])
        for t in (2, 3):
            w.write(c, t, ts.serialize_cdr(image_msg(ts, rgb, 'rgb8', t), IMAGE))
            w.write(d, t, ts.serialize_cdr(image_msg(ts, depth, '32FC1', t), IMAGE))
            w.write(i, t, ts.serialize_cdr(info_msg(ts, t), CAMERA_INFO))
    assert detect_topics(tmp_path / 'b') == CameraTopics('/c', '/d', '/i')
