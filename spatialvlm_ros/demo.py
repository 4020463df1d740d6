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
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from .bag import read_messages
from .core import serialize
from .core.reward import load_task
from .report import plot_rewards, score_run
from .ros.params import config_dir

__all__ = ['DemoError', 'ros_environment', 'start_node', 'start_nodes', 'stream_bag', 'run_demo']

log = logging.getLogger(__name__)

COLOR, DEPTH, INFO, GT = '/camera/color/image_raw', '/camera/depth/image_raw', '/camera/color/camera_info', '/sim/ground_truth'


ROS_ENV_KEYS = ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'RMW_IMPLEMENTATION', 'FASTDDS_DEFAULT_PROFILES_FILE')


class DemoError(Exception):
    """The demo could not run; the message says why and what to do."""


def ros_environment(domain_id: int | None = None) -> dict:
    """Environment for a private, loopback-only ROS graph."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id if domain_id is not None else random.randint(120, 200))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    # Shared memory for images between processes (UDP loopback is ~5x slower for 1 MB messages).
    env.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(config_dir() / 'fastdds_localhost_shm.xml'))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def start_node(module: str, name: str, env: dict, log_dir: Path, remaps: dict | None = None,
               params: dict | None = None):
    """Start ``python -m spatialvlm_ros.ros.<module>`` with remaps and parameters; output to NAME.log."""
    cmd = [sys.executable, '-m', f'spatialvlm_ros.ros.{module}', '--ros-args', '-r', f'__node:={name}']
    for src, dst in (remaps or {}).items():
        cmd += ['-r', f'{src}:={dst}']
    for k, v in (params or {}).items():
        if isinstance(v, (list, tuple)):
            v = '[' + ','.join(repr(x) if isinstance(x, str) else str(x) for x in v) + ']'
        cmd += ['-p', f'{k}:={v}']
    logf = open(log_dir / f'{name}.log', 'w')  # noqa: SIM115 - the child keeps it open
    return subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT)


def start_nodes(env: dict, log_dir: Path, task: str = 'pick_and_place', extra_params: dict | None = None) -> list:
    """Start both nodes as subprocesses, remapped to the demo topics; returns the Popen list."""
    params = {'qos_reliability': 'reliable', 'qos_depth': 50}
    params.update(extra_params or {})
    remaps = {'color/image_raw': COLOR, 'depth/image_raw': DEPTH, 'color/camera_info': INFO}
    return [
        start_node('spatial_facts_node', 'spatial_facts', env, log_dir, remaps, params),
        start_node('reward_node', 'reward', env, log_dir, {'objects': '/spatial_facts/objects'}, {'task': task}),
    ]


def _load_frames(bag: Path) -> tuple[list, list]:
    """Frames (color, depth, info) grouped by header stamp, and the ground truth documents."""
    by_stamp: dict[int, dict] = {}
    gts = []
    for m in read_messages(bag, [COLOR, DEPTH, INFO, GT]):
        if m.topic == GT:
            gts.append(json.loads(m.msg.data))
            continue
        stamp = int(m.msg.header.stamp.sec) * 1_000_000_000 + int(m.msg.header.stamp.nanosec)
        key = {COLOR: 'color', DEPTH: 'depth', INFO: 'info'}[m.topic]
        by_stamp.setdefault(stamp, {})[key] = m.msg
    frames = [(s, f) for s, f in sorted(by_stamp.items()) if len(f) == 3]
    gts.sort(key=lambda g: g['stamp_ns'])
    return frames, gts


def stream_bag(node, executor_thread_alive, frames: list, rate_hz: float, timeout_s: float = 30.0) -> dict:
    """Publish frames at ``rate_hz`` and wait for their rewards; returns stamp -> publish time."""
    from .ros.replay import camera_info_msg, image_msg

    sent_at: dict[int, float] = {}
    period = 1.0 / rate_hz
    next_t = time.perf_counter()
    for stamp, f in frames:
        color, depth, info = image_msg(f['color']), image_msg(f['depth']), camera_info_msg(f['info'])
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        node.publish_frame(color, depth, info)
        sent_at[stamp] = time.perf_counter()
        next_t += period
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and executor_thread_alive():
        with node.collected.lock:
            if len(node.collected.rewards) >= len(frames):
                break
        time.sleep(0.05)
    return sent_at


def run_demo(
    name: str = 'demo',
    seed: int = 0,
    frames: int = 150,
    width: int = 640,
    height: int = 480,
    rate_hz: float = 30.0,
    out_root: Path = Path('runs'),
    bag: Path | None = None,
    task: str = 'pick_and_place',
    domain_id: int | None = None,
    connect_timeout_s: float = 60.0,
) -> dict:
    out = Path(out_root) / name
    out.mkdir(parents=True, exist_ok=True)
    if bag is None:
        bag = Path(out_root) / 'cache' / f'fetch_seed{seed}_{frames}f_{width}x{height}'
        if not bag.exists():
            from .sim import record_episode

            log.info('recording the simulated episode to %s', bag)
            bag.parent.mkdir(parents=True, exist_ok=True)
            record_episode(bag, seed=seed, frames=frames, width=width, height=height)
    frame_list, gts = _load_frames(Path(bag))
    if not frame_list:
        raise DemoError(f'bag {bag} has no complete colour/depth/camera_info frames')

    env = ros_environment(domain_id)
    os.environ.update({k: env[k] for k in ROS_ENV_KEYS})
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from .ros.replay import ReplayNode
    from .ros.reward_node import resolve_task_path

    task_spec = load_task(resolve_task_path(task))
    procs = start_nodes(env, out, task)
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
    latencies = [(col.received_at[s] - sent_at[s]) * 1e3 for s in sent_at if s in col.received_at]
    gt_docs = [{'stamp_ns': g['stamp_ns'], **{n: g.get(n) for n in task_spec.objects}} for g in gts]
    summary = {'name': name, 'bag': str(bag), 'task': task_spec.name, 'seed': seed, 'rate_hz': rate_hz}
    summary.update(score_run(task_spec, gt_docs, col.rewards, latencies))
    summary['frames_sent'] = len(sent_at)
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
