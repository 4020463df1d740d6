"""Compressed image transports: what decoding costs, and what labelling from them changes.

    .venv/bin/python bench/transports.py [--frames 100] [--decode-frames 50] [--json-out bench/results/transports.json]

(a) Decoding cost of one 640x480 frame on one core (``os.sched_setaffinity`` to one CPU, OpenCV at one
    thread), median over ``--decode-frames`` frames of the sim episode, for every transport a robot
    records: ``compressed`` JPEG q90 and PNG colour, ``compressedDepth`` PNG 16UC1 and 32FC1, RVL 16UC1
    and 32FC1 (messages built as image_transport_plugins builds them). Goal: colour + depth <= 4 ms.
(b) The sim episode recorded raw (16UC1 depth, and again 32FC1), re-encoded into a twin bag whose
    camera topics are ``/camera/color/image_raw/compressed`` (JPEG quality 90) and
    ``/camera/depth/image_raw/compressedDepth`` (PNG), both labelled by ``spatialvlm label`` with the
    demo's kinematic gripper; per frame the reward and distance differences compressed - raw.
    A PNG-colour twin separates the JPEG's share from the depth transport's.

Prints one JSON document (and writes it to ``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402
from spatialvlm_ros.messages.compressed import decode_compressed  # noqa: E402
from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402

COLOR, DEPTH = '/camera/color/image_raw', '/camera/depth/image_raw'
GOAL_MS = 4.0


# -- encoders, as image_transport_plugins writes the messages ------------------------------------


def rvl_encode(pixels: np.ndarray) -> bytes:
    """rvl_codec.cpp CompressRVL, vectorised: runs of (zeros, nonzeros, zigzag deltas), 3-bit VLE nibbles
    (0x8 = more follow), eight nibbles to a 32-bit word, most significant first."""
    p = pixels.reshape(-1).astype(np.int64)
    n = p.size
    nz = p != 0
    # a run starts at 0 and wherever a zero follows a nonzero
    starts = np.flatnonzero(np.r_[True, (~nz[1:]) & nz[:-1]])
    ends = np.r_[starts[1:], n]
    first_nz = np.minimum.reduceat(np.where(nz, np.arange(n), n), starts)
    first_nz = np.minimum(first_nz, ends)
    zeros, nonzeros = first_nz - starts, ends - first_nz
    vals_nz = p[nz]
    delta = np.diff(np.r_[0, vals_nz])
    positive = (delta << 1) ^ (delta >> 63)
    runs = starts.size
    total = 2 * runs + vals_nz.size
    vals = np.empty(total, np.int64)
    head = 2 * np.arange(runs) + np.r_[0, np.cumsum(nonzeros)[:-1]]
    vals[head], vals[head + 1] = zeros, nonzeros
    body = np.ones(total, bool)
    body[head] = body[head + 1] = False
    vals[body] = positive
    bits = np.maximum(1, np.floor(np.log2(np.maximum(vals, 1))).astype(np.int64) + 1)
    lens = -(-bits // 3)
    idx = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    rep = np.repeat(vals, lens)
    nib = (rep >> (3 * idx)) & 7
    nib |= np.where(idx < np.repeat(lens, lens) - 1, 8, 0)
    nib = np.r_[nib, np.zeros(-nib.size % 8, np.int64)].reshape(-1, 8).astype(np.uint32)
    words = np.zeros(nib.shape[0], np.uint32)
    for k in range(8):
        words |= nib[:, k] << np.uint32(28 - 4 * k)
    return words.astype('<u4').tobytes()


def jpeg_colour(rgb: np.ndarray, encoding: str = 'rgb8', quality: int = 90):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if encoding == 'rgb8' else rgb
    return f'{encoding}; jpeg compressed bgr8', cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def png_colour(rgb: np.ndarray, encoding: str = 'rgb8'):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if encoding == 'rgb8' else rgb
    return f'{encoding}; png compressed bgr8', cv2.imencode('.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])[1].tobytes()


def compressed_depth(depth: np.ndarray, encoding: str, codec: str = 'png', depth_max: float = 10.0,
                     depth_quantization: float = 100.0):
    """codec.cpp encodeCompressedDepthImage (defaults of compressed_depth_publisher.cpp)."""
    a = b = np.float32(0)
    if encoding == '32FC1':
        z0 = np.float32(depth_quantization)
        a = np.float32(z0 * (z0 + np.float32(1)))
        b = np.float32(np.float32(1) - a / np.float32(depth_max))
        d = depth.astype(np.float32)
        with np.errstate(divide='ignore', invalid='ignore'):
            x = a / d + b
            keep = (d < np.float32(depth_max)) & np.isfinite(x) & (x < 65536)
        img = np.where(keep, np.trunc(np.where(keep, x, 0)), 0).astype(np.uint16)
    else:
        img = depth.copy()
        img[img > np.uint16(depth_max * 1000)] = 0
    if codec == 'png':
        payload = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, 3])[1].tobytes()
    else:
        payload = struct.pack('<II', img.shape[1], img.shape[0]) + rvl_encode(img)
    return f'{encoding}; compressedDepth {codec}', struct.pack('<iff', 0, a, b) + payload


# -- bags ---------------------------------------------------------------------------------------


def camera_frames(bag: Path, limit: int) -> list:
    """The first ``limit`` (colour Image, depth Image) messages of a sim bag."""
    from rosbags.rosbag2 import Reader

    ts = typestore_for()
    out: dict = {COLOR: [], DEPTH: []}
    with Reader(bag) as r:
        conns = [c for c in r.connections if c.topic in out]
        for c, _, raw in r.messages(connections=conns):
            if len(out[c.topic]) < limit:
                out[c.topic].append(ts.deserialize_cdr(raw, c.msgtype))
    return list(zip(out[COLOR], out[DEPTH]))


def twin_bag(src: Path, dst: Path, colour_codec: str = 'jpeg', depth_codec: str = 'png') -> dict:
    """A copy of ``src`` with its camera images as image_transport's compressed topics."""
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    ts = typestore_for()
    t = ts.types
    sizes = {COLOR: [0, 0], DEPTH: [0, 0]}
    with Reader(src) as r, Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for c in r.connections:
            topic, mtype = c.topic, c.msgtype
            if topic == COLOR:
                topic, mtype = COLOR + '/compressed', 'sensor_msgs/msg/CompressedImage'
            elif topic == DEPTH:
                topic, mtype = DEPTH + '/compressedDepth', 'sensor_msgs/msg/CompressedImage'
            conns[c.id] = w.add_connection(topic, mtype, typestore=ts)
        for c, stamp, raw in r.messages():
            if c.topic in (COLOR, DEPTH):
                msg = ts.deserialize_cdr(raw, c.msgtype)
                img = image_from_msg(msg)
                if c.topic == COLOR:
                    fmt, data = (jpeg_colour if colour_codec == 'jpeg' else png_colour)(img, msg.encoding)
                else:
                    fmt, data = compressed_depth(img, msg.encoding, depth_codec)
                sizes[c.topic][0] += len(raw)
                sizes[c.topic][1] += len(data)
                raw = ts.serialize_cdr(t['sensor_msgs/msg/CompressedImage'](
                    header=msg.header, format=fmt, data=np.frombuffer(data, np.uint8)), 'sensor_msgs/msg/CompressedImage')
            w.write(conns[c.id], stamp, raw)
    return {('colour' if k == COLOR else 'depth') + '_compression_ratio': round(v[0] / max(v[1], 1), 2)
            for k, v in sizes.items()}


def label(bag: Path, out: Path) -> dict:
    """stamp -> row of ``spatialvlm label`` with the demo's kinematic gripper (bench/label_vs_live.py)."""
    import pyarrow.parquet as pq

    from spatialvlm_ros.demo.processes import EE
    from spatialvlm_ros.demo.run import kinematic_gripper_params
    from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task
    from spatialvlm_ros.offline.config import default_params
    from spatialvlm_ros.sim.record import read_ground_truth

    params = default_params()
    params.update(kinematic_gripper_params(read_ground_truth(bag)[0]))
    config = LabelConfig(task=resolve_task(None)[1], params=params, kinematic=(('gripper', EE),))
    label_bags([bag], out, config, RunOptions(workers=1, progress=False))
    return {r['stamp_ns']: r for r in pq.read_table(out / bag.name / 'frames.parquet').to_pylist()}


def compare(raw: dict, comp: dict) -> dict:
    rewards, dists, other = [], [], []
    for stamp, a in raw.items():
        b = comp.get(stamp)
        if b is None or (a['valid'], a['stage'], a['success']) != (b['valid'], b['stage'], b['success']):
            other.append(stamp)
            continue
        if a['reward'] is not None and b['reward'] is not None:
            rewards.append(abs(a['reward'] - b['reward']))
        for k, d in a['distances'].items():
            if d is not None and b['distances'].get(k) is not None:
                dists.append(abs(b['distances'][k] - d) * 1000)

    def stats(v, nd):
        return {'max': round(max(v), nd), 'median': round(statistics.median(v), nd)} if v else None

    return {'frames': len(raw), 'frames_with_reward': len(rewards), 'abs_reward_diff': stats(rewards, 6),
            'abs_distance_diff_mm': stats(dists, 4), 'frames_with_other_valid_stage_success_or_missing': other,
            'within_1mm': bool(dists) and max(dists) <= 1.0}


# -- decoding cost ------------------------------------------------------------------------------


def decode_cost(frames16: list, frames32: list, repeats: int = 1) -> dict:
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        cases = {
            'colour_jpeg_q90': [jpeg_colour(image_from_msg(c), c.encoding) for c, _ in frames16],
            'colour_png': [png_colour(image_from_msg(c), c.encoding) for c, _ in frames16],
            'depth_png_16UC1': [compressed_depth(image_from_msg(d), '16UC1', 'png') for _, d in frames16],
            'depth_png_32FC1': [compressed_depth(image_from_msg(d), '32FC1', 'png') for _, d in frames32],
            'depth_rvl_16UC1': [compressed_depth(image_from_msg(d), '16UC1', 'rvl') for _, d in frames16],
            'depth_rvl_32FC1': [compressed_depth(image_from_msg(d), '32FC1', 'rvl') for _, d in frames32],
        }
        # the vectorised RVL encoder is checked against the decoder before anything is timed
        for (_, d), (fmt, data) in zip(frames16, cases['depth_rvl_16UC1']):
            want = image_from_msg(d).copy()
            want[want > 10000] = 0
            assert np.array_equal(decode_compressed(fmt, data)[0], want), 'RVL round trip'
        out = {}
        for name, msgs in cases.items():
            times = []
            for fmt, data in msgs:
                decode_compressed(fmt, data)  # warm
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    decode_compressed(fmt, data)
                    times.append((time.perf_counter() - t0) * 1000)
            out[name] = {'median_ms': round(statistics.median(times), 3), 'p90_ms': round(float(np.percentile(times, 90)), 3),
                         'bytes': int(statistics.median(len(d) for _, d in msgs))}
        raw_times = []
        for c, d in frames16:
            t0 = time.perf_counter()
            image_from_msg(c).copy(), image_from_msg(d).copy()
            raw_times.append((time.perf_counter() - t0) * 1000)
        out['raw_colour_plus_depth_copy'] = {'median_ms': round(statistics.median(raw_times), 3)}
        pairs = {}
        for col in ('colour_jpeg_q90', 'colour_png'):
            for dep in ('depth_png_16UC1', 'depth_png_32FC1', 'depth_rvl_16UC1', 'depth_rvl_32FC1'):
                ms = out[col]['median_ms'] + out[dep]['median_ms']
                pairs[f'{col} + {dep}'] = {'ms': round(ms, 3), 'ratio_to_goal': round(ms / GOAL_MS, 2)}
        return {'cpu': cpu, 'frame': f'{image_from_msg(frames16[0][0]).shape[1]}x{image_from_msg(frames16[0][0]).shape[0]}',
                'frames': len(frames16), 'per_transport': out, 'goal_ms_colour_plus_depth': GOAL_MS,
                'colour_plus_depth': pairs}
    finally:
        cv2.setNumThreads(threads)
        os.sched_setaffinity(0, before)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--frames', type=int, default=100)
    ap.add_argument('--decode-frames', type=int, default=50)
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--json-out', default=str(ROOT / 'bench' / 'results' / 'transports.json'))
    ap.add_argument('--skip-label', action='store_true', help='decoding cost only')
    args = ap.parse_args()
    from spatialvlm_ros.sim import record_episode

    work = Path(tempfile.mkdtemp(prefix='bench_transports_'))
    try:
        bags = {enc: record_episode(work / f'raw_{enc}', seed=args.seed, frames=args.frames, width=args.width,
                                    height=args.height, depth_encoding=enc, progress=False)
                for enc in ('16UC1', '32FC1')}
        result = {'bag': f'sim seed {args.seed}, {args.frames} frames, {args.width}x{args.height}',
                  'decode': decode_cost(camera_frames(bags['16UC1'], args.decode_frames),
                                        camera_frames(bags['32FC1'], args.decode_frames))}
        if not args.skip_label:
            labelled = {}
            for name, enc, colour in (('16UC1', '16UC1', 'jpeg'), ('16UC1_png_colour', '16UC1', 'png'),
                                      ('32FC1', '32FC1', 'jpeg')):
                twin = work / f'compressed_{name}'
                ratios = twin_bag(bags[enc], twin, colour_codec=colour)
                raw_rows = labelled.get(enc) or label(bags[enc], work / f'out_raw_{enc}')
                labelled[enc] = raw_rows
                comp_rows = label(twin, work / f'out_{name}')
                result[f'label_{name}'] = {
                    'transports': f'colour {"JPEG q90" if colour == "jpeg" else "PNG"} (compressed), depth {enc} '
                                  'PNG (compressedDepth)', **ratios, **compare(raw_rows, comp_rows)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
