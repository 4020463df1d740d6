"""Fuzz over DDS: thousands of malformed messages interleaved with good frames. The node never
dies, every good frame is still processed, and every malformed kind shows up in /diagnostics."""

import random
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from support.ros_msgs import CX, CY, F, image, info, scene  # noqa: E402

GOOD_FRAMES = 40
BAD_PER_GAP = 25  # 40 gaps x 25 triples x 3 messages = 3000 malformed messages
PERIOD = 100_000_000  # good frames every 100 ms of header time; bad ones between, > slop away


def _stamp(msg, ns):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
    return msg


def bad_triple(rng, rgb, depth, ns):
    """One malformed frame of a random kind; returns (kind, color, depth, info)."""
    kind = rng.choice(['encoding', 'size', 'nan_inf', 'truncated', 'intrinsics', 'out_of_order', 'garbage'])
    c, d, i = image(rgb, 'rgb8', ns), image(depth, '32FC1', ns), info(ns)
    if kind == 'encoding':
        c.encoding = rng.choice(['yuv422', '', 'rgb16', 'bayer_rggb8', 'x' * 300])
    elif kind == 'size':
        d.width, d.height, d.step = rng.randint(1, 400), rng.randint(1, 400), rng.randint(1, 2000)
    elif kind == 'nan_inf':
        bad = np.where(np.random.default_rng(rng.randint(0, 1 << 30)).random(depth.shape) < 0.5, np.nan, np.inf)
        d = image(bad.astype(np.float32), '32FC1', ns)
    elif kind == 'truncated':
        m = rng.choice([c, d])
        m.data = bytes(m.data)[: rng.randint(0, len(m.data) - 1)]
    elif kind == 'intrinsics':
        i = info(ns, k=rng.choice([[0.0] * 9, [F, 0, CX, 0, F, CY, 0, 0, 0.0], [1e9, 0, CX, 0, 1e9, CY, 0, 0, 1],
                                   [float('nan')] * 9, [F, 0, -500, 0, F, 9e6, 0, 0, 1]]))
    elif kind == 'out_of_order':
        old = ns - 10 * PERIOD  # older than frames already processed
        c, d, i = _stamp(c, old), _stamp(d, old), _stamp(i, old)
    elif kind == 'garbage':
        c.width, c.height, c.step = 0, 0, 0
        c.data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    return kind, c, d, i


def test_fuzzed_inputs_never_kill_the_node_and_no_good_frame_is_lost(node_processes, ros_harness):
    procs = node_processes
    procs.start_pair(extra_params={'qos_depth': 1000, 'center_mode': 'centroid', 'object_center_modes': ['gripper=centroid'],
                                   'min_pixels': 20, 'min_points': 10})
    fz = ros_harness('fuzzer')
    fz.camera(qos='reliable', queue=1000)
    rewards = fz.subscribe('/reward/detail', depth=1000)
    fz.collect_diagnostics()
    fz.start()
    fz.wait_connected(procs, publishers=['color', 'depth', 'info'], topics=['/reward/detail'])
    rng = random.Random(1234)
    rgb, depth = scene()
    base = 1_700_001_000_000_000_000
    warm = fz.warm_up(lambda s: fz.send_frame(image(rgb, 'rgb8', s), image(depth, '32FC1', s), info(s)), rewards,
                      base - 10**9)
    assert max(warm) < base  # every warm-up frame is older than the fuzzed stream
    good = []
    kinds_sent = set()
    for g in range(GOOD_FRAMES):
        ns = base + g * PERIOD
        fz.send_frame(image(rgb, 'rgb8', ns), image(depth, '32FC1', ns), info(ns))
        good.append(ns)
        for b in range(BAD_PER_GAP):
            bad_ns = ns + 30_000_000 + b * 1_000_000  # 30..54 ms after the good frame: never paired with it
            kind, c, d, i = bad_triple(rng, rgb, depth, bad_ns)
            kinds_sent.add(kind)
            fz.send_frame(c, d, i)
        time.sleep(0.02)
    fz.wait_until(lambda: all(s in rewards for s in good), timeout=60)
    procs.assert_alive('a node died under fuzzing')
    with fz.lock:
        lost = [s for s in good if s not in rewards]
        assert not lost, f'{len(lost)} good frames lost'
        assert all(rewards[s]['valid'] for s in good)
    time.sleep(1.5)  # one more diagnostics period
    with fz.lock:
        d = dict(fz.diag['spatial_facts'])
    for key in ('rejected_encoding', 'rejected_size', 'rejected_no_valid_depth', 'rejected_truncated',
                'rejected_intrinsics', 'sync_out_of_order'):
        assert int(d.get(key, 0)) > 0, (key, d)
    assert int(d['processed']) >= GOOD_FRAMES
