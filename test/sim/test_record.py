"""sim.record: recorded bags (topics, stamps, encodings, content), refusals and clean interruption."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import json  # noqa: E402
from pathlib import Path  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
pytest.importorskip('mujoco')
pytest.importorskip('gymnasium_robotics')
pytest.importorskip('rosbags')
from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.sim import iter_episode, read_ground_truth, record_episode  # noqa: E402
from spatialvlm_ros.sim.errors import SimError  # noqa: E402
from spatialvlm_ros.sim.scene import stamp_for_frame  # noqa: E402


@pytest.fixture(scope='module')
def bags(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('bags')
    return {
        enc: record_episode(
            root / f'bag_{enc}', seed=0, frames=BAG_FRAMES, width=BAG_W, height=BAG_H, depth_encoding=enc
        )
        for enc in ('32FC1', '16UC1')
    }


def _read_bag(path: Path) -> dict[str, list[tuple[int, object]]]:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    out: dict[str, list] = {}
    assert 'storage_identifier: mcap' in (path / 'metadata.yaml').read_text()
    assert len(list(path.glob('*.mcap'))) == 1
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, store.deserialize_cdr(raw, conn.msgtype)))
    return out


def test_bag_topics_counts_stamps_and_encodings(bags):
    msgs = _read_bag(bags['32FC1'])
    assert set(msgs) == {
        '/camera/color/image_raw',
        '/camera/depth/image_raw',
        '/camera/color/camera_info',
        '/robot/ee_position',
        '/sim/ground_truth',
    }
    expected_stamps = [stamp_for_frame(i) for i in range(BAG_FRAMES)]
    for topic, items in msgs.items():
        assert len(items) == BAG_FRAMES, topic
        log_times = [t for t, _ in items]
        assert log_times == expected_stamps, topic
        for t, msg in items:
            if hasattr(msg, 'header'):
                assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == t
                expected_frame = 'world' if topic == '/robot/ee_position' else 'camera_color_optical_frame'
                assert msg.header.frame_id == expected_frame
    colour = msgs['/camera/color/image_raw'][0][1]
    depth = msgs['/camera/depth/image_raw'][0][1]
    assert (colour.encoding, colour.width, colour.height) == ('rgb8', BAG_W, BAG_H)
    assert (depth.encoding, depth.width, depth.height) == ('32FC1', BAG_W, BAG_H)
    info = msgs['/camera/color/camera_info'][0][1]
    assert info.distortion_model == 'plumb_bob' and not np.any(info.d)
    assert (info.width, info.height) == (BAG_W, BAG_H)
    np.testing.assert_allclose(np.asarray(info.r).reshape(3, 3), np.eye(3))
    k = np.asarray(info.k).reshape(3, 3)
    assert k[0, 0] == pytest.approx((BAG_H / 2) / np.tan(np.deg2rad(43.3) / 2))
    assert (k[0, 2], k[1, 2]) == ((BAG_W - 1) / 2, (BAG_H - 1) / 2)
    np.testing.assert_allclose(np.asarray(info.p).reshape(3, 4)[:, :3], k)


def test_bag_content_matches_a_direct_rollout(bags):
    frames = list(iter_episode(seed=0, frames=BAG_FRAMES, width=BAG_W, height=BAG_H))
    msgs = _read_bag(bags['32FC1'])
    for frame, (_, rgb), (_, depth), (_, ee) in zip(
        frames, msgs['/camera/color/image_raw'], msgs['/camera/depth/image_raw'], msgs['/robot/ee_position']
    ):
        assert np.array_equal(image_from_msg(rgb), frame.rgb)
        assert np.array_equal(image_from_msg(depth), frame.depth, equal_nan=True)
        np.testing.assert_allclose([ee.point.x, ee.point.y, ee.point.z], frame.ee_world)
    gt = read_ground_truth(bags['32FC1'])
    assert gt == [json.loads(json.dumps(f.ground_truth())) for f in frames]
    assert gt[0]['frame_id'] == 'camera_color_optical_frame'
    assert gt[0]['block_size_m'] == pytest.approx([0.05, 0.05, 0.05])
    assert gt[0]['target_radius_m'] == pytest.approx(0.05)  # the flat target disc


def test_16uc1_depth_is_millimetres_matching_32fc1(bags):
    metres = [image_from_msg(m) for _, m in _read_bag(bags['32FC1'])['/camera/depth/image_raw']]
    mm_msgs = [m for _, m in _read_bag(bags['16UC1'])['/camera/depth/image_raw']]
    assert all(m.encoding == '16UC1' for m in mm_msgs)
    for m32, msg in zip(metres, mm_msgs):
        mm = image_from_msg(msg)
        assert mm.dtype == np.uint16
        assert np.array_equal(mm == 0, np.isnan(m32)), '0 mm must mark exactly the invalid pixels'
        valid = mm > 0
        assert np.abs(mm[valid] * 1e-3 - m32[valid]).max() <= 0.0005 + 1e-6


def test_recording_refuses_to_overwrite(bags, tmp_path):
    existing = tmp_path / 'taken'
    existing.mkdir()
    with pytest.raises(FileExistsError, match='--out'):
        record_episode(existing, frames=1, width=BAG_W, height=BAG_H)
    assert list(existing.iterdir()) == []
    with pytest.raises(FileExistsError):
        record_episode(bags['32FC1'], frames=1, width=BAG_W, height=BAG_H)
    # Successful runs leave no staging directory behind.
    assert not any(p.name.endswith('.partial') for p in bags['32FC1'].parent.iterdir())


@pytest.mark.parametrize(
    'kwargs, fragment',
    [
        ({'frames': 0}, 'expected frames >= 1'),
        ({'depth_encoding': 'mono8'}, 'expected depth_encoding'),
        ({'width': 0}, 'expected a positive image size'),
    ],
)
def test_recording_validates_arguments(tmp_path, kwargs, fragment):
    with pytest.raises(SimError, match=fragment):
        record_episode(tmp_path / 'bag', **kwargs)
    assert not (tmp_path / 'bag').exists()


def test_interrupted_recording_leaves_nothing_behind(tmp_path, monkeypatch):
    import spatialvlm_ros.sim.record as record

    def failing_episode(*args, **kwargs):
        yield from iter_episode(seed=0, frames=1, width=BAG_W, height=BAG_H)
        raise RuntimeError('simulated crash')

    monkeypatch.setattr(record, 'iter_episode', failing_episode)
    with pytest.raises(RuntimeError, match='simulated crash'):
        record_episode(tmp_path / 'bag', frames=3, width=BAG_W, height=BAG_H)
    assert list(tmp_path.iterdir()) == []


BAG_W, BAG_H, BAG_FRAMES = 160, 120, 6
