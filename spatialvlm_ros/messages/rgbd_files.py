"""Real RGB-D files -> :class:`Frame`: the depth formats datasets ship, decoded explicitly or rejected;
and the same plausibility check for camera streams (:func:`check_stream_depth`).

A depth file is only a grid of numbers; what they mean is a property of the dataset, never of the file,
so the format is always named by the caller (``depth_format``) and nothing is guessed:

- ``'rep118'`` (default): uint16 = millimetres (``16UC1``; ``depth_scale`` overrides the unit, e.g.
  TUM RGB-D stores 5000 units per metre: ``depth_scale=0.0002``), float32 = metres (``32FC1``).
  0, NaN and +-inf are holes.
- ``'sun'``: SUN RGB-D / SUN3D uint16 PNGs, millimetres circularly shifted by 3 bits
  (:func:`decode_sun_depth`).
- ``'nyu-raw'``: NYU Depth v2 *raw* ``.pgm``, 11-bit Kinect disparity in the depth camera's own image,
  not registered to colour. :func:`decode_nyu_disparity` turns it into metres, but :func:`read_rgbd`
  rejects it: pairing it with the colour image would put every depth on the wrong pixel.

Whatever the format, the decoded depth must be physically plausible: when most readings fall
outside ``[min_depth_m, max_depth_m]`` the scale or format is wrong and :func:`read_rgbd` raises
``FrameError(kind='implausible_depth')`` naming the likely cause, instead of silently keeping the few
readings that happen to fall inside the range. A live camera stream gets the same verdict from
:func:`check_stream_depth`, judged on a strided sample so that it costs ~0.04 ms per frame.
Flying pixels (mixed near/far readings at depth edges) are removed by :func:`remove_flying_pixels`
for files; the live path leaves them to lifting (mask erosion and depth outlier filters per object),
which is cheaper than filtering the whole image.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable, NamedTuple, Sequence, Union

import numpy as np

from ..core.depth import depth_to_metres, depth_unit, make_frame
from ..core.errors import FrameError
from ..core.types import Frame, Intrinsics

__all__ = [
    'DEPTH_FORMATS',
    'DepthFormat',
    'decode_sun_depth',
    'decode_nyu_disparity',
    'Plausibility',
    'depth_plausibility',
    'plausible_range',
    'check_stream_depth',
    'remove_flying_pixels',
    'read_depth',
    'read_rgbd',
]

logger = logging.getLogger(__name__)

# NYU Depth v2 raw Kinect: metres = _NYU_A / (_NYU_B - disparity); 2047 = no return (11-bit).
_NYU_A, _NYU_B, _NYU_INVALID = 351.3, 1092.5, 2047
# Below this fraction of readings (holes are no readings) in plausible_range() the depth is implausible:
# "most readings are wrong", so a real frame with big holes or some far background still passes.
_MIN_IN_RANGE = 0.5
# The plausible range is at least [_PLAUSIBLE_MIN_M, _PLAUSIBLE_MAX_M] (an indoor depth sensor's range).
_PLAUSIBLE_MIN_M = 0.05
_PLAUSIBLE_MAX_M = 10.0
# Streams: pixels of the regular grid the check looks at, whatever the resolution (every 8th pixel
# each way at 640x480): enough for a fraction to ~1 %, and a constant cost per frame.
STREAM_SAMPLE_PIXELS = 4800
# Fewer sampled readings than this say nothing about the unit (a covered lens, a blank wall out of
# range): such a frame is left to the other checks (no_valid_depth, too few object points).
_MIN_SAMPLED_READINGS = 50


def decode_sun_depth(raw: np.ndarray) -> np.ndarray:
    """SUN RGB-D depth PNG -> HxW uint16 millimetres (0 = no return).

    raw: HxW uint16 as read from the file. SUN RGB-D stores millimetres rotated left by 3 bits, so
    ``mm = (raw >> 3) | (raw << 13)`` in 16-bit arithmetic (a circular right shift by 3).
    """
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise FrameError(f'SUN RGB-D depth must be HxW uint16, got shape {raw.shape} dtype {raw.dtype}', kind='encoding')
    return (raw >> np.uint16(3)) | (raw << np.uint16(13))


def decode_nyu_disparity(raw: np.ndarray) -> np.ndarray:
    """NYU Depth v2 raw ``.pgm`` -> HxW float32 metres *in the depth camera's image*, NaN = no return.

    raw: HxW uint16 as a standard PGM reader (OpenCV) returns it. The NYU files hold the 11-bit
    disparity with its two bytes in the opposite order to what the PGM header promises (the NYU
    toolbox swaps them back after ``imread``), so the bytes are swapped here; the result must then
    fit in 11 bits or this is not NYU raw depth. metres = 351.3 / (1092.5 - disparity), 2047 = invalid.
    The result is NOT registered to the colour image (other camera, other intrinsics).
    """
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise FrameError(f'NYU raw depth must be HxW uint16, got shape {raw.shape} dtype {raw.dtype}', kind='encoding')
    disparity = raw.byteswap()
    if int(disparity.max()) > _NYU_INVALID:
        msg = (f'not NYU raw Kinect disparity: after swapping bytes the largest value is {int(disparity.max())}, '
               f'above the 11-bit maximum {_NYU_INVALID}')
        raise FrameError(msg, kind='encoding')
    d = disparity.astype(np.float32)
    with np.errstate(divide='ignore'):
        metres = np.float32(_NYU_A) / (np.float32(_NYU_B) - d)
    metres[(disparity == _NYU_INVALID) | (d >= _NYU_B)] = np.nan
    return metres


def _nyu_message(path: str) -> str:
    return (f'depth {path} is NYU Depth v2 raw Kinect disparity: an image of the depth camera, not registered '
            'to the colour camera (other viewpoint and intrinsics), so no colour pixel has its depth. Register it '
            'first (NYU toolbox project_depth_map with the depth intrinsics and depth-to-colour extrinsics), or use '
            'the labelled NYU .mat whose depth is already registered; decode_nyu_disparity() gives metres in the '
            'depth image alone')


class DepthFormat(NamedTuple):
    """How one dataset's depth file maps to (values, REP 118 encoding, metres per unit)."""

    # raw array as read -> decoded array (uint16 units or float32 metres)
    decode: Callable[[np.ndarray], np.ndarray]
    # False: the decoded depth is in another camera's image and read_rgbd rejects it
    registered: bool
    # whether --depth-scale may change the unit
    scalable: bool
    # one line for help texts
    doc: str


def _rep118(raw: np.ndarray) -> np.ndarray:
    if raw.dtype not in (np.uint16, np.float32):
        raise FrameError(f'depth is {raw.dtype}; expected uint16 (millimetres, or see depth scale) or float32 metres',
                         kind='encoding')
    return raw


DEPTH_FORMATS: dict[str, DepthFormat] = {
    'rep118': DepthFormat(_rep118, True, True, 'uint16 millimetres (or --depth-scale) / float32 metres'),
    'sun': DepthFormat(decode_sun_depth, True, False, 'SUN RGB-D uint16 millimetres circularly shifted by 3 bits'),
    'nyu-raw': DepthFormat(decode_nyu_disparity, False, False, 'NYU Depth v2 raw Kinect disparity (rejected)'),
}


class Plausibility(NamedTuple):
    """What :func:`depth_plausibility` found in a depth image."""

    # fraction of the readings inside the range (0.0 when there is none)
    fraction: float
    # median reading in metres (nan when there is none)
    median_m: float
    # number of readings (pixels that are no hole)
    readings: int


def depth_plausibility(values: np.ndarray, metres_per_unit: float, min_m: float, max_m: float,
                       median: bool = True) -> Plausibility:
    """How many non-hole readings of decoded depth fall inside [min_m, max_m], and their median.

    values: HxW decoded depth (uint16 units or float32 metres); 0, NaN and inf are holes.
    median: False leaves ``median_m`` NaN (it costs a partial sort, and only error messages quote it).
    """
    v = values.astype(np.float64, copy=False)
    v = v[np.isfinite(v) & (v > 0)] * metres_per_unit
    if v.size == 0:
        return Plausibility(0.0, float('nan'), 0)
    return Plausibility(float(np.mean((v >= min_m) & (v <= max_m))), float(np.median(v)) if median else float('nan'),
                        int(v.size))


def plausible_range(min_depth_m: float, max_depth_m: float) -> tuple[float, float]:
    """The range most depth readings must fall in: the configured one, widened to at least the
    indoor sensor range, so that cropping the range (a high min depth, a low max depth) never
    makes good depth implausible."""
    return min(min_depth_m, _PLAUSIBLE_MIN_M), max(max_depth_m, _PLAUSIBLE_MAX_M)


def _what(p: Plausibility, min_m: float, max_m: float) -> str:
    if p.readings == 0:
        return 'no depth reading at all'
    return f'only {p.fraction:.0%} of its readings fall inside [{min_m:g}, {max_m:g}] m (median {p.median_m:.3g} m)'


def _hints(raw: np.ndarray, metres_per_unit: float, min_m: float, max_m: float, cli: bool = True) -> str:
    """Signatures of known depth formats in implausible depth (hints for the message, never applied).

    Each hint is given only when the data fit it (90 % of the readings in range once read that way).
    cli: name the ``spatialvlm facts`` option that reads each format (files); camera streams have
    no such option, their driver must publish REP 118 depth.
    """
    def opt(flag: str) -> str:
        return f' ({flag})' if cli else ''

    def fits(p: Plausibility) -> bool:
        return p.fraction >= 0.9

    hints = []
    if raw.dtype == np.uint16:
        p = depth_plausibility(raw, metres_per_unit * 0.2, min_m, max_m)
        if fits(p):
            hints.append(f'read as 5000 units per metre{opt("--depth-scale 0.0002")} {p.fraction:.0%} of the '
                         f'readings are in range, median {p.median_m:.2f} m: TUM RGB-D stores 5000 units per metre')
        # Real millimetres have random low bits, so their circular shift lands far out of range.
        p = depth_plausibility(decode_sun_depth(raw), 1e-3, min_m, max_m)
        if fits(p):
            hints.append(f'decoded as SUN RGB-D bit-shifted millimetres{opt("--depth-format sun")} {p.fraction:.0%} '
                         f'of the readings are in range, median {p.median_m:.2f} m')
        if int(raw.max()) > _NYU_INVALID >= int(raw.byteswap().max()):
            hints.append('the byte-swapped values fit in 11 bits: this looks like NYU Depth v2 raw Kinect disparity'
                         + opt('--depth-format nyu-raw explains'))
    else:
        # Float depth must be metres; drivers that publish float millimetres are the usual mistake.
        p = depth_plausibility(raw, metres_per_unit * 1e-3, min_m, max_m)
        if fits(p):
            hints.append(f'read as millimetres{opt("--depth-scale 0.001")} {p.fraction:.0%} of the readings are '
                         f'in range, median {p.median_m:.2f} m: float millimetres, not metres')
    return ''.join('; ' + h for h in hints)


def check_stream_depth(raw: np.ndarray, encoding: str, min_depth_m: float = 0.05, max_depth_m: float = 10.0) -> None:
    """Reject a camera's depth image whose readings mostly fall outside :func:`plausible_range`.

    raw: HxW depth as the message carries it (uint16 units or float32), before any conversion;
    encoding: its REP 118 encoding, which fixes the unit. The verdict is :func:`read_depth`'s
    (same function, same threshold), taken on a regular grid of about STREAM_SAMPLE_PIXELS pixels
    so that it costs the same ~0.04 ms at any resolution. Holes (0, NaN, inf) are no readings: a
    frame with big holes passes, and one with too few sampled readings is not judged here.
    Raises FrameError(kind='encoding') for a non-REP 118 encoding, and
    FrameError(kind='implausible_depth') saying what is wrong and what to fix.
    """
    unit = depth_unit(encoding)
    if raw.ndim != 2 or raw.size == 0:
        return  # a malformed shape is make_frame's error to report
    step = max(1, round(math.sqrt(raw.size / STREAM_SAMPLE_PIXELS)))
    sample = raw[::step, ::step]
    lo, hi = plausible_range(min_depth_m, max_depth_m)
    p = depth_plausibility(sample, unit, lo, hi, median=False)  # every frame of a stream: the verdict alone
    if p.readings < _MIN_SAMPLED_READINGS or p.fraction >= _MIN_IN_RANGE:
        return
    p = depth_plausibility(sample, unit, lo, hi)  # the message quotes the median
    msg = (f'depth image ({encoding}, {unit:g} m per unit by REP 118) is implausible: {_what(p, lo, hi)}; the camera '
           'driver publishes another depth unit or encoding (configure it for REP 118: 16UC1 millimetres or 32FC1 '
           'metres), or the depth input is remapped to a topic that is no metric depth (disparity, confidence); '
           f'raise max_depth_m only if the scene really is that far{_hints(sample, unit, lo, hi, cli=False)}')
    raise FrameError(msg, kind='implausible_depth')


def remove_flying_pixels(depth: np.ndarray, rel: float = 0.03, abs_m: float = 0.02) -> np.ndarray:
    """Depth with flying pixels set to NaN (a copy).

    depth: HxW float32 metres, NaN = invalid. A flying pixel is a mixed reading at a depth edge that
    lies between the near and the far surface: it is farther than its nearest valid 8-neighbour AND
    nearer than its farthest one, each by more than ``abs_m + rel * depth``. Pixels of the near and of
    the far surface (within the threshold of one side) are kept, so object edges do not shrink, and
    smooth slanted surfaces (small steps on both sides) are untouched.
    """
    import cv2

    if depth.ndim != 2 or depth.dtype != np.float32:
        raise FrameError(f'depth must be HxW float32 metres, got shape {depth.shape} dtype {depth.dtype}')
    valid = np.isfinite(depth)
    kernel = np.ones((3, 3), np.uint8)
    lo = cv2.erode(np.where(valid, depth, np.inf).astype(np.float32), kernel, borderType=cv2.BORDER_REPLICATE)
    hi = cv2.dilate(np.where(valid, depth, -np.inf).astype(np.float32), kernel, borderType=cv2.BORDER_REPLICATE)
    t = np.float32(abs_m) + np.float32(rel) * depth
    with np.errstate(invalid='ignore'):
        flying = valid & (depth - lo > t) & (hi - depth > t)
    out = depth.copy()
    out[flying] = np.nan
    return out


def _read_image(path: Union[str, Path], flags: int, what: str) -> np.ndarray:
    import cv2

    if not Path(path).is_file():
        raise FileNotFoundError(f'{what} {path} does not exist')
    img = cv2.imread(str(path), flags)
    if img is None:
        raise FrameError(f'cannot read {what} {path}; expected an image file OpenCV reads (png, jpg, tiff, pgm)',
                         kind='encoding')
    return img


def read_depth(
    depth_path: Union[str, Path],
    depth_scale: float | None = None,
    depth_format: str = 'rep118',
    min_depth_m: float = 0.05,
    max_depth_m: float = 10.0,
) -> np.ndarray:
    """Read and decode one depth file -> HxW float32 metres, NaN = invalid (holes and out-of-range).

    depth_scale: metres per raw unit for ``'rep118'`` uint16 files (default 0.001; TUM: 0.0002) or a
        factor for float32 files (default 1); other formats fix their own unit.
    Raises FrameError: unknown format, multi-channel image, wrong dtype, unregistered (NYU raw), or
    implausible depth (most readings outside [min_depth_m, max_depth_m]: wrong scale or format).
    """
    import cv2

    if depth_format not in DEPTH_FORMATS:
        raise FrameError(f'unknown depth format {depth_format!r}; expected one of {", ".join(DEPTH_FORMATS)}',
                         kind='encoding')
    fmt = DEPTH_FORMATS[depth_format]
    raw = _read_image(depth_path, cv2.IMREAD_UNCHANGED, 'depth image')
    if raw.ndim != 2:
        raise FrameError(
            f'depth image {depth_path} has {raw.shape[2]} channels; expected a single-channel 16-bit or float '
            'depth image (a colourised depth visualisation cannot be measured)', kind='encoding')
    if depth_scale is not None and not fmt.scalable:
        raise FrameError(f'a depth scale does not apply to depth format {depth_format!r} (its unit is fixed); '
                         'leave --depth-scale out', kind='encoding')
    try:
        decoded = fmt.decode(raw)
    except FrameError as err:
        raise FrameError(f'depth image {depth_path}: {err}', kind=err.kind) from err
    if not fmt.registered:
        raise FrameError(_nyu_message(str(depth_path)), kind='unregistered')
    if decoded.dtype == np.uint16:
        encoding, unit = '16UC1', 1e-3
    else:
        encoding, unit = '32FC1', 1.0
    scale = unit if depth_scale is None else float(depth_scale)
    if not np.isfinite(scale) or scale <= 0:
        raise FrameError(f'depth scale: expected metres per depth unit > 0 (e.g. 0.001, TUM: 0.0002), got {scale}',
                         kind='encoding')
    lo, hi = plausible_range(min_depth_m, max_depth_m)
    p = depth_plausibility(decoded, scale, lo, hi)
    if p.fraction < _MIN_IN_RANGE:
        msg = (f'depth {depth_path} decoded as {depth_format!r} with {scale:g} m per unit is implausible: '
               f'{_what(p, lo, hi)}; the depth scale or format is wrong (or raise the max depth)'
               f'{_hints(raw, scale, lo, hi)}')
        raise FrameError(msg, kind='implausible_depth')
    return depth_to_metres(decoded, encoding, min_depth_m, max_depth_m, scale=scale)


def _intrinsics(intrinsics: Union[Intrinsics, Sequence[float]], width: int, height: int) -> Intrinsics:
    """Colour intrinsics for a width x height image; a calibration of another size is rescaled."""
    if not isinstance(intrinsics, Intrinsics):
        vals = [float(v) for v in intrinsics]
        if len(vals) != 4:
            raise FrameError(f'intrinsics: expected fx,fy,cx,cy, got {len(vals)} numbers')
        return Intrinsics(*vals, width, height)
    if (intrinsics.width, intrinsics.height) == (width, height):
        return intrinsics
    if abs(intrinsics.width / width - intrinsics.height / height) > 0.01:
        raise FrameError(
            f'intrinsics are for {intrinsics.width}x{intrinsics.height} but the colour image is {width}x{height} '
            '(another aspect ratio: a crop, not a resize); use the calibration of this image', kind='size_mismatch')
    return intrinsics.scaled(width, height)


def read_rgbd(
    rgb_path: Union[str, Path],
    depth_path: Union[str, Path],
    depth_scale: float | None = None,
    intrinsics: Union[Intrinsics, Sequence[float]] = (525.0, 525.0, 319.5, 239.5),
    depth_format: str = 'rep118',
    min_depth_m: float = 0.05,
    max_depth_m: float = 10.0,
    flying_pixels: bool = True,
    stamp_ns: int = 0,
    frame_id: str = 'camera_optical_frame',
) -> Frame:
    """Read a registered colour + depth file pair into a :class:`Frame`.

    intrinsics: of the colour image: an :class:`Intrinsics` (rescaled with :meth:`Intrinsics.scaled`
        when calibrated at another resolution of the same aspect) or (fx, fy, cx, cy) in pixels of
        the colour file. The default is the PrimeSense/Kinect factory value many datasets use.
    depth_format, depth_scale: see the module doc and :func:`read_depth`.
    flying_pixels: remove mixed edge readings (:func:`remove_flying_pixels`) before resampling.
    Depth of another size than colour (registered, same aspect) is resampled nearest-neighbour to
    the colour grid with the pixel-centre convention of :meth:`Intrinsics.scaled`.
    """
    import cv2

    bgr = _read_image(rgb_path, cv2.IMREAD_COLOR, 'colour image')
    metres = read_depth(depth_path, depth_scale, depth_format, min_depth_m, max_depth_m)
    h, w = bgr.shape[:2]
    k = _intrinsics(intrinsics, w, h)
    if flying_pixels:
        metres = remove_flying_pixels(metres)
    return make_frame(bgr, 'bgr8', metres, '32FC1', k, stamp_ns, frame_id,
                      min_depth_m=min_depth_m, max_depth_m=max_depth_m)
