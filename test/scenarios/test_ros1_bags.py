"""ROS 1 bags as inputs of `spatialvlm label` and `synth` (rosbags reads them; messages are converted
to CDR as they are read): the same rows as the rosbag2 twin of the bag; outputs stay rosbag2 + Parquet."""

from __future__ import annotations

import json
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import pytest  # noqa: E402

pytest.importorskip('rosbags')
pq = pytest.importorskip('pyarrow.parquet')

from spatialvlm_ros.messages.bag import open_reader, typestore_for  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402

FRAMES = 12


@pytest.fixture(scope='module')
def twins(tmp_path_factory):
    """(rosbag2 directory, ROS 1 .bag) with the same messages, both named 'episode'."""
    pytest.importorskip('mujoco')
    from rosbags.rosbag1 import Writer

    from spatialvlm_ros.sim import record_episode

    root = tmp_path_factory.mktemp('ros1')
    ros2 = record_episode(root / 'ros2' / 'episode', seed=0, frames=FRAMES, width=160, height=120, progress=False)
    ros1 = root / 'episode.bag'
    ts = typestore_for()
    with open_reader(ros2) as reader, Writer(ros1) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
        for c, t, raw in reader.messages():
            writer.write(conns[c.id], t, ts.cdr_to_ros1(raw, c.msgtype))
    return ros2, ros1


def _rows(out):
    return pq.read_table(out / 'episode' / 'frames.parquet').to_pylist()


def test_label_reads_a_ros1_bag_like_its_rosbag2_twin(twins, tmp_path):
    ros2, ros1 = twins
    config = LabelConfig(task=resolve_task(None)[1], chunk_frames=5)
    options = RunOptions(workers=1, progress=False)
    a = label_bags([ros2], tmp_path / 'a', config, options)
    b = label_bags([ros1], tmp_path / 'b', config, options)
    assert a['frames'] == b['frames'] == FRAMES
    assert _rows(tmp_path / 'a') == _rows(tmp_path / 'b')
    # the labelled bag is a rosbag2 with the same outputs as the twin's
    with open_reader(tmp_path / 'b' / 'episode' / 'labelled') as r:
        topics = {c.topic: c.msgcount for c in r.connections}
    assert topics['/reward/detail'] == FRAMES and topics['/camera/color/image_raw'] == FRAMES


def test_synth_reads_a_ros1_bag_like_its_rosbag2_twin(twins, tmp_path):
    from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset

    ros2, ros1 = twins
    config = SynthConfig(task=resolve_task(None)[1])
    synth_dataset([ros2], tmp_path / 'a', config, RunOptions(workers=1, progress=False))
    synth_dataset([ros1], tmp_path / 'b', config, RunOptions(workers=1, progress=False))
    a = [json.loads(line) for line in (tmp_path / 'a' / 'data.jsonl').read_text().splitlines()]
    b = [json.loads(line) for line in (tmp_path / 'b' / 'data.jsonl').read_text().splitlines()]
    assert a and [{k: v for k, v in r.items() if k != 'images'} for r in a] == [
        {k: v for k, v in r.items() if k != 'images'} for r in b]
