"""offline.cdr reads an Image's stamp without deserializing it, and rejects exactly what deserializing rejects."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.messages.bag import typestore_for
from spatialvlm_ros.messages.cdr import image_stamp_ns


def _image(ts, frame_id: str, encoding: str, sec: int, nanosec: int) -> bytes:
    t = ts.types
    msg = t['sensor_msgs/msg/Image'](
        header=t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
                                        frame_id=frame_id),
        height=2, width=3, encoding=encoding, is_bigendian=0, step=9, data=np.arange(18, dtype=np.uint8))
    return bytes(ts.serialize_cdr(msg, 'sensor_msgs/msg/Image'))


@pytest.mark.parametrize('frame_id', ['', 'c', 'cam', 'camera_color_optical_frame'])
@pytest.mark.parametrize('encoding', ['rgb8', '16UC1', '32FC1', 'bgra8'])
def test_stamp_and_truncation_agree_with_deserialization(frame_id, encoding):
    ts = typestore_for()
    raw = _image(ts, frame_id, encoding, 1_700_000_000, 123_456_789)
    assert image_stamp_ns(raw) == 1_700_000_000_123_456_789
    for cut in range(len(raw)):  # every truncation point: both reject it, or both accept it
        try:
            ts.deserialize_cdr(raw[:cut], 'sensor_msgs/msg/Image')
            readable = True
        except Exception:  # noqa: BLE001 - whatever rosbags raises
            readable = False
        if readable:
            image_stamp_ns(raw[:cut])
        else:
            with pytest.raises(ValueError):
                image_stamp_ns(raw[:cut])


def test_garbage_is_rejected():
    ts = typestore_for()
    raw = bytearray(_image(ts, 'cam', 'rgb8', 5, 6))
    with pytest.raises(ValueError, match='encapsulation'):
        image_stamp_ns(b'\x07\x07\x00\x00' + bytes(raw[4:]))
    raw[12:16] = (10**6).to_bytes(4, 'little')  # frame_id length far past the end
    with pytest.raises(ValueError, match='truncated'):
        image_stamp_ns(bytes(raw))
