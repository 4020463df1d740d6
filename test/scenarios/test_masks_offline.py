"""A segmentation recorded in a bag drives the offline labeller as the live node's mask input does:
`spatialvlm label --mask-topic` pairs the instance-label images with colour and depth by stamp."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('rosbags')
pq = pytest.importorskip('pyarrow.parquet')

from spatialvlm_ros.core.task import parse_task  # noqa: E402
from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags  # noqa: E402
from spatialvlm_ros.offline.config import default_params  # noqa: E402

W, H, F = 160, 120, 150.0
CX, CY = (W - 1) / 2, (H - 1) / 2
BOXES = {'block': (3, (50, 60), 8, 0.8), 'target': (300, (110, 60), 10, 0.9)}  # id, centre px, half size, depth
TASK = parse_task({'name': 'near', 'objects': {'block': 'red block', 'target': 'blue target'},
                   'stages': [{'name': 'near', 'distance': ['block', 'target']}]})
FRAMES = 4


def _truth(name):
    _, (u, v), _, z = BOXES[name]
    return np.array([(u - CX) * z / F, (v - CY) * z / F, z])


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    from rosbags.rosbag2 import Writer

    ts, t = typestore_for(), typestore_for().types
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 1.5, np.float32)
    labels = np.zeros((H, W), np.uint16)
    for i, (u, v), r, z in BOXES.values():
        depth[v - r: v + r + 1, u - r: u + r + 1] = z
        labels[v - r: v + r + 1, u - r: u + r + 1] = i

    def header(stamp):
        return t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9),
                                        frame_id='cam')

    def image(array, encoding, stamp):
        h, w, step, data, big = encode_image(array, encoding)
        return t['sensor_msgs/msg/Image'](header=header(stamp), height=h, width=w, encoding=encoding,
                                          is_bigendian=big, step=step, data=data)

    path = tmp_path_factory.mktemp('masks') / 'segmented'
    from spatialvlm_ros.messages.bag import message_factory

    new = message_factory(ts)
    with Writer(path, version=9) as w:
        conns = {name: w.add_connection(topic, mtype, typestore=ts) for name, topic, mtype in (
            ('color', '/cam/color/image_raw', 'sensor_msgs/msg/Image'),
            ('depth', '/cam/depth/image_raw', 'sensor_msgs/msg/Image'),
            ('info', '/cam/color/camera_info', 'sensor_msgs/msg/CameraInfo'),
            ('masks', '/segmenter/labels', 'sensor_msgs/msg/Image'))}
        for k in range(FRAMES):
            stamp = 1_700_000_000_000_000_000 + k * 100_000_000
            msgs = {'masks': image(labels, 'mono16', stamp), 'info': new(
                'sensor_msgs/msg/CameraInfo', header=header(stamp), width=W, height=H,
                k=np.array([F, 0, CX, 0, F, CY, 0, 0, 1], np.float64)),
                'depth': image(depth, '32FC1', stamp), 'color': image(rgb, 'rgb8', stamp)}
            for i, (name, msg) in enumerate(msgs.items()):
                w.write(conns[name], stamp + i, ts.serialize_cdr(msg, msg.__msgtype__))
    return path


def _params():
    return {**default_params(), 'grounder': 'mask', 'center_mode': 'centroid', 'min_points': 10, 'min_pixels': 20,
            'object_names': ['block', 'target'], 'object_prompts': ['3', '300']}


def test_label_with_a_mask_topic_measures_the_segmented_objects(bag, tmp_path):
    config = LabelConfig(task=TASK, params=_params(), mask_topic='/segmenter/labels', chunk_frames=2)
    summary = label_bags([bag], tmp_path / 'out', config, RunOptions(workers=1, progress=False))
    assert summary['frames'] == FRAMES
    rows = pq.read_table(tmp_path / 'out' / 'segmented' / 'frames.parquet').to_pylist()
    assert all(r['valid'] for r in rows)
    for r in rows:
        found = {o['name']: np.array(o['center_m']) for o in r['objects']}
        for name in BOXES:
            np.testing.assert_allclose(found[name], _truth(name), atol=0.01)
        assert r['distances']['block-target'] == pytest.approx(float(np.linalg.norm(_truth('block') - _truth('target'))),
                                                               abs=0.01)


def test_the_mask_grounder_needs_the_topic_and_the_topic_the_grounder(bag):
    with pytest.raises(OfflineError, match='--mask-topic'):
        LabelConfig(task=TASK, params=_params())
    with pytest.raises(OfflineError, match='only used by a grounder that takes masks'):
        LabelConfig(task=TASK, mask_topic='/segmenter/labels')
    with pytest.raises(OfflineError, match='mask topic /nope is not in the bag'):
        label_bags([bag], bag.parent / 'x', LabelConfig(task=TASK, params=_params(), mask_topic='/nope'),
                   RunOptions(workers=1, progress=False))
