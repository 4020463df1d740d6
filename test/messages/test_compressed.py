"""messages.compressed against encoders written from ROS image_transport_plugins (rolling):
compressed_image_transport/src/compressed_publisher.cpp (format strings, BGR payloads),
compressed_depth_image_transport/src/codec.cpp (12-byte ConfigHeader, inverse-depth quantisation)
and rvl_codec.cpp (Wilson's RVL, SIGCHI'17), ported literally below.
"""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest

from spatialvlm_ros.core.errors import FrameError
from spatialvlm_ros.messages.bag import typestore_for
from spatialvlm_ros.messages.cdr import compressed_image_stamp_ns
from spatialvlm_ros.messages.compressed import decode_compressed, decode_rvl, is_compressed, parse_format
from spatialvlm_ros.messages.convert import frame_from_msgs
from spatialvlm_ros.messages.image_codec import encode_image

from support.image_transport import encode_color, encode_depth, quant_params, rvl_compress  # noqa: E402


# ---------------------------------------------------------------- test images


def colour_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], axis=2).astype(np.uint8)
    img[h // 4 : h // 2, w // 4 : w // 2] = (200, 30, 40)
    return np.clip(img.astype(int) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)


def depth_mm(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    d = (600 + 4 * xx + 7 * yy + rng.integers(0, 3, (h, w))).astype(np.uint16)
    d[rng.random((h, w)) < 0.1] = 0  # holes
    d[5:9, :] = 0  # a long run of holes
    d[0, 0] = 65000  # beyond depth_max: the encoder zeroes it
    return d


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_png_colour_is_exact(encoding):
    rgb = colour_image()
    src = rgb if encoding == 'rgb8' else rgb[:, :, ::-1].copy()
    fmt, data = encode_color(src, encoding, 'png')
    assert fmt == f'{encoding}; png compressed bgr8'
    out, enc = decode_compressed(fmt, data)
    assert enc == encoding and out.dtype == np.uint8
    np.testing.assert_array_equal(out, src)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_jpeg_colour_within_tolerance(encoding):
    rgb = colour_image()
    src = rgb if encoding == 'rgb8' else rgb[:, :, ::-1].copy()
    fmt, data = encode_color(src, encoding, 'jpeg', quality=90)
    assert fmt == f'{encoding}; jpeg compressed bgr8'
    out, enc = decode_compressed(fmt, data)
    assert enc == encoding and out.shape == src.shape
    err = np.abs(out.astype(int) - src.astype(int))
    assert err.mean() < 3.0 and np.percentile(err, 99) < 25
    # the channel order is right: the red patch is red
    h, w = src.shape[:2]
    patch = out[h // 4 + 2 : h // 2 - 2, w // 4 + 2 : w // 2 - 2].reshape(-1, 3).mean(axis=0)
    want = np.array([200, 30, 40]) if encoding == 'rgb8' else np.array([40, 30, 200])
    assert np.all(np.abs(patch - want) < 12), patch


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
def test_mono8_and_old_plain_formats(codec):
    mono = colour_image()[:, :, 1].copy()
    fmt, data = encode_color(mono, 'mono8', codec)
    out, enc = decode_compressed(fmt, data)
    assert enc == 'mono8' and out.shape == mono.shape
    if codec == 'png':
        assert fmt == 'mono8; png compressed '
        np.testing.assert_array_equal(out, mono)
    # older releases wrote only "jpeg" / "png": mono8 or bgr8 by the channels
    out, enc = decode_compressed(codec, data)
    assert enc == 'mono8'
    bgr = colour_image()[:, :, ::-1].copy()
    _, data = encode_color(bgr, 'bgr8', codec)
    out, enc = decode_compressed(codec, data)
    assert enc == 'bgr8' and out.shape == bgr.shape


def test_mono16_png_exact_and_jpeg_scaled():
    d = depth_mm()
    fmt, data = encode_color(d, 'mono16', 'png')
    out, enc = decode_compressed(fmt, data)
    assert enc == 'mono16' and out.dtype == np.uint16
    np.testing.assert_array_equal(out, d)
    fmt, data = encode_color(d, 'mono16', 'jpeg')
    assert fmt == 'mono16; jpeg compressed mono8'
    out, enc = decode_compressed(fmt, data)
    assert enc == 'mono16' and out.dtype == np.uint16 and np.all(out % 256 == 0)  # the subscriber's x256


@pytest.mark.parametrize('codec', ['png', 'rvl'])
def test_compressed_depth_16uc1_is_bit_exact(codec):
    d = depth_mm()
    fmt, data = encode_depth(d, '16UC1', codec)
    out, enc = decode_compressed(fmt, data)
    expected = d.copy()
    expected[expected > 10000] = 0  # what the encoder sends (depth_max 10 m)
    assert enc == '16UC1' and out.dtype == np.uint16
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('codec', ['png', 'rvl'])
@pytest.mark.parametrize('depth_max,depth_quantization', [(10.0, 100.0), (5.0, 75.0)])
def test_compressed_depth_32fc1_within_the_quantisation_bound(codec, depth_max, depth_quantization):
    rng = np.random.default_rng(3)
    a, b = quant_params(depth_max, depth_quantization)
    d_min = float(a) / (65535.0 - float(b)) * 1.01  # nearer than this the uint16 overflows in the encoder
    d = rng.uniform(max(0.2, d_min), depth_max * 0.999, (40, 50)).astype(np.float32)
    d[rng.random(d.shape) < 0.1] = np.nan
    d[0, :5] = depth_max * 1.5  # beyond depth_max: no reading
    fmt, data = encode_depth(d, '32FC1', codec, depth_max, depth_quantization)
    out, enc = decode_compressed(fmt, data)
    assert enc == '32FC1' and out.dtype == np.float32
    invalid = ~np.isfinite(d) | (d >= depth_max)
    np.testing.assert_array_equal(np.isnan(out), invalid)
    # q = floor(A/d + B) lies in (A/d + B - 1, A/d + B], so d' = A/(q - B) lies in [d, A/(A/d - 1)):
    # 0 <= d' - d < d^2 / (A - d). Float32 arithmetic adds a few ulp: 1e-6 relative.
    v = ~invalid
    err = out[v].astype(np.float64) - d[v].astype(np.float64)
    dv = d[v].astype(np.float64)
    bound = dv**2 / (float(a) - dv)
    assert np.all(err >= -1e-6 * dv)
    assert np.all(err <= bound + 1e-6 * dv)
    assert np.max(err / bound) > 0.9  # the bound is tight: the quantisation really reaches it
    if (depth_max, depth_quantization) == (10.0, 100.0):
        # the plugin's defaults: A = 10100, B = -1009; 0.1 mm at 1 m, 9.9 mm at 10 m
        assert (float(a), float(b)) == (10100.0, -1009.0)
        assert 1.0**2 / (10100 - 1) < 1e-4 and 10.0**2 / (10100 - 10) < 0.01


def test_rvl_codec_edge_cases():
    for pixels in (np.zeros(17, np.uint16), np.full(9, 65535, np.uint16), np.array([0, 0, 5, 0, 65535, 1, 1, 0, 0],
                                                                                    np.uint16),
                   np.arange(1, 100, dtype=np.uint16)[::-1].copy(), np.array([1], np.uint16)):
        np.testing.assert_array_equal(decode_rvl(rvl_compress(pixels), pixels.size), pixels)
    rng = np.random.default_rng(1)
    big = rng.integers(0, 65536, 3000).astype(np.uint16)
    big[rng.random(3000) < 0.3] = 0
    np.testing.assert_array_equal(decode_rvl(rvl_compress(big), big.size), big)


def test_rvl_matches_the_published_word_layout():
    # One run: 0 zeros, 2 nonzeros [3, 1]: values 0, 2, zigzag(3)=6, zigzag(-2)=3: nibbles 0 2 6 3, padded.
    assert rvl_compress(np.array([3, 1], np.uint16)) == struct.pack('<I', 0x02630000)
    np.testing.assert_array_equal(decode_rvl(struct.pack('<I', 0x02630000), 2), [3, 1])


# ---------------------------------------------------------------- corrupt messages


def _corruptions():
    rgb = colour_image()
    jfmt, jpeg = encode_color(rgb, 'rgb8', 'jpeg')
    pfmt, png = encode_color(rgb, 'rgb8', 'png')
    d16 = depth_mm()
    dfmt, dpng = encode_depth(d16, '16UC1', 'png')
    rfmt, drvl = encode_depth(d16, '16UC1', 'rvl')
    ffmt, fpng = encode_depth(d16.astype(np.float32) / 1000, '32FC1', 'png')
    return {
        'jpeg truncated': (jfmt, jpeg[: len(jpeg) // 3]),
        'jpeg header only': (jfmt, jpeg[:20]),
        'png truncated': (pfmt, png[: len(png) // 2]),
        'png garbage body': (pfmt, png[:16] + bytes(200)),
        'empty data': (jfmt, b''),
        'empty format': ('', jpeg),
        'unknown codec': ('rgb8; webp compressed bgr8', jpeg),
        'format says png, payload is jpeg': (pfmt, jpeg),
        'format without codec': ('rgb8', jpeg),
        'channels do not match': ('mono8; png compressed ', png),
        'depth empty': (dfmt, b''),
        'depth header only': (dfmt, dpng[:12]),
        'depth bad header': (dfmt, struct.pack('<iff', 7, 0, 0) + dpng[12:]),
        'depth truncated png': (dfmt, dpng[: len(dpng) // 2]),
        'depth unknown codec': ('16UC1; compressedDepth zstd', dpng),
        'depth not a depth encoding name': ('banana; compressedDepth png', dpng),
        'depth colour png payload': (dfmt, dpng[:12] + png),
        'depth 32FC1 bad params': (ffmt, struct.pack('<iff', 0, float('nan'), 0) + fpng[12:]),
        'rvl truncated': (rfmt, drvl[: len(drvl) // 2]),
        'rvl no size': (rfmt, drvl[:16]),
        'rvl zero size': (rfmt, drvl[:12] + struct.pack('<II', 0, 48) + drvl[20:]),
        'rvl huge size': (rfmt, drvl[:12] + struct.pack('<II', 100000, 100000) + drvl[20:]),
        'rvl garbage': (rfmt, drvl[:20] + b'\xff' * (len(drvl) - 20)),
        'rvl zeros stream': (rfmt, drvl[:20] + bytes(len(drvl) - 20)),
    }


@pytest.mark.parametrize('case', sorted(_corruptions()))
def test_corrupt_messages_raise_decode_errors(case):
    fmt, data = _corruptions()[case]
    with pytest.raises(FrameError) as info:
        decode_compressed(fmt, data)
    assert info.value.kind == 'decode', (case, info.value.kind, str(info.value))
    assert str(info.value)


def test_random_corruption_never_escapes_as_another_error():
    rng = np.random.default_rng(7)
    d16 = depth_mm()
    cases = [encode_color(colour_image(), 'rgb8', 'jpeg'), encode_color(colour_image(), 'rgb8', 'png'),
             encode_depth(d16, '16UC1', 'png'), encode_depth(d16, '16UC1', 'rvl'),
             encode_depth(d16.astype(np.float32) / 1000, '32FC1', 'rvl')]
    for fmt, data in cases:
        for _ in range(40):
            buf = bytearray(data)
            cut = int(rng.integers(0, len(buf)))
            if rng.random() < 0.5:
                buf = buf[:cut]
            else:
                for i in rng.integers(0, len(buf), 8):
                    buf[i] = int(rng.integers(0, 256))
            try:
                out, _ = decode_compressed(fmt, bytes(buf))
            except FrameError as err:
                assert err.kind == 'decode'
            else:
                assert out.size > 0


def test_unsupported_encoding_is_an_encoding_error():
    fmt, data = encode_color(colour_image(), 'rgb8', 'png')
    with pytest.raises(FrameError) as info:
        decode_compressed('rgb16; png compressed bgr16', data)
    assert info.value.kind == 'encoding'


def test_parse_format():
    assert parse_format('rgb8; jpeg compressed bgr8').codec == 'jpeg'
    assert parse_format('16UC1; compressedDepth').codec == 'png'  # older plugin
    assert parse_format('32FC1; compressedDepth rvl').is_depth
    assert not parse_format('png').is_depth
    assert parse_format('16UC1; png compressed ').is_depth


# ---------------------------------------------------------------- messages -> Frame, CDR stamps


def _ns(**kw):
    return SimpleNamespace(**kw)


def _header(sec=12, nanosec=345):
    return _ns(stamp=_ns(sec=sec, nanosec=nanosec), frame_id='cam')


def _raw_image(arr, encoding):
    h, w, step, data, big = encode_image(arr, encoding)
    return _ns(header=_header(), height=h, width=w, step=step, data=data, is_bigendian=big, encoding=encoding)


def _compressed(fmt, data):
    return _ns(header=_header(), format=fmt, data=np.frombuffer(data, np.uint8))


def _info(h, w):
    return _ns(header=_header(), k=[50.0, 0, w / 2, 0, 50.0, h / 2, 0, 0, 1], width=w, height=h)


def test_frame_from_msgs_takes_compressed_colour_and_depth():
    rgb, d = colour_image(), depth_mm()
    d[0, 0] = 700
    raw = frame_from_msgs(_raw_image(rgb, 'rgb8'), _raw_image(d, '16UC1'), _info(*d.shape))
    c = _compressed(*encode_color(rgb, 'rgb8', 'png'))
    z = _compressed(*encode_depth(d, '16UC1', 'png'))
    assert is_compressed(c) and not is_compressed(_raw_image(rgb, 'rgb8'))
    for color, depth in ((c, z), (c, _raw_image(d, '16UC1')), (_raw_image(rgb, 'rgb8'), z)):
        f = frame_from_msgs(color, depth, _info(*d.shape))
        np.testing.assert_array_equal(f.rgb, raw.rgb)
        np.testing.assert_array_equal(f.depth, raw.depth)
        assert (f.stamp_ns, f.frame_id) == (raw.stamp_ns, raw.frame_id)
    with pytest.raises(FrameError) as info:
        frame_from_msgs(c, _compressed(z.format, b'\x00' * 5), _info(*d.shape))
    assert info.value.kind == 'decode'


def test_cdr_stamp_of_compressed_images_agrees_with_deserialization():
    ts = typestore_for()
    t = ts.types
    for frame_id, fmt in (('', 'rgb8; jpeg compressed bgr8'), ('cam_optical', '16UC1; compressedDepth png'), ('c', '')):
        msg = t['sensor_msgs/msg/CompressedImage'](
            header=t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=1_700_000_000,
                                                                                   nanosec=123_456_789),
                                            frame_id=frame_id),
            format=fmt, data=np.arange(13, dtype=np.uint8))
        raw = bytes(ts.serialize_cdr(msg, 'sensor_msgs/msg/CompressedImage'))
        assert compressed_image_stamp_ns(raw) == 1_700_000_000_123_456_789
        for cut in range(len(raw)):
            try:
                ts.deserialize_cdr(raw[:cut], 'sensor_msgs/msg/CompressedImage')
                readable = True
            except Exception:  # noqa: BLE001 - whatever rosbags raises
                readable = False
            if readable:
                compressed_image_stamp_ns(raw[:cut])
            else:
                with pytest.raises(ValueError):
                    compressed_image_stamp_ns(raw[:cut])
