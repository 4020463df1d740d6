"""``spatialvlm demo``: simulated episode -> the real nodes over DDS -> scored against ground truth.

1. record (or reuse) a Fetch pick-and-place episode as a rosbag2 (mcap);
2. start ``spatial_facts_node`` and ``reward_node`` as their own processes on a private
   ROS_DOMAIN_ID, loopback only;
3. stream the bag's frames to them at the camera rate and collect what they publish;
4. write ``runs/<name>/``: ``reward.png``, ``facts.jsonl``, ``rewards.jsonl``, ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from ..messages.bag import read_messages
from ..messages import serialize
from ..core.task import load_task
from ..core.transform import matrix_to_quaternion
from ..offline.plot import plot_rewards
from ..offline.score import score_run
from .processes import COLOR, DEPTH, EE, INFO, ROS_ENV_KEYS, DemoError, ros_environment, start_nodes

__all__ = ['stream_bag', 'kinematic_gripper_params', 'run_demo']

log = logging.getLogger(__name__)

GT = '/sim/ground_truth'


def _load_frames(bag: Path) -> tuple[list, list]:
    """Frames (color, depth, info) grouped by header stamp, and the ground truth documents."""
    by_stamp: dict[int, dict] = {}
    gts = []
    for m in read_messages(bag, [COLOR, DEPTH, INFO, GT, EE]):
        if m.topic == GT:
            gts.append(json.loads(m.msg.data))
            continue
        stamp = int(m.msg.header.stamp.sec) * 1_000_000_000 + int(m.msg.header.stamp.nanosec)
        key = {COLOR: 'color', DEPTH: 'depth', INFO: 'info', EE: 'ee'}[m.topic]
        by_stamp.setdefault(stamp, {})[key] = m.msg
    frames = [(s, f) for s, f in sorted(by_stamp.items()) if {'color', 'depth', 'info'} <= set(f)]
    gts.sort(key=lambda g: g['stamp_ns'])
    return frames, gts


def _warm_up(node, first: dict, alive, timeout_s: float = 20.0) -> float | None:
    """Send the first frame once, stamped 1 s before the episode, and wait for its reward.

    A camera runs before an episode starts; the first large messages over DDS (shared-memory
    segments, reader buffers) and the first pipeline call are slow, and that one-off cost is
    not the per-frame latency. Returns its latency (ms), reported separately; the warm-up
    frame is then forgotten (it is not part of the episode or the scores).
    """
    from ..ros.replay import camera_info_msg, image_msg, point_msg

    msgs = [image_msg(first['color']), image_msg(first['depth']), camera_info_msg(first['info'])]
    ee = point_msg(first['ee']) if 'ee' in first else None
    for m in msgs + ([ee] if ee is not None else []):
        m.header.stamp.sec -= 1
    stamp = msgs[0].header.stamp.sec * 1_000_000_000 + msgs[0].header.stamp.nanosec
    t0 = time.perf_counter()
    node.publish_frame(*msgs, ee)
    deadline = time.monotonic() + timeout_s
    latency = None
    while time.monotonic() < deadline and alive():
        with node.collected.lock:
            if stamp in node.collected.rewards:
                latency = (node.collected.received_at[stamp] - t0) * 1e3
                node.collected.rewards.pop(stamp)
                node.collected.facts.pop(stamp, None)
                node.collected.received_at.pop(stamp)
                break
        time.sleep(0.005)
    return latency


def stream_bag(node, executor_thread_alive, frames: list, rate_hz: float, timeout_s: float = 30.0,
               max_in_flight: int = 3) -> dict:
    """Publish frames at ``rate_hz`` and wait for their rewards; returns stamp -> publish time.

    At most ``max_in_flight`` frames are published ahead of the rewards received: on a machine
    too loaded to keep up with the camera rate the stream slows down instead of overflowing the
    nodes' queues, so the score never depends on the machine's load (the latency still does).
    """
    from ..ros.replay import camera_info_msg, image_msg, point_msg

    sent_at: dict[int, float] = {}
    warmup_ms = _warm_up(node, frames[0][1], executor_thread_alive)
    time.sleep(0.2)  # let the warm-up frame's other outputs land, then forget them
    with node.collected.lock:
        node.collected.reward_values.clear()
    period = 1.0 / rate_hz
    next_t = time.perf_counter()
    stamps = [s for s, _ in frames]
    for i, (stamp, f) in enumerate(frames):
        color, depth, info = image_msg(f['color']), image_msg(f['depth']), camera_info_msg(f['info'])
        ee = point_msg(f['ee']) if 'ee' in f else None
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if i >= max_in_flight:
            waiting_for = stamps[i - max_in_flight]
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and executor_thread_alive():
                with node.collected.lock:
                    if waiting_for in node.collected.rewards:
                        break
                time.sleep(0.001)
        node.publish_frame(color, depth, info, ee)
        sent_at[stamp] = time.perf_counter()
        next_t = max(next_t + period, time.perf_counter())
    node.warmup_ms = warmup_ms
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and executor_thread_alive():
        with node.collected.lock:
            if len(node.collected.rewards) >= len(frames):
                break
        time.sleep(0.05)
    return sent_at


def kinematic_gripper_params(ground_truth: dict) -> dict:
    """spatial_facts parameters of the demo's kinematic gripper: its position from the end-effector
    topic (``gripper/position``, world frame), results in 'world' through the camera's pose in the
    first ground-truth document of the bag (a static camera)."""
    quat = matrix_to_quaternion(np.asarray(ground_truth['camera_rotation_world']))
    return {'kinematic_objects': ['gripper'], 'target_frame': 'world', 'transform_source': 'static',
            'static_transform': [*ground_truth['camera_position_world'], *quat]}


def run_demo(
    name: str = 'demo',
    seed: int = 0,
    frames: int = 100,
    width: int = 640,
    height: int = 480,
    rate_hz: float = 30.0,
    out_root: Path = Path('runs'),
    bag: Path | None = None,
    task: str = 'pick_and_place',
    domain_id: int | None = None,
    connect_timeout_s: float = 60.0,
    gripper: str = 'kinematic',
) -> dict:
    """Run the demo; returns the summary (also written to ``out_root/name/summary.json``).

    gripper: 'kinematic' (default): the gripper position comes from the robot's end-effector
        topic, as on a real arm that knows its forward kinematics, expressed in the camera frame
        through the camera's extrinsic; the block and target are measured from RGB-D.
        'vision': the gripper is grounded by colour like the other objects (two thin fingers
        around an empty grip point: ~1.3 cm bias).
    """
    if gripper not in ('kinematic', 'vision'):
        raise DemoError(f"gripper must be 'kinematic' or 'vision', got {gripper!r}")
    out = Path(out_root) / name
    out.mkdir(parents=True, exist_ok=True)
    if bag is None:
        bag = Path(out_root) / 'cache' / f'fetch_seed{seed}_{frames}f_{width}x{height}'
        if not bag.exists():
            from ..sim import record_episode

            log.info('recording the simulated episode to %s', bag)
            bag.parent.mkdir(parents=True, exist_ok=True)
            record_episode(bag, seed=seed, frames=frames, width=width, height=height)
    frame_list, gts = _load_frames(Path(bag))
    if not frame_list:
        raise DemoError(f'bag {bag} has no complete colour/depth/camera_info frames')

    env = ros_environment(domain_id)
    os.environ.update({k: env[k] for k in ROS_ENV_KEYS if k in env})
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from ..ros.replay import ReplayNode
    from ..core.task import task_path

    task_spec = load_task(task_path(task))
    params = kinematic_gripper_params(gts[0]) if gripper == 'kinematic' else {}
    procs = start_nodes(env, out, task, extra_params=params)
    rclpy.init()
    node = ReplayNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        deadline = time.monotonic() + connect_timeout_s
        while not node.connected():
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = '\n'.join((out / f'{n}.log').read_text()[-2000:] for n in ('spatial_facts', 'reward'))
                raise DemoError(f'the nodes did not come up (see {out}/*.log):\n{logs}')
            time.sleep(0.1)
        time.sleep(0.5)  # let discovery settle on every topic pair before the first frame
        sent_at = stream_bag(node, spin.is_alive, frame_list, rate_hz)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()

    col = node.collected
    # Only the episode's frames: the warm-up frame's facts may arrive after its reward was taken out.
    col.facts = {s: d for s, d in col.facts.items() if s in sent_at}
    col.rewards = {s: d for s, d in col.rewards.items() if s in sent_at}
    latencies = [(col.received_at[s] - sent_at[s]) * 1e3 for s in sent_at if s in col.received_at]
    (out / 'latency_ms.json').write_text(json.dumps([round(v, 3) for v in latencies]))
    gt_docs = [{'stamp_ns': g['stamp_ns'], **{n: g.get(n) for n in task_spec.objects}} for g in gts]
    summary = {'name': name, 'bag': str(bag), 'task': task_spec.name, 'seed': seed, 'rate_hz': rate_hz,
               'gripper': gripper, 'node_params': params}
    summary.update(score_run(task_spec, gt_docs, col.rewards, latencies))
    summary['frames_sent'] = len(sent_at)
    summary['warmup_latency_ms'] = None if node.warmup_ms is None else round(node.warmup_ms, 1)
    summary['rewards_published'] = len(col.reward_values)
    with open(out / 'facts.jsonl', 'w') as fh:
        for s in sorted(col.facts):
            fh.write(serialize.dumps(col.facts[s]) + '\n')
    with open(out / 'rewards.jsonl', 'w') as fh:
        for s in sorted(col.rewards):
            fh.write(serialize.dumps(col.rewards[s]) + '\n')
    plot_rewards(out / 'reward.png', task_spec, gt_docs, col.rewards)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary
