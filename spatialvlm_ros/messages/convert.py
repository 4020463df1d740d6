"""ROS messages -> core types (frames, intrinsics, stamps). No math here beyond unit bookkeeping.

Works on rclpy messages and on rosbags-deserialised messages alike (same field names), so the
offline tools share it with the nodes.
"""

from __future__ import annotations

import numpy as np

from ..core.depth import make_frame
from ..core.errors import FrameError
from .compressed import compressed_from_msg, is_compressed
from .image_codec import image_from_msg
from .rgbd_files import check_stream_depth
from ..core.types import Frame, Intrinsics, stamp_to_ns

__all__ = [
    'LABEL_ENCODINGS',
    'label_image_from_msg',
    'header_stamp_ns',
    'image_and_encoding',
    'intrinsics_from_camera_info',
    'checked_intrinsics',
    'frame_from_msgs',
]


def header_stamp_ns(msg) -> int:
    return stamp_to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def intrinsics_from_camera_info(info) -> Intrinsics:
    """sensor_msgs/CameraInfo -> Intrinsics of the image it describes (:func:`checked_intrinsics`).

    Raises FrameError for a zero/NaN K (uncalibrated driver) or a zero size.
    """
    return checked_intrinsics(info.k, info.width, info.height, 'camera_info')


def checked_intrinsics(k, width: int, height: int, source: str = 'camera_info') -> Intrinsics:
    """A row-major 3x3 K of a ``width`` x ``height`` image -> Intrinsics, refusing what would silently
    scale every distance: a zero/NaN K, focal lengths outside 0.05-50 x the image size, a principal
    point outside the image. ``source`` names where K came from in the messages. Raises FrameError
    (kind 'intrinsics')."""
    k = np.asarray(k, dtype=np.float64)
    fix = 'calibrate the camera or check the camera_info topic' if source == 'camera_info' else f'check the {source}'
    if k.size != 9 or not np.all(np.isfinite(k)) or k.reshape(-1)[0] <= 0 or k.reshape(-1)[4] <= 0:
        raise FrameError(
            f'{source} has an unusable K {list(np.round(k.reshape(-1), 3))} (focal lengths must be positive and '
            f'finite); {fix}',
            kind='intrinsics',
        )
    try:
        intr = Intrinsics.from_k(k, int(width), int(height))
    except FrameError as err:
        raise FrameError(str(err), kind='intrinsics') from err
    # Absurd but positive values (a K for another resolution, pixels vs metres mix-ups) would
    # silently scale every distance: reject them with the numbers.
    w, h = intr.width, intr.height
    if not (0.05 * w <= intr.fx <= 50 * w and 0.05 * h <= intr.fy <= 50 * h):
        raise FrameError(
            f'{source} focal lengths fx={intr.fx:.1f} fy={intr.fy:.1f} are implausible for a {w}x{h} image '
            '(expected 0.05-50 x the image size); check that K belongs to this resolution',
            kind='intrinsics',
        )
    if not (-0.5 <= intr.cx <= w - 0.5 and -0.5 <= intr.cy <= h - 0.5):
        raise FrameError(
            f'{source} principal point ({intr.cx:.1f}, {intr.cy:.1f}) lies outside the {w}x{h} image; '
            'check that K belongs to this resolution',
            kind='intrinsics',
        )
    return intr


def image_and_encoding(msg) -> tuple[np.ndarray, str]:
    """A sensor_msgs/Image or sensor_msgs/CompressedImage (a ``format`` and no ``encoding``, from the
    ``compressed`` or ``compressedDepth`` transport) -> (array, encoding) as the raw Image would decode."""
    if is_compressed(msg):
        return compressed_from_msg(msg)
    return image_from_msg(msg), msg.encoding


def frame_from_msgs(color, depth, info, min_depth_m: float = 0.05, max_depth_m: float = 10.0) -> Frame:
    """colour Image + depth Image + CameraInfo (of the colour stream) -> Frame.

    ``color`` and ``depth`` may each be a sensor_msgs/CompressedImage instead (``compressed`` /
    ``compressedDepth`` transports, :mod:`.compressed`); a corrupt one raises FrameError(kind='decode').
    The colour header's stamp and frame_id are the frame's: every result is attributable to it.
    Raises FrameError for unusable inputs, among them depth whose readings are mostly implausible
    (kind 'implausible_depth': a wrong unit or encoding, checked before the range crop hides it).
    """
    intr = intrinsics_from_camera_info(info)
    rgb, color_encoding = image_and_encoding(color)
    d, depth_encoding = image_and_encoding(depth)
    check_stream_depth(d, depth_encoding, min_depth_m, max_depth_m)
    return make_frame(
        rgb,
        color_encoding,
        d,
        depth_encoding,
        intr,
        stamp_ns=header_stamp_ns(color),
        frame_id=color.header.frame_id or info.header.frame_id,
        min_depth_m=min_depth_m,
        max_depth_m=max_depth_m,
    )


# Encodings of instance-label images: one integer id per pixel (0 is usually background).
LABEL_ENCODINGS = ('mono8', '8UC1', 'mono16', '16UC1', '32SC1')


def label_image_from_msg(msg, frame: Frame) -> np.ndarray:
    """An instance-label sensor_msgs/Image (mono8, mono16 or 32SC1 ids) of ``frame`` -> HxW integer ids.

    Raises FrameError (kind 'encoding' or 'size_mismatch') when it is no label image of this frame.
    """
    if msg.encoding not in LABEL_ENCODINGS:
        raise FrameError(f'instance masks must be an integer label image ({", ".join(LABEL_ENCODINGS)}), got '
                         f'{msg.encoding!r}', kind='encoding')
    labels = image_from_msg(msg)
    if labels.shape != frame.shape:
        raise FrameError(f'instance masks are {labels.shape[1]}x{labels.shape[0]} but the colour image is '
                         f'{frame.shape[1]}x{frame.shape[0]}; segment the colour image the frame comes from',
                         kind='size_mismatch')
    return labels
