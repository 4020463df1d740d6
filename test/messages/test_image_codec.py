import numpy as np
import pytest

from spatialvlm_ros.core.errors import FrameError
from spatialvlm_ros.messages.image_codec import decode_image, encode_image


@pytest.mark.parametrize(
    'encoding,array',
    [
        ('rgb8', np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)),
        ('32FC1', np.linspace(0.1, 3.0, 20, dtype=np.float32).reshape(4, 5)),
        ('16UC1', np.arange(20, dtype=np.uint16).reshape(4, 5) * 1000),
    ],
)
def test_encode_decode_round_trip(encoding, array):
    h, w, step, data, big = encode_image(array, encoding)
    back = decode_image(encoding, h, w, step, data.tobytes(), big)
    np.testing.assert_array_equal(back, array)


def test_decode_honours_row_padding_and_big_endian():
    depth = np.array([[1000, 2000, 3000], [4000, 5000, 6000]], dtype=np.uint16)
    rows = [depth[r].astype('>u2').tobytes() + b'\xff\xff' for r in range(2)]  # 2 bytes padding per row
    out = decode_image('16UC1', 2, 3, 8, b''.join(rows), is_bigendian=1)
    np.testing.assert_array_equal(out, depth)


def test_truncated_and_unknown_encoding_are_rejected_with_reasons():
    with pytest.raises(FrameError, match='truncated'):
        decode_image('rgb8', 4, 4, 12, b'\x00' * 20)
    with pytest.raises(FrameError, match='unsupported image encoding'):
        decode_image('yuv422_yuy2', 4, 4, 8, b'\x00' * 32)
    with pytest.raises(FrameError, match='step'):
        decode_image('rgb8', 4, 4, 5, b'\x00' * 100)
