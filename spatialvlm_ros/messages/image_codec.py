"""sensor_msgs/Image <-> numpy without cv_bridge.

cv_bridge is not on PyPI for ROS 2 and the wheels we can get break on numpy 2, so we decode
the raw buffer ourselves. Works on any object with ``encoding``, ``height``, ``width``,
``step``, ``data``, ``is_bigendian`` (rclpy messages and rosbags messages alike).
"""

from __future__ import annotations

import sys

import numpy as np

from ..core.errors import FrameError

__all__ = ['ENCODINGS', 'decode_image', 'encode_image', 'image_from_msg']

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4),
    'bgra8': (np.dtype(np.uint8), 4),
    'mono8': (np.dtype(np.uint8), 1),
    '8UC1': (np.dtype(np.uint8), 1),
    '8UC3': (np.dtype(np.uint8), 3),
    'mono16': (np.dtype(np.uint16), 1),
    '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
    '32SC1': (np.dtype(np.int32), 1),  # instance-label images
}


def decode_image(encoding: str, height: int, width: int, step: int, data, is_bigendian: int = 0) -> np.ndarray:
    """Decode a raw image buffer.

    Returns HxW (one channel) or HxWxC array of the encoding's dtype, in native byte order.
    The array is a view of ``data`` where possible (no copy on the hot path); callers that
    keep it beyond the message's lifetime must copy.

    Raises FrameError when the encoding is unknown or the buffer does not match the size.
    """
    if encoding not in ENCODINGS:
        msg = f'unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}'
        raise FrameError(msg, kind='encoding')
    dtype, channels = ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise FrameError(f'image size must be positive, got {width}x{height}', kind='size')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise FrameError(f'step {step} is smaller than one row of {width}x{encoding} ({row_bytes} bytes)', kind='size')
    buf = np.frombuffer(memoryview(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    if buf.size < step * height:
        raise FrameError(
            f'image data has {buf.size} bytes but {width}x{height} {encoding} with step {step} needs '
            f'{step * height}; the message is truncated or its width/height/step are wrong',
            kind='truncated',
        )
    rows = buf[: step * height].reshape(height, step)[:, :row_bytes]
    big = bool(is_bigendian)
    wire = dtype.newbyteorder('>' if big else '<') if dtype.itemsize > 1 else dtype
    arr = np.ascontiguousarray(rows).view(wire)
    if dtype.itemsize > 1 and (big != (sys.byteorder == 'big')):
        arr = arr.astype(dtype)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return arr.reshape(shape)


def encode_image(array: np.ndarray, encoding: str) -> tuple[int, int, int, np.ndarray, int]:
    """Encode an array as a little-endian image buffer.

    array: HxW or HxWxC matching ``encoding`` ('rgb8' HxWx3 uint8, '32FC1' HxW float32,
    '16UC1' HxW uint16, ...).
    Returns (height, width, step, data as 1-D uint8 array, is_bigendian=0).
    """
    if encoding not in ENCODINGS:
        raise FrameError(f'unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}')
    dtype, channels = ENCODINGS[encoding]
    arr = np.asarray(array)
    expected_ndim = 2 if channels == 1 else 3
    if arr.ndim != expected_ndim or (channels > 1 and arr.shape[2] != channels):
        raise FrameError(f'{encoding} needs an array of {expected_ndim} dims with {channels} channels, got {arr.shape}')
    if arr.dtype != dtype:
        raise FrameError(f'{encoding} needs dtype {dtype}, got {arr.dtype}')
    arr = np.ascontiguousarray(arr.astype(dtype.newbyteorder('<'), copy=False))
    height, width = arr.shape[:2]
    step = width * channels * dtype.itemsize
    return height, width, step, arr.reshape(-1).view(np.uint8), 0


def image_from_msg(msg) -> np.ndarray:
    """Decode a sensor_msgs/Image-like message (see :func:`decode_image`)."""
    return decode_image(msg.encoding, int(msg.height), int(msg.width), int(msg.step), msg.data, int(msg.is_bigendian))
