"""Offline labelling of rosbags end to end (``label_bags``): outputs against ground truth and the live path,
parallel and resumed runs identical to a plain one, broken bags labelled with their errors counted. The modules it
drives have their own tests (offline/test_inputs.py, test_bagio.py, test_labeller.py, test_chunks.py, ...)."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import json  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pa = pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline import chunks as chunks_mod  # noqa: E402
from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from support.bags import COLOR, DEPTH, bag_messages, output_tree, write_camera_bag  # noqa: E402

W, H, FRAMES = 320, 240, 24


@pytest.fixture(scope='module')
def sim_bag(tmp_path_factory) -> Path:
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    return record_episode(tmp_path_factory.mktemp('bags') / 'episode', seed=0, frames=FRAMES, width=W, height=H,
                          progress=False)


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def _label(bags, out, task, workers=1, chunk=8, **kw):
    return label_bags(bags, out, LabelConfig(task=task, chunk_frames=chunk), RunOptions(workers=workers, progress=False,
                                                                                      **kw))


# -- outputs ------------------------------------------------------------------------------------


def test_label_writes_bag_table_plot_and_summary(sim_bag, task, tmp_path):
    from spatialvlm_ros.sim import read_ground_truth

    summary = _label([sim_bag], tmp_path / 'out', task)
    out = tmp_path / 'out' / sim_bag.name
    assert summary['frames'] == FRAMES and summary['frames_with_reward'] == FRAMES
    assert summary['failures'] == {} and summary['corrupt_messages'] == {}
    assert (out / 'reward.png').stat().st_size > 10_000
    assert not (tmp_path / 'out' / '.work' / sim_bag.name).exists()

    # the labelled bag: every original message, byte for byte, plus the outputs
    labelled = bag_messages(out / 'labelled')
    original = bag_messages(sim_bag)
    assert [m for m in labelled if m[0] in {t for t, _, _ in original}] == original
    ts = typestore_for()
    by_topic: dict = {}
    for topic, t, raw in labelled:
        by_topic.setdefault(topic, []).append((t, raw))
    for topic in ('/spatial_facts/objects', '/spatial_facts/facts', '/spatial_facts/markers', '/reward/reward',
                  '/reward/detail'):
        assert len(by_topic[topic]) == FRAMES, topic
    details = [json.loads(ts.deserialize_cdr(raw, 'std_msgs/msg/String').data) for _, raw in by_topic['/reward/detail']]
    floats = [ts.deserialize_cdr(raw, 'std_msgs/msg/Float32').data for _, raw in by_topic['/reward/reward']]
    colour_stamps = []
    for _, raw in by_topic[COLOR]:
        s = ts.deserialize_cdr(raw, 'sensor_msgs/msg/Image').header.stamp
        colour_stamps.append(s.sec * 10**9 + s.nanosec)
    assert [d['stamp_ns'] for d in details] == colour_stamps  # stamped with the source frames
    np.testing.assert_allclose(floats, [d['reward'] for d in details], rtol=1e-6)
    markers = ts.deserialize_cdr(by_topic['/spatial_facts/markers'][0][1], 'visualization_msgs/msg/MarkerArray')
    assert markers.markers[0].header.stamp.sec * 10**9 + markers.markers[0].header.stamp.nanosec == colour_stamps[0]
    assert {m.ns for m in markers.markers} == {'objects', 'labels', 'distances', 'distance_labels'}
    # extent_m is the gravity-aligned [width, height, depth] of the size facts (and of `spatialvlm facts
    # --json`); the marker boxes are the frame-axis boxes, extent_camera_m
    objects0 = json.loads(ts.deserialize_cdr(by_topic['/spatial_facts/objects'][0][1], 'std_msgs/msg/String').data)
    facts0 = json.loads(ts.deserialize_cdr(by_topic['/spatial_facts/facts'][0][1], 'std_msgs/msg/String').data)
    names = {m.id: m.text for m in markers.markers if m.ns == 'labels'}  # a box and its label share an id
    boxes = {names[m.id]: m for m in markers.markers if m.ns == 'objects'}
    for o in objects0['objects']:
        size = {f['type']: f['value'] for f in facts0['facts'] if f['subject'] == o['name'] and not f['object']}
        np.testing.assert_allclose(o['extent_m'], [size['width'], size['height'], size['depth']], atol=2e-6)
        scale = boxes[o['name']].scale
        np.testing.assert_allclose([scale.x, scale.y, scale.z], np.maximum(o['extent_camera_m'], 0.005), atol=2e-6)

    # the table: one row per frame, distances against the simulator's ground truth
    table = pq.read_table(out / 'frames.parquet').to_pylist()
    assert [r['stamp_ns'] for r in table] == colour_stamps
    assert [r['reward'] for r in table] == [d['reward'] for d in details]
    gt = {g['stamp_ns']: g for g in read_ground_truth(sim_bag)}
    err = [abs(r['distances']['gripper-block'] - np.linalg.norm(np.subtract(gt[r['stamp_ns']]['gripper'],
                                                                            gt[r['stamp_ns']]['block'])))
           for r in table]
    assert np.median(err) < 0.03, err
    assert {f['type'] for f in table[0]['facts']} >= {'distance'}
    assert {o['name'] for o in table[0]['objects']} == set(task.objects)
    for row, o in zip(table[0]['objects'], objects0['objects']):
        keys = ('name', 'extent_m', 'extent_camera_m')
        assert [row[k] for k in keys] == [o[k] for k in keys]


def test_pool_and_ray_give_the_same_outputs_as_one_process(sim_bag, task, tmp_path):
    _label([sim_bag], tmp_path / 'one', task, workers=1)
    _label([sim_bag], tmp_path / 'pool', task, workers=2)
    # the per-frame step's CPU time (bench/label.py's in-run one-core cost) is counted in either
    for run in ('one', 'pool'):
        t = json.loads((tmp_path / run / sim_bag.name / 'summary.json').read_text())['throughput']
        assert 0 < t['step_cpu_s'] <= t['split_s']['compute_s'] * 1.05 + 0.05, t
    expected = output_tree(tmp_path / 'one' / sim_bag.name)
    assert output_tree(tmp_path / 'pool' / sim_bag.name) == expected
    ray = pytest.importorskip('ray')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = _label([sim_bag], tmp_path / 'ray', task, ray_address='auto')
    finally:
        ray.shutdown()
    assert summary['throughput']['workers'] == 2
    assert output_tree(tmp_path / 'ray' / sim_bag.name) == expected


def test_interrupted_run_resumes_to_identical_outputs(sim_bag, task, tmp_path, monkeypatch):
    _label([sim_bag], tmp_path / 'plain', task, chunk=4)
    stop_after = random.Random(os.getpid()).randint(1, FRAMES // 4 - 1)  # a random chunk
    real = chunks_mod.write_chunk_dir  # called by the worker (here: this process) for each finished chunk
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(chunks_mod, 'write_chunk_dir', interrupted)
    with pytest.raises(KeyboardInterrupt):
        _label([sim_bag], tmp_path / 'resumed', task, chunk=4)
    monkeypatch.setattr(chunks_mod, 'write_chunk_dir', real)
    assert not (tmp_path / 'resumed' / sim_bag.name).exists()  # nothing under the final name
    work = tmp_path / 'resumed' / '.work' / sim_bag.name / 'chunks'
    assert len([d for d in work.iterdir() if not d.name.startswith('.')]) == stop_after
    summary = _label([sim_bag], tmp_path / 'resumed', task, chunk=4)
    assert summary['frames'] == FRAMES
    assert json.loads((tmp_path / 'resumed' / sim_bag.name / 'summary.json').read_text())['throughput'][
        'resumed_chunks'] == stop_after
    assert output_tree(tmp_path / 'resumed' / sim_bag.name) == output_tree(tmp_path / 'plain' / sim_bag.name)
    # a finished bag is not labelled again; another configuration does not overwrite it
    again = _label([sim_bag], tmp_path / 'resumed', task, chunk=4)
    assert again['bags_already_done'] == [sim_bag.name]
    with pytest.raises(OfflineError, match='exists from another input or configuration'):
        _label([sim_bag], tmp_path / 'resumed', task, chunk=5)


def test_killed_process_resumes_to_identical_outputs(sim_bag, task, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    _label([sim_bag], tmp_path / 'plain', task, chunk=2)
    cmd = [sys.executable, '-m', 'spatialvlm_ros.cli', 'label', str(sim_bag), '--out', str(tmp_path / 'k'),
           '--workers', '1', '--chunk-frames', '2', '--no-progress']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunks = tmp_path / 'k' / '.work' / sim_bag.name / 'chunks'
    want = random.Random(os.getpid()).randint(1, FRAMES // 2 - 2)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if chunks.exists() and len([d for d in chunks.iterdir() if not d.name.startswith('.')]) >= want:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert output_tree(tmp_path / 'k' / sim_bag.name) == output_tree(tmp_path / 'plain' / sim_bag.name)


# -- broken bags -----------------------------------------------------------------------------------


def test_truncated_and_corrupt_messages_are_counted_and_skipped(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'broken', frames=6, truncate_color=(1,), corrupt_depth=(3,))
    summary = _label([bag], tmp_path / 'out', task)
    per_bag = json.loads((tmp_path / 'out' / 'broken' / 'summary.json').read_text())
    assert summary['corrupt_messages'] == {DEPTH: 1}
    assert 'Deserializ' in per_bag['corrupt_examples'][0] or DEPTH in per_bag['corrupt_examples'][0]
    assert summary['failures'] == {'truncated': 1}
    rows = pq.read_table(tmp_path / 'out' / 'broken' / 'frames.parquet').to_pylist()
    assert len(rows) == 5  # frame 3 never pairs: its depth message is unreadable
    bad = [r for r in rows if r['error_kind']]
    assert len(bad) == 1 and 'truncated' in bad[0]['error'] and bad[0]['reward'] is None
    # only the red square is in view: no reward (gripper, target missing), but never a made-up one
    assert all(r['valid'] is False for r in rows)
    assert per_bag['frames_without_reward'] == {'missing_gripper+target': 4}


def test_offline_tools_never_import_rclpy(sim_bag, tmp_path):
    import subprocess
    import sys

    code = (
        'import sys\n'
        'from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task\n'
        'from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset\n'
        f'label_bags([{str(sim_bag)!r}], {str(tmp_path / "o")!r}, LabelConfig(task=resolve_task(None)[1]), '
        'RunOptions(workers=1, progress=False))\n'
        f'synth_dataset([{str(sim_bag)!r}], {str(tmp_path / "d")!r}, SynthConfig(task=resolve_task(None)[1]), '
        'RunOptions(workers=1, progress=False))\n'
        'bad = sorted(m for m in sys.modules if m.split(".")[0] in ("rclpy", "sensor_msgs", "std_msgs"))\n'
        'assert not bad, bad\n'
    )
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def test_pool_labels_a_broken_bag_as_one_process(task, tmp_path):
    bag = write_camera_bag(tmp_path / 'broken', frames=10, storage='mcap', truncate_color=(2,), corrupt_depth=(6,))
    _label([bag], tmp_path / 'one', task, workers=1, chunk=3)
    _label([bag], tmp_path / 'pool', task, workers=2, chunk=3)
    assert output_tree(tmp_path / 'pool' / 'broken') == output_tree(tmp_path / 'one' / 'broken')


def test_without_the_labelled_bag_the_table_is_the_same(sim_bag, task, tmp_path):
    """--no-bag: the same rows (pool workers then read only the camera messages), no bag copy."""
    _label([sim_bag], tmp_path / 'full', task, workers=1)
    summary = label_bags([sim_bag], tmp_path / 'nobag', LabelConfig(task=task, chunk_frames=8, bag=False),
                         RunOptions(workers=2, progress=False))
    out = tmp_path / 'nobag' / sim_bag.name
    assert not (out / 'labelled').exists() and (out / 'reward.png').stat().st_size > 0
    assert summary['frames'] == FRAMES
    full = pq.read_table(tmp_path / 'full' / sim_bag.name / 'frames.parquet').to_pylist()
    assert pq.read_table(out / 'frames.parquet').to_pylist() == full


def test_chunks_see_the_frames_before_them(task, tmp_path):
    """A static camera's up is steadied over its recent frames (core.up_window): each chunk is given
    the frames before it, so any chunking labels every frame as one pass over the bag does (and as
    the live node does), while the window visibly changes what this bag's frames measure (depth
    noise as a RealSense's: without it every frame's own up is already the same)."""
    pytest.importorskip('mujoco')
    from spatialvlm_ros.offline.config import default_params
    from spatialvlm_ros.sim import record_episode
    from spatialvlm_ros.sim.noise import NOISE_PRESETS

    sim_bag = record_episode(tmp_path / 'noisy', seed=0, frames=FRAMES, width=W, height=H, progress=False,
                             noise=NOISE_PRESETS['realsense'])

    def rows(name, chunk, **params):
        p = {**default_params(), **params}
        label_bags([sim_bag], tmp_path / name, LabelConfig(task=task, params=p, chunk_frames=chunk, bag=False),
                   RunOptions(workers=2 if chunk < FRAMES else 1, progress=False))
        return pq.read_table(tmp_path / name / sim_bag.name / 'frames.parquet').to_pylist()

    whole = rows('whole', FRAMES)
    # the table says where each frame's up came from: the table's plane, steadied from the 2nd frame
    assert [r['up']['source'] for r in whole] == ['plane'] * FRAMES
    assert [r['up']['averaged_frames'] for r in whole][:6] == [1, 2, 3, 4, 5, 5]
    summary = json.loads((tmp_path / 'whole' / sim_bag.name / 'summary.json').read_text())
    assert summary['up']['sources'] == {'plane': FRAMES} and summary['up']['confidence_median'] > 0.5
    assert rows('by3', 3) == whole
    assert rows('by1', 1) == whole
    own = rows('own', 3, up_window_frames=1)
    changed = [a['frame'] for a, b in zip(whole, own) if a['objects'] != b['objects']]
    assert len(changed) >= FRAMES // 2, changed
