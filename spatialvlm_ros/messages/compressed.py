"""sensor_msgs/CompressedImage -> numpy, decoded exactly as ROS image_transport_plugins encode it.

Two transports publish ``sensor_msgs/CompressedImage`` (read in ros-perception/image_transport_plugins,
rolling branch: compressed_image_transport/src/compressed_{publisher,subscriber}.cpp and
compressed_depth_image_transport/src/{codec,rvl_codec}.cpp, include/.../compression_common.h):

``compressed`` (topic ``<base>/compressed``): ``data`` is a whole JPEG, PNG (or TIFF) file.
    ``format`` is ``"<encoding>; <jpeg|png|tiff> compressed <payload encoding>"``: the first token is
    the original Image encoding; colour images are converted to ``bgr8`` (``bgr16`` for 16-bit PNG)
    before cv::imencode, so ``compressed bgr8`` means the payload's channels are BGR (the subscriber
    converts back to the original order); JPEG of 16-bit images is written as 8-bit (``mono8`` /
    ``bgr8``) and scaled by 256 on decoding; mono PNG has nothing after ``compressed``. Older
    releases write only ``"jpeg"`` / ``"png"``: the encoding is then mono8 or bgr8 by the channels.

``compressedDepth`` (topic ``<base>/compressedDepth``): ``format`` is ``"<16UC1|32FC1>;
    compressedDepth <png|rvl>"`` (``"...; compressedDepth"`` alone in older releases: png).
    ``data`` = a 12-byte ConfigHeader {int32 format (enum compressionFormat, INV_DEPTH = 0),
    float32 depthParam[2]}, host (little-endian) byte order, then the payload:

    * 16UC1 / mono16: the uint16 depth as is (values above depth_max * 1000 zeroed by the encoder;
      depthParam left uninitialised), so decoding is bit-exact.
    * 32FC1: quantised inverse depth, uint16. The encoder computes, in float32,
      ``depthQuantA = depth_quantization * (depth_quantization + 1)``,
      ``depthQuantB = 1 - depthQuantA / depth_max`` (defaults depth_max 10 m, depth_quantization 100:
      A = 10100, B = -1009) and stores ``q = (uint16)(depthQuantA / d + depthQuantB)`` for
      ``d < depth_max`` (else, and for NaN, 0); depthParam = (A, B). The decoder gives
      ``d = depthQuantA / (q - depthQuantB)`` for q != 0 and NaN for q == 0.
    * png: a 16-bit one-channel PNG (cv::imencode). rvl: uint32 cols, uint32 rows, then the RVL
      stream of Wilson, "Fast Lossless Depth Image Compression" (SIGCHI'17): 32-bit words of eight
      4-bit nibbles, most significant first; each value is variable-length, 3 bits a nibble, least
      significant first, bit 0x8 = more nibbles follow; the stream is runs of (number of zeros,
      number of nonzeros, then each nonzero as the zigzag ``(delta << 1) ^ (delta >> 31)`` of its
      difference to the previous nonzero pixel).

Every malformed message raises FrameError(kind='decode') saying what is wrong; an encoding the core
does not support raises FrameError(kind='encoding') as for raw Images.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..core.errors import FrameError
from .image_codec import ENCODINGS

__all__ = [
    'CompressedFormat',
    'COMPRESSED_IMAGE',
    'compressed_from_msg',
    'decode_compressed',
    'decode_rvl',
    'is_compressed',
    'parse_format',
]

COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
DEPTH_ENCODINGS = frozenset({'16UC1', 'mono16', '32FC1'})
_HEADER = struct.Struct('<iff')  # ConfigHeader: compressionFormat format; float depthParam[2]
_INV_DEPTH = 0
_MAGIC = {'jpeg': (b'\xff\xd8\xff',), 'png': (b'\x89PNG\r\n\x1a\n',), 'tiff': (b'II*\x00', b'MM\x00*')}
_CODECS = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png', 'tiff': 'tiff', 'tif': 'tiff'}
_SHIFTS = np.arange(28, -1, -4, dtype=np.uint32)


@dataclass(frozen=True)
class CompressedFormat:
    """What a CompressedImage's ``format`` says.

    transport: 'compressed' or 'compressedDepth'; encoding: the original Image encoding ('' when an
    old ``compressed`` message does not say: then mono8 or bgr8 by the payload's channels);
    codec: 'jpeg', 'png', 'tiff' or 'rvl'; payload_bgr: the payload's colour channels are BGR.
    """

    transport: str
    encoding: str
    codec: str
    payload_bgr: bool = True

    @property
    def is_depth(self) -> bool:
        return self.transport == 'compressedDepth' or self.encoding in DEPTH_ENCODINGS


def is_compressed(msg) -> bool:
    """True for a sensor_msgs/CompressedImage-like message (a ``format`` and no ``encoding``)."""
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def _bad(msg: str) -> FrameError:
    return FrameError(f'compressed image: {msg}', kind='decode')


def parse_format(fmt: str) -> CompressedFormat:
    """Parse a CompressedImage ``format`` string; FrameError(kind='decode') if no plugin writes it."""
    if not isinstance(fmt, str) or not fmt.strip():
        raise _bad(f'empty format string {fmt!r}; expected e.g. "rgb8; jpeg compressed bgr8" or '
                   '"16UC1; compressedDepth png"')
    head, sep, rest = fmt.partition(';')
    head = head.strip()
    if 'compressedDepth' in rest:
        tail = rest.split('compressedDepth', 1)[1].strip()
        codec = tail.split()[0] if tail else 'png'  # "...; compressedDepth" alone: the old png-only plugin
        if codec not in ('png', 'rvl'):
            raise _bad(f'format {fmt!r}: compressedDepth {codec!r} is not a codec of the plugin (png, rvl)')
        return CompressedFormat('compressedDepth', head, codec)
    if not sep:
        if head.lower() in _CODECS:  # old compressed_image_transport: "jpeg" / "png"
            return CompressedFormat('compressed', '', _CODECS[head.lower()])
        if head in DEPTH_ENCODINGS:  # old compressed_depth_image_transport: the encoding alone, png
            return CompressedFormat('compressedDepth', head, 'png')
        raise _bad(f'format {fmt!r} names no codec; expected e.g. "rgb8; jpeg compressed bgr8", "jpeg", '
                   '"png" or "16UC1; compressedDepth png"')
    words = rest.split()
    if len(words) < 2 or words[1] != 'compressed' or words[0].lower() not in _CODECS:
        raise _bad(f'format {fmt!r} is neither "<encoding>; <jpeg|png|tiff> compressed [<encoding>]" '
                   'nor "<encoding>; compressedDepth <png|rvl>"')
    if not head:
        raise _bad(f'format {fmt!r} has no image encoding before the ";"')
    bgr = 'compressed bgr' in rest  # as the subscriber decides it
    return CompressedFormat('compressed', head, _CODECS[words[0].lower()], bgr)


def _buffer(data) -> np.ndarray:
    try:
        if isinstance(data, np.ndarray):
            return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        return np.frombuffer(memoryview(data), dtype=np.uint8)
    except (TypeError, ValueError) as err:
        raise _bad(f'data is not a byte buffer ({type(data).__name__}): {err}') from err


def _imdecode(buf: np.ndarray, codec: str, what: str) -> np.ndarray:
    import cv2

    if buf.size == 0:
        raise _bad(f'{what}: no {codec} data')
    head = buf[:8].tobytes()
    if not any(head.startswith(m) for m in _MAGIC[codec]):
        raise _bad(f'{what}: the payload does not start like a {codec.upper()} file (first bytes {head.hex()})')
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        raise _bad(f'{what}: OpenCV cannot decode the {codec.upper()} data: {err}') from err
    if img is None or img.size == 0:
        raise _bad(f'{what}: OpenCV cannot decode the {buf.size} bytes of {codec.upper()} data '
                   '(truncated or corrupt)')
    return img


def _channels(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else img.shape[2]


def decode_compressed(fmt: str, data) -> tuple[np.ndarray, str]:
    """Decode a CompressedImage's ``format`` + ``data`` -> (array, encoding).

    The array is what the raw Image of that encoding would decode to (:mod:`.image_codec`): HxWx3
    uint8 for rgb8/bgr8 in that channel order, HxW uint8 mono8, HxW uint16 16UC1/mono16 (the raw
    values), HxW float32 32FC1 (metres, NaN = no reading). Raises FrameError(kind='decode') for a
    malformed message, FrameError(kind='encoding') for an encoding the core does not read.
    """
    f = parse_format(fmt)
    buf = _buffer(data)
    if f.transport == 'compressedDepth':
        return _decode_depth(f, buf, fmt), f.encoding
    return _decode_image(f, buf, fmt)


def compressed_from_msg(msg) -> tuple[np.ndarray, str]:
    """Decode a sensor_msgs/CompressedImage-like message (see :func:`decode_compressed`)."""
    return decode_compressed(msg.format, msg.data)


def _decode_image(f: CompressedFormat, buf: np.ndarray, fmt: str) -> tuple[np.ndarray, str]:
    import cv2

    what = f'format {fmt!r}'
    img = _imdecode(buf, f.codec, what)
    ch = _channels(img)
    enc = f.encoding
    if not enc:  # old releases: the subscriber names it by the channels
        if ch == 1 and img.dtype == np.uint8:
            return img, 'mono8'
        if ch == 3 and img.dtype == np.uint8:
            return img, 'bgr8'
        raise _bad(f'{what}: a {ch}-channel {img.dtype} payload, expected mono8 or bgr8')
    if enc not in ENCODINGS:
        raise FrameError(f'compressed image: unsupported image encoding {enc!r} in format {fmt!r}; expected one of '
                         f'{sorted(ENCODINGS)}', kind='encoding')
    dtype, want = ENCODINGS[enc]
    if dtype == np.uint16 and img.dtype == np.uint8 and f.codec == 'jpeg':
        img = img.astype(np.uint16) * np.uint16(256)  # the publisher wrote 16-bit images as 8-bit JPEG
    if img.dtype != dtype:
        raise _bad(f'{what}: the payload is {img.dtype}, the encoding {enc} needs {dtype}')
    if want >= 3 and ch == 3:
        if enc in ('rgb8', 'rgba8') and f.payload_bgr or enc in ('bgr8', 'bgra8', '8UC3') and not f.payload_bgr:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGBA if want == 4 else cv2.COLOR_BGR2RGB)
        elif want == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    elif want == 4 and ch == 4:
        if enc == 'rgba8' and f.payload_bgr or enc == 'bgra8' and not f.payload_bgr:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    if _channels(img) != want:
        raise _bad(f'{what}: the payload has {ch} channels, the encoding {enc} has {want}')
    return img, enc


def _decode_depth(f: CompressedFormat, buf: np.ndarray, fmt: str) -> np.ndarray:
    what = f'format {fmt!r}'
    enc = f.encoding
    if enc not in DEPTH_ENCODINGS:
        if enc in ENCODINGS:
            raise FrameError(f'compressed depth: encoding {enc!r} in format {fmt!r} is no depth encoding; the '
                             'compressedDepth plugin carries 16UC1 or 32FC1', kind='encoding')
        raise _bad(f'{what}: {enc!r} is no image encoding; the compressedDepth plugin carries 16UC1 or 32FC1')
    if buf.size <= _HEADER.size:
        raise _bad(f'{what}: {buf.size} bytes, not even the {_HEADER.size}-byte compressedDepth header and a payload')
    kind, quant_a, quant_b = _HEADER.unpack_from(buf[: _HEADER.size].tobytes())
    if kind != _INV_DEPTH:
        raise _bad(f'{what}: the compressedDepth header says compression format {kind}, expected {_INV_DEPTH} '
                   '(INV_DEPTH); the data is not a compressedDepth message')
    payload = buf[_HEADER.size :]
    if f.codec == 'png':
        q = _imdecode(payload, 'png', what)
        if q.dtype != np.uint16 or q.ndim != 2:
            raise _bad(f'{what}: the PNG is {_channels(q)}-channel {q.dtype}, expected one-channel 16-bit')
    else:
        q = _rvl_image(payload, what)
    if enc != '32FC1':
        return q
    a, b = np.float32(quant_a), np.float32(quant_b)
    if not (np.isfinite(a) and np.isfinite(b) and a > 0):
        raise _bad(f'{what}: the header\'s inverse-depth parameters ({quant_a}, {quant_b}) are unusable '
                   '(depthQuantA must be positive and finite)')
    qf = q.astype(np.float32)
    qf -= b
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.divide(a, qf, dtype=np.float32)
    depth[q == 0] = np.nan
    return depth


def _rvl_image(payload: np.ndarray, what: str) -> np.ndarray:
    if payload.size < 8:
        raise _bad(f'{what}: RVL data of {payload.size} bytes has no size header (uint32 cols, rows)')
    cols, rows = struct.unpack_from('<II', payload[:8].tobytes())
    n = rows * cols
    # The plugin's own sanity check: RVL compresses at most ~4x, so > 5 pixels a byte is corrupt.
    if rows == 0 or cols == 0 or n > 2**31 - 1 or n > payload.size * 5:
        raise _bad(f'{what}: RVL header reports an image of {cols}x{rows} for {payload.size} bytes of data')
    return decode_rvl(payload[8:], n, what).reshape(rows, cols)


def decode_rvl(stream, num_pixels: int, what: str = 'RVL') -> np.ndarray:
    """Decode an RVL stream (no size header) of ``num_pixels`` uint16 pixels; FrameError('decode') if corrupt.

    Vectorised: the nibbles are split out of the words at once and summed per value, nibble k of
    every value in one step (values are 1-7 nibbles); only the walk from one (zeros, nonzeros) run
    header to the next is a Python loop (one step per run of nonzero pixels); the nonzero pixels
    are then written by one boolean mask.
    """
    buf = _buffer(stream)
    nwords = buf.size // 4
    if nwords == 0:
        raise _bad(f'{what}: RVL stream is empty')
    words = buf[: nwords * 4].view('<u4')
    nib = ((words[:, None] >> _SHIFTS) & 0xF).astype(np.uint8).reshape(-1)
    ends = np.flatnonzero(nib < 8)  # a nibble without the continuation bit ends its value
    if ends.size == 0:
        raise _bad(f'{what}: RVL stream holds no complete value')
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    longest = int(lengths.max())
    if longest > 10:  # 10 nibbles = 30 bits: the decoder's int cannot hold more
        raise _bad(f'{what}: RVL value of {longest} nibbles (corrupt stream)')
    data = nib & np.uint8(7)
    vals = data[starts].astype(np.int32)
    for k in range(1, longest):
        sel = np.flatnonzero(lengths > k)
        vals[sel] |= data[starts[sel] + k].astype(np.int32) << (3 * k)
    nvals = vals.size
    mv = memoryview(vals)
    # Walk the run headers: (zeros, nonzeros) at i, i+1, then the nonzeros' values.
    heads, segs = [], []
    i, left, pixel = 0, int(num_pixels), 0
    while left > 0:
        if i + 1 >= nvals:
            raise _bad(f'{what}: RVL stream ends with {left} of {num_pixels} pixels undecoded (truncated)')
        z, nz = mv[i], mv[i + 1]
        if z == 0 and nz == 0:
            raise _bad(f'{what}: RVL run of no pixels at value {i} (corrupt stream)')
        left -= z + nz
        if left < 0:
            break
        if i + 2 + nz > nvals:
            raise _bad(f'{what}: RVL stream ends inside a run of {nz} nonzero pixels (truncated)')
        heads.append(i)
        pixel += z
        if nz:
            segs.append((pixel, pixel + nz))
        pixel += nz
        i += 2 + nz
    if left != 0:
        raise _bad(f'{what}: RVL runs overrun or truncate the {num_pixels} pixels of the image (corrupt stream)')
    out = np.zeros(int(num_pixels), dtype=np.uint16)
    if not segs:
        return out
    body = np.ones(i, dtype=bool)
    h = np.asarray(heads, dtype=np.int64)
    body[h] = False
    body[h + 1] = False
    positive = vals[:i][body]
    delta = (positive >> 1) ^ -(positive & 1)
    seg = np.asarray(segs, dtype=np.int64)
    marks = np.zeros(int(num_pixels) + 1, dtype=np.int8)
    marks[seg[:, 0]] = 1
    marks[seg[:, 1]] -= 1
    out[np.cumsum(marks[:-1], dtype=np.int8).view(bool)] = np.cumsum(delta, dtype=np.int32).astype(np.uint16)
    return out
