#!/usr/bin/env python3
"""Load benchmark of the live pipeline over DDS: 640x480 RGB-D at a fixed rate into
spatial_facts + reward (their own processes, default sensor QoS), end-to-end latency from the
frame's publish to its reward arriving, drops, and the nodes' CPU and memory over time.

    .venv/bin/python bench/ros_pipeline.py --rate 30 --seconds 20 --json
    .venv/bin/python bench/ros_pipeline.py --rate 30 --seconds 600 --json      # soak

Prints {"latency_ms": {"p50", "p99"}, "frames_sent", "frames_processed", "drops",
"rss_growth_pct", "cpu_pct", ...}, measured after a warm-up (--warmup-seconds, reported apart:
first DDS transfers and first calls). rss_growth_pct compares the nodes' resident memory at the
end with the level after the first 10 % of the run (imports, first allocations).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
from spatialvlm_ros.demo.processes import ROS_ENV_KEYS, ros_environment, start_nodes  # noqa: E402

W, H, F = 640, 480, 600.0
OBJECTS = [((255, 230, 0), 0.70), ((220, 20, 20), 0.80), ((20, 40, 230), 0.90)]  # gripper, block, target


def frame(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Three coloured squares in front of a grey wall; the first moves so every frame differs."""
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 1.5, np.float32)
    for k, (colour, z) in enumerate(OBJECTS):
        u = 120 + 180 * k + (int(40 * np.sin(i / 15)) if k == 0 else 0)
        v = 240
        rgb[v - 25 : v + 25, u - 25 : u + 25] = colour
        depth[v - 25 : v + 25, u - 25 : u + 25] = z
    return rgb, depth


def proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process, from /proc."""
    with open(f'/proc/{pid}/stat') as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    with open(f'/proc/{pid}/statm') as fh:
        rss = int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    return cpu, rss


def _windows(stamps, sent: dict, received: dict, t0: float, width_s: float) -> list:
    """[[window start s, p50, p99, max, drops], ...] of the measured frames by send time."""
    rows: dict[int, list] = {}
    for s in stamps:
        rows.setdefault(int((sent[s] - t0) // width_s), []).append(s)
    out = []
    for w in sorted(rows):
        lat = [(received[s] - sent[s]) * 1e3 for s in rows[w] if s in received]
        drops = len(rows[w]) - len(lat)
        if lat:
            out.append([round(w * width_s, 1), round(float(np.percentile(lat, 50)), 1),
                        round(float(np.percentile(lat, 99)), 1), round(max(lat), 1), drops])
        else:
            out.append([round(w * width_s, 1), None, None, None, drops])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rate', type=float, default=30.0)
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--depth-encoding', choices=['16UC1', '32FC1'], default='16UC1',
                    help='16UC1 millimetres (what RealSense/Azure Kinect drivers publish; default) or 32FC1 metres')
    ap.add_argument('--warmup-seconds', type=float, default=2.0,
                    help='frames sent in this first stretch are reported apart (first DDS transfers, first calls)')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()

    env = ros_environment()
    os.environ.update({k: env[k] for k in ROS_ENV_KEYS if k in env})
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String

    logs = Path(tempfile.mkdtemp(prefix='svlm_bench_'))
    procs = start_nodes(env, logs, extra_params={'qos_reliability': 'best_effort', 'qos_depth': 5})
    rclpy.init()
    node = Node('bench_publisher')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    pubs = {n: node.create_publisher(t, f'/camera/{n}', qos) for n, t in
            (('color/image_raw', Image), ('depth/image_raw', Image), ('color/camera_info', CameraInfo))}
    received: dict[int, float] = {}
    lock = threading.Lock()

    def on_detail(msg):
        t = time.perf_counter()
        stamp = json.loads(msg.data)['stamp_ns']
        with lock:
            received[stamp] = t

    node.create_subscription(String, '/reward/detail', on_detail, QoSProfile(depth=100,
                                                                              reliability=ReliabilityPolicy.RELIABLE))
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    threading.Thread(target=ex.spin, daemon=True).start()
    deadline = time.monotonic() + 60
    while not (all(p.get_subscription_count() for p in pubs.values()) and node.count_publishers('/reward/detail')):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            print('ERROR: nodes did not come up; logs in', logs, file=sys.stderr)
            return 1
        time.sleep(0.1)
    time.sleep(1.0)

    frames = [frame(i) for i in range(60)]  # pre-rendered, so the publisher's own cost stays small
    if args.depth_encoding == '16UC1':
        frames = [(rgb, np.round(d * 1000).astype(np.uint16)) for rgb, d in frames]
    k = np.array([F, 0, (W - 1) / 2, 0, F, (H - 1) / 2, 0, 0, 1.0])
    sent: dict[int, float] = {}
    samples = []  # (t, cpu_s, rss_bytes) summed over the nodes
    period = 1.0 / args.rate
    n_warmup = int(args.warmup_seconds * args.rate)
    n_frames = n_warmup + int(args.seconds * args.rate)
    warmup_stamps: set = set()
    t0 = time.perf_counter()
    next_sample = t0
    for i in range(n_frames):
        target = t0 + i * period
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        rgb, depth = frames[i % len(frames)]
        stamp = node.get_clock().now().nanoseconds
        sec, nsec = divmod(stamp, 1_000_000_000)
        msgs = {}
        for name, (arr, enc) in (('color/image_raw', (rgb, 'rgb8')), ('depth/image_raw', (depth, args.depth_encoding))):
            m = Image(encoding=enc)
            m.height, m.width, m.step, data, m.is_bigendian = encode_image(arr, enc)
            m.data = data.tobytes()
            msgs[name] = m
        info = CameraInfo(width=W, height=H, k=k.tolist())
        msgs['color/camera_info'] = info
        for m in msgs.values():
            m.header.stamp.sec, m.header.stamp.nanosec = sec, nsec
            m.header.frame_id = 'camera_color_optical_frame'
        pubs['color/camera_info'].publish(info)
        pubs['depth/image_raw'].publish(msgs['depth/image_raw'])
        sent[stamp] = time.perf_counter()
        if i < n_warmup:
            warmup_stamps.add(stamp)
        pubs['color/image_raw'].publish(msgs['color/image_raw'])
        if time.perf_counter() >= next_sample:
            stats = [proc_stats(p.pid) for p in procs]
            samples.append((time.perf_counter() - t0, sum(s[0] for s in stats), sum(s[1] for s in stats)))
            next_sample += max(args.seconds / 50, 0.5)
    time.sleep(1.0)
    stats = [proc_stats(p.pid) for p in procs]
    samples.append((time.perf_counter() - t0, sum(s[0] for s in stats), sum(s[1] for s in stats)))
    for p in procs:
        p.terminate()
        p.wait(timeout=10)
    ex.shutdown()
    rclpy.try_shutdown()

    with lock:
        measured = [s for s in sent if s not in warmup_stamps]
        lat = np.array([(received[s] - sent[s]) * 1e3 for s in measured if s in received])
        warm_lat = [(received[s] - sent[s]) * 1e3 for s in warmup_stamps if s in received]
    sent_measured = len(measured)
    warm = [s for s in samples if s[0] >= 0.1 * args.seconds] or samples
    wall = samples[-1][0] - warm[0][0]
    result = {
        'rate_hz': args.rate,
        'seconds': args.seconds,
        'image': f'{W}x{H}',
        'objects': len(OBJECTS),
        'latency_ms': {
            'p50': round(float(np.percentile(lat, 50)), 2) if lat.size else None,
            'p99': round(float(np.percentile(lat, 99)), 2) if lat.size else None,
            'max': round(float(lat.max()), 2) if lat.size else None,
        },
        'depth_encoding': args.depth_encoding,
        'frames_sent': sent_measured,
        'frames_processed': int(lat.size),
        'drops': sent_measured - int(lat.size),
        'warmup': {'frames_sent': len(warmup_stamps), 'frames_processed': len(warm_lat),
                   'latency_ms_max': round(max(warm_lat), 1) if warm_lat else None},
        'rss_mb': {'after_warmup': round(warm[0][2] / 2**20, 1), 'end': round(samples[-1][2] / 2**20, 1)},
        'rss_growth_pct': round(100.0 * (samples[-1][2] - warm[0][2]) / warm[0][2], 2),
        'cpu_pct': round(100.0 * (samples[-1][1] - warm[0][1]) / wall, 1) if wall > 0 else None,
        'rss_mb_over_time': [[round(t, 1), round(r / 2**20, 1)] for t, _, r in samples],
        # Where the slow frames and the drops are: per window of the run, p50/p99/max and drops,
        # to tell a steady cost from a stall (another process taking the cores, a GC pause).
        'latency_ms_over_time': _windows(measured, sent, received, t0, max(args.seconds / 20, 1.0)),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key in ('latency_ms', 'frames_sent', 'frames_processed', 'drops', 'rss_growth_pct', 'cpu_pct'):
            print(f'{key:>18}: {result[key]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
