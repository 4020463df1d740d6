"""Hand-built camera bags (rosbags, no ROS install) for the offline tests: ``write_camera_bag`` (colour with a red
square, flat depth at 1 m, camera_info), ``copy_with_repeats``, ``bag_messages`` and ``output_tree``; ``write_blob_bag``
(big payloads in many MCAP chunks, log times out of order and repeated) with ``blob_items``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spatialvlm_ros.core.types import ns_to_stamp
from spatialvlm_ros.messages.bag import typestore_for
from spatialvlm_ros.messages.image_codec import encode_image

COLOR, DEPTH, INFO = '/camera/color/image_raw', '/camera/depth/image_raw', '/camera/color/camera_info'
IMAGE, CAMERA_INFO = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo'
TYPES = {COLOR: IMAGE, DEPTH: IMAGE, INFO: CAMERA_INFO}
FIRST_STAMP, PERIOD = 1_000_000_000, 33_333_333


def header(ts, stamp: int, frame_id: str = 'cam'):
    t = ts.types
    sec, nsec = ns_to_stamp(stamp)
    return t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nsec), frame_id=frame_id)


def image_msg(ts, array: np.ndarray, encoding: str, stamp: int, frame_id: str = 'cam', truncate: bool = False):
    h, w, step, data, big = encode_image(array, encoding)
    if truncate:
        data = data[: len(data) // 2]
    return ts.types[IMAGE](header=header(ts, stamp, frame_id), height=h, width=w, encoding=encoding,
                           is_bigendian=big, step=step, data=data)


def info_msg(ts, stamp: int, k=(60.0, 0, 31.5, 0, 60.0, 23.5, 0, 0, 1), width: int = 64, height: int = 48,
             frame_id: str = 'cam'):
    t = ts.types
    return t[CAMERA_INFO](
        header=header(ts, stamp, frame_id), height=height, width=width, distortion_model='plumb_bob', d=np.zeros(5),
        k=np.array(k, dtype=np.float64), r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
        roi=t['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def camera_images():
    """(rgb 48x64 with a red square at rows/cols 20:30, depth 1 m everywhere)."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[20:30, 20:30] = (220, 20, 20)
    return rgb, np.full((48, 64), 1.0, np.float32)


def write_camera_bag(path: Path, frames: int = 3, topics=(COLOR, DEPTH, INFO), storage='sqlite3', truncate_color=(),
                     corrupt_depth=(), depth_encoding: str = '32FC1') -> Path:
    """A hand-built camera bag: colour with a red square, flat depth at 1 m, camera_info; the colour messages of
    the frames in ``truncate_color`` cut to half their data, the depth messages in ``corrupt_depth`` unreadable."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts = typestore_for()
    plugin = StoragePlugin.SQLITE3 if storage == 'sqlite3' else StoragePlugin.MCAP
    rgb, depth = camera_images()
    if depth_encoding == '16UC1':
        depth = (depth * 1000).astype(np.uint16)
    with Writer(path, version=9, storage_plugin=plugin) as w:
        conns = {tp: w.add_connection(tp, TYPES[tp], typestore=ts) for tp in topics}
        for i in range(frames):
            stamp = FIRST_STAMP + i * PERIOD
            color = image_msg(ts, rgb, 'rgb8', stamp, truncate=i in truncate_color)
            msgs = {COLOR: color, DEPTH: image_msg(ts, depth, depth_encoding, stamp), INFO: info_msg(ts, stamp)}
            for tp in topics:
                raw = ts.serialize_cdr(msgs[tp], TYPES[tp])
                if tp == DEPTH and i in corrupt_depth:
                    raw = raw[:40]  # cut in the middle of the message: not deserializable
                w.write(conns[tp], stamp, raw)
    return path


def write_bag(path: Path, streams: dict, storage='mcap') -> Path:
    """A bag of ``{topic: (msgtype, [(log time ns, message), ...])}``."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts = typestore_for()
    plugin = StoragePlugin.SQLITE3 if storage == 'sqlite3' else StoragePlugin.MCAP
    with Writer(path, version=9, storage_plugin=plugin) as w:
        conns = {tp: w.add_connection(tp, mt, typestore=ts) for tp, (mt, _) in streams.items()}
        items = [(t, tp, m) for tp, (_, msgs) in streams.items() for t, m in msgs]
        for t, tp, m in sorted(items, key=lambda x: x[0]):
            w.write(conns[tp], t, ts.serialize_cdr(m, streams[tp][0]))
    return path


def copy_with_repeats(src: Path, dst: Path, storage: str) -> Path:
    """``src`` copied into a new bag of ``storage``, every camera_info written twice."""
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    ts = typestore_for()
    plugin = StoragePlugin.SQLITE3 if storage == 'sqlite3' else StoragePlugin.MCAP
    with Reader(src) as r, Writer(dst, version=9, storage_plugin=plugin) as w:
        conns = {c.id: w.add_connection(c.topic, c.msgtype, typestore=ts) for c in r.connections}
        for c, t, raw in r.messages():
            w.write(conns[c.id], t, raw)
            if c.topic == INFO:
                w.write(conns[c.id], t, raw)
    return dst


def bag_messages(bag: Path) -> list:
    """[(topic, log time, bytes), ...] in bag order."""
    from rosbags.rosbag2 import Reader

    with Reader(bag) as r:
        return [(c.topic, t, bytes(raw)) for c, t, raw in r.messages()]


def output_tree(root: Path) -> dict:
    """relative path -> bytes of every file (summary.json: without the timings)."""
    out = {}
    for p in sorted(root.rglob('*')):
        if p.is_file():
            data = p.read_bytes()
            if p.name == 'summary.json':
                doc = json.loads(data)
                doc.pop('throughput', None)
                doc.pop('output', None)
                data = json.dumps(doc, sort_keys=True).encode()
            out[str(p.relative_to(root))] = data
    return out


BLOB = 'sensor_msgs/msg/Image'  # big payloads: several MCAP chunks (rosbags closes one past 1 MiB)
SMALL = 'std_msgs/msg/String'


def write_blob_bag(path, compress: bool, items, storage='mcap'):
    """A bag of ``items`` [(topic, log time, payload size), ...] written in the order given (log times
    out of order and repeated across chunks on purpose)."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    ts = typestore_for()
    t = ts.types
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    w = Writer(path, version=9, storage_plugin=plugin)
    if compress:
        w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    w.open()
    conns = {}
    for k, (topic, stamp, size) in enumerate(items):
        if topic not in conns:
            conns[topic] = w.add_connection(topic, BLOB if topic.startswith('/img') else SMALL, typestore=ts)
        if topic.startswith('/img'):
            header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=0, nanosec=k), frame_id='c')
            msg = t[BLOB](header=header, height=1, width=size, encoding='mono8', is_bigendian=0, step=size,
                          data=np.full(size, k % 251, np.uint8))
            raw = ts.serialize_cdr(msg, BLOB)
        else:
            raw = ts.serialize_cdr(t[SMALL](data=f'message {k}'), SMALL)
        w.write(conns[topic], stamp, raw)
    w.close()
    return path


def blob_items(seed: int) -> list:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(60):
        stamp = 1000 + i * 10 + int(rng.integers(-25, 25))  # out of order within and across chunks
        items.append(('/img_a', stamp, int(rng.integers(50_000, 300_000))))
        items.append(('/text', stamp, 0))  # the same log time on another connection
        if i % 7 == 0:
            items.append(('/img_b', stamp, 1000))
            items.append(('/img_b', stamp, 2000))  # the same log time twice on one connection
    return items
