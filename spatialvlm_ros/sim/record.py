"""Record a scripted Fetch pick-and-place episode as a rosbag2 (MCAP storage).

Topics (header.stamp = the frame stamp everywhere, bag log time = the same stamp):

- ``/camera/color/image_raw`` sensor_msgs/msg/Image, rgb8
- ``/camera/depth/image_raw`` sensor_msgs/msg/Image, 32FC1 metres (NaN = no return) or
  16UC1 millimetres (0 = no return); registered to colour (same camera, same size)
- ``/camera/color/camera_info`` sensor_msgs/msg/CameraInfo (plumb_bob, zero distortion)
- ``/robot/ee_position`` geometry_msgs/msg/PointStamped in ``world``
- ``/sim/ground_truth`` std_msgs/msg/String, JSON of :meth:`SimFrame.ground_truth`

Written with ``rosbags`` (no ROS install needed); ``ros2 bag play`` reads the result.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..messages.image_codec import encode_image
from ..core.types import ns_to_stamp
from .noise import apply_depth_noise
from .policy import iter_episode
from .scene import FRAME_ID, SimFrame
from .errors import SimError

__all__ = [
    'DEPTH_ENCODINGS',
    'GROUND_TRUTH_TOPIC',
    'TOPICS',
    'WORLD_FRAME_ID',
    'depth_to_16uc1',
    'read_ground_truth',
    'record_episode',
]

logger = logging.getLogger(__name__)

DEPTH_ENCODINGS = ('32FC1', '16UC1')
WORLD_FRAME_ID = 'world'
TOPICS: dict[str, str] = {
    '/camera/color/image_raw': 'sensor_msgs/msg/Image',
    '/camera/depth/image_raw': 'sensor_msgs/msg/Image',
    '/camera/color/camera_info': 'sensor_msgs/msg/CameraInfo',
    '/robot/ee_position': 'geometry_msgs/msg/PointStamped',
    '/sim/ground_truth': 'std_msgs/msg/String',
}
GROUND_TRUTH_TOPIC = '/sim/ground_truth'
# rosbag2 metadata version 9 is what Jazzy writes.
_BAG_VERSION = 9
_ROSBAGS_HINT = 'rosbags is needed to write and read bags without ROS: pip install rosbags'


def _import_rosbags() -> tuple[Any, Any, Any, Any, Any]:
    try:
        from rosbags.rosbag2 import CompressionFormat, CompressionMode, Reader, StoragePlugin, Writer
    except ImportError as exc:
        raise ImportError(f'{_ROSBAGS_HINT} ({exc})') from exc
    return Writer, Reader, StoragePlugin, CompressionMode, CompressionFormat


def _typestore() -> Any:
    from ..messages.bag import typestore_for

    return typestore_for()


def depth_to_16uc1(depth_m: np.ndarray) -> np.ndarray:
    """HxW float32 metres (NaN = invalid) -> HxW uint16 millimetres (0 = invalid, REP 118).

    Depths beyond 65.535 m do not fit and become 0 (invalid) rather than wrapping.
    """
    mm = np.rint(np.asarray(depth_m, dtype=np.float64) * 1000.0)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(mm) & (mm > 0) & (mm <= np.iinfo(np.uint16).max)
    out = np.zeros(mm.shape, dtype=np.uint16)
    out[valid] = mm[valid].astype(np.uint16)
    return out


class _MessageFactory:
    """Builds the rosbags message objects of one frame."""

    def __init__(self, typestore: Any, depth_encoding: str) -> None:
        t = typestore.types
        self._ts = typestore
        self._Header = t['std_msgs/msg/Header']
        self._Time = t['builtin_interfaces/msg/Time']
        self._Image = t['sensor_msgs/msg/Image']
        self._CameraInfo = t['sensor_msgs/msg/CameraInfo']
        self._Roi = t['sensor_msgs/msg/RegionOfInterest']
        self._PointStamped = t['geometry_msgs/msg/PointStamped']
        self._Point = t['geometry_msgs/msg/Point']
        self._String = t['std_msgs/msg/String']
        self.depth_encoding = depth_encoding

    def _header(self, stamp_ns: int, frame_id: str) -> Any:
        sec, nanosec = ns_to_stamp(stamp_ns)
        return self._Header(stamp=self._Time(sec=sec, nanosec=nanosec), frame_id=frame_id)

    def _image(self, array: np.ndarray, encoding: str, stamp_ns: int) -> Any:
        height, width, step, data, big = encode_image(array, encoding)
        return self._Image(
            header=self._header(stamp_ns, FRAME_ID),
            height=height, width=width, encoding=encoding, is_bigendian=big, step=step, data=data,
        )

    def messages(self, frame: SimFrame) -> dict[str, Any]:
        """topic -> message for ``frame``."""
        stamp = frame.stamp_ns
        intr = frame.intrinsics
        if self.depth_encoding == '16UC1':
            depth = depth_to_16uc1(frame.depth)
        else:
            depth = np.ascontiguousarray(frame.depth, dtype=np.float32)
        k = intr.as_matrix()
        p = np.zeros((3, 4))
        p[:, :3] = k
        info = self._CameraInfo(
            header=self._header(stamp, FRAME_ID),
            height=intr.height,
            width=intr.width,
            distortion_model='plumb_bob',
            d=np.zeros(5, dtype=np.float64),
            k=k.reshape(-1),
            r=np.eye(3).reshape(-1),
            p=p.reshape(-1),
            binning_x=0,
            binning_y=0,
            roi=self._Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )
        ee = frame.ee_world
        return {
            '/camera/color/image_raw': self._image(frame.rgb, 'rgb8', stamp),
            '/camera/depth/image_raw': self._image(depth, self.depth_encoding, stamp),
            '/camera/color/camera_info': info,
            '/robot/ee_position': self._PointStamped(
                header=self._header(stamp, WORLD_FRAME_ID),
                point=self._Point(x=float(ee[0]), y=float(ee[1]), z=float(ee[2])),
            ),
            GROUND_TRUTH_TOPIC: self._String(data=json.dumps(frame.ground_truth())),
        }


def _validate(frames: int, width: int, height: int, depth_encoding: str) -> None:
    if int(frames) != frames or frames < 1:
        raise SimError(f'expected frames >= 1 (an integer), got {frames!r}')
    if int(width) <= 0 or int(height) <= 0:
        raise SimError(f'expected a positive image size, got {width}x{height}')
    if depth_encoding not in DEPTH_ENCODINGS:
        raise SimError(
            f'expected depth_encoding in {DEPTH_ENCODINGS} (32FC1 metres or 16UC1 millimetres), got {depth_encoding!r}'
        )


def record_episode(
    out: Path,
    seed: int = 0,
    frames: int = 150,
    width: int = 640,
    height: int = 480,
    depth_encoding: str = '32FC1',
    *,
    compress: bool = True,
    progress: bool | None = None,
    noise=None,
) -> Path:
    """Run the scripted episode for ``seed`` and write it as a rosbag2 directory ``out``.

    compress: zstd-compress MCAP chunks (about 5x smaller; ``ros2 bag`` reads it natively).
    progress: show a tqdm bar on stderr; default: when ``frames > 1``.
    noise: a :class:`~spatialvlm_ros.sim.noise.DepthNoise` applied to every depth image
        (deterministic per frame; the ground truth stays exact), or None for perfect depth.

    The bag is written to ``<out>.partial/`` and moved to ``out`` only when complete, so
    an interrupted run never leaves something that looks like a finished bag.
    Returns ``out``. Raises FileExistsError if ``out`` exists (it is never overwritten).
    """
    _validate(frames, width, height, depth_encoding)
    out = Path(out)
    if out.exists():
        raise FileExistsError(
            f'{out} already exists and is not overwritten; pass another --out or delete it first'
        )
    Writer, _, StoragePlugin, CompressionMode, CompressionFormat = _import_rosbags()
    typestore = _typestore()
    factory = _MessageFactory(typestore, depth_encoding)

    staging = out.parent / f'{out.name}.partial'
    if staging.exists():
        # Left over from an interrupted run of ours: nothing in it is worth keeping.
        logger.warning('removing stale %s from an interrupted recording', staging)
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    # The bag directory inside the staging dir already has its final name, so the .mcap
    # file and metadata.yaml are named for ``out`` and the final rename is a plain move.
    bag_tmp = staging / out.name
    show = frames > 1 if progress is None else bool(progress)
    try:
        writer = Writer(bag_tmp, version=_BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if compress:
            writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        writer.open()
        try:
            conns = {topic: writer.add_connection(topic, mtype, typestore=typestore) for topic, mtype in TOPICS.items()}
            episode = iter_episode(seed, frames, width, height, segmentation=False)
            frames_iter: Iterator[SimFrame] = episode
            if show:
                from tqdm import tqdm

                frames_iter = tqdm(episode, total=frames, desc=f'recording {out.name}', unit='frame', file=sys.stderr)
            try:
                for frame in frames_iter:
                    if noise is not None:
                        frame = dataclasses.replace(frame, depth=apply_depth_noise(frame.depth, noise, frame.index))
                    for topic, msg in factory.messages(frame).items():
                        raw = typestore.serialize_cdr(msg, TOPICS[topic])
                        writer.write(conns[topic], frame.stamp_ns, raw)
            finally:
                # Frees the renderer's GL context now, not whenever the generator is collected.
                episode.close()
        finally:
            writer.close()
        bag_tmp.rename(out)
        staging.rmdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info('wrote %d frames of seed %d to %s', frames, seed, out)
    return out


def read_ground_truth(bag_path: Path) -> list[dict[str, Any]]:
    """The ``/sim/ground_truth`` records of a bag written by :func:`record_episode`, by stamp."""
    _, Reader, _, _, _ = _import_rosbags()
    typestore = _typestore()
    bag_path = Path(bag_path)
    if not bag_path.exists():
        raise FileNotFoundError(f'no bag at {bag_path}; record one with record_episode() first')
    records: list[dict[str, Any]] = []
    with Reader(bag_path) as reader:
        conns = [c for c in reader.connections if c.topic == GROUND_TRUTH_TOPIC]
        if not conns:
            topics = sorted({c.topic for c in reader.connections})
            raise SimError(
                f'{bag_path} has no {GROUND_TRUTH_TOPIC} topic (it has {topics}); '
                'only simulator bags carry ground truth'
            )
        for conn, _, raw in reader.messages(connections=conns):
            records.append(json.loads(typestore.deserialize_cdr(raw, conn.msgtype).data))
    records.sort(key=lambda r: r['stamp_ns'])
    return records
