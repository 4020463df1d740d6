"""Depth and colour normalisation: whatever the camera sends -> the Frame conventions.

Depth follows REP 118: ``16UC1`` is millimetres with 0 = no return, ``32FC1`` is metres with
NaN (or 0, or +-inf) = no return. Everything leaves here as float32 metres with NaN = invalid.
"""

from __future__ import annotations

import numpy as np

from .errors import FrameError
from .types import Frame, Intrinsics

__all__ = ['depth_unit', 'depth_to_metres', 'rgb_from_encoding', 'resample_depth', 'make_frame']

# encoding -> metres per unit (REP 118)
_DEPTH_SCALE = {'16UC1': 1e-3, 'mono16': 1e-3, '32FC1': 1.0}


def depth_unit(encoding: str) -> float:
    """Metres per raw unit of a REP 118 depth encoding; FrameError(kind='encoding') for any other."""
    if encoding not in _DEPTH_SCALE:
        msg = (
            f'unsupported depth encoding {encoding!r}; expected 16UC1 (millimetres) or 32FC1 (metres) '
            'as REP 118 specifies; check that the depth topic is not a colourised depth image'
        )
        raise FrameError(msg, kind='encoding')
    return _DEPTH_SCALE[encoding]


def depth_to_metres(
    depth: np.ndarray,
    encoding: str,
    min_m: float = 0.05,
    max_m: float = 10.0,
    scale: float | None = None,
) -> np.ndarray:
    """Convert a raw depth image to HxW float32 metres, NaN = invalid.

    depth: HxW uint16 (``16UC1``/``mono16``, millimetres unless ``scale`` says otherwise)
        or float32 (``32FC1``, metres).
    min_m, max_m: readings outside this range are sensor noise or no-return and become NaN.
    scale: metres per raw unit, overriding REP 118 (e.g. TUM's 1/5000).
    """
    unit = depth_unit(encoding)
    if depth.ndim != 2:
        raise FrameError(f'depth must be one channel HxW, got shape {depth.shape}', kind='encoding')
    metres_per_unit = unit if scale is None else float(scale)
    out = depth.astype(np.float32, copy=True)
    if metres_per_unit != 1.0:
        out *= np.float32(metres_per_unit)
    # Comparisons with NaN are False, so NaN/inf/0 and out-of-range all end up invalid here.
    with np.errstate(invalid='ignore'):
        bad = ~((out >= min_m) & (out <= max_m))
    out[bad] = np.nan
    return out


def rgb_from_encoding(image: np.ndarray, encoding: str) -> np.ndarray:
    """Any supported colour encoding -> HxWx3 uint8 RGB (a copy only where needed)."""
    if encoding in ('rgb8', '8UC3'):
        return image
    if encoding == 'bgr8':
        return image[:, :, ::-1]
    if encoding == 'rgba8':
        return image[:, :, :3]
    if encoding == 'bgra8':
        return image[:, :, 2::-1]
    if encoding in ('mono8', '8UC1'):
        return np.repeat(image[:, :, None], 3, axis=2)
    raise FrameError(
        f'unsupported colour encoding {encoding!r}; expected rgb8, bgr8, rgba8, bgra8 or mono8', kind='encoding'
    )


def resample_depth(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resample of registered depth to the colour size.

    Nearest, never interpolated: averaging depths across an object edge invents points in
    mid-air (flying pixels). Pixel centres are aligned as in :meth:`Intrinsics.scaled`.
    """
    h, w = depth.shape
    if (w, h) == (width, height):
        return depth
    u = np.clip(np.round((np.arange(width) + 0.5) * (w / width) - 0.5).astype(np.intp), 0, w - 1)
    v = np.clip(np.round((np.arange(height) + 0.5) * (h / height) - 0.5).astype(np.intp), 0, h - 1)
    return depth[v[:, None], u[None, :]]


def make_frame(
    rgb: np.ndarray,
    rgb_encoding: str,
    depth: np.ndarray,
    depth_encoding: str,
    intrinsics: Intrinsics,
    stamp_ns: int,
    frame_id: str,
    min_depth_m: float = 0.05,
    max_depth_m: float = 10.0,
    resample: bool = True,
) -> Frame:
    """Build a :class:`Frame` from decoded camera images.

    intrinsics: of the colour image. Depth must be registered to colour; if it has another
    size it is resampled (``resample=True``) or rejected.
    Raises FrameError naming the problem (bad encoding, size mismatch, no valid depth).
    """
    rgb = np.ascontiguousarray(rgb_from_encoding(rgb, rgb_encoding))
    metres = depth_to_metres(depth, depth_encoding, min_depth_m, max_depth_m)
    h, w = rgb.shape[:2]
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise FrameError(
            f'camera_info is for {intrinsics.width}x{intrinsics.height} but the colour image is {w}x{h}; '
            'remap camera_info to the colour stream',
            kind='size_mismatch',
        )
    if metres.shape != (h, w):
        if not resample:
            raise FrameError(f'depth {metres.shape[1]}x{metres.shape[0]} does not match colour {w}x{h}', kind='size_mismatch')
        dh, dw = metres.shape
        if abs(dw / w - dh / h) > 0.01:
            raise FrameError(
                f'depth {dw}x{dh} and colour {w}x{h} have different aspect ratios, so depth is not registered '
                'to colour; use the aligned depth topic (e.g. /camera/aligned_depth_to_color/image_raw)',
                kind='size_mismatch',
            )
        metres = resample_depth(metres, w, h)
    if not np.isfinite(metres).any():
        raise FrameError(
            f'depth has no valid pixel in [{min_depth_m}, {max_depth_m}] m; check the depth encoding/scale '
            'and the min/max depth parameters',
            kind='no_valid_depth',
        )
    return Frame(rgb=rgb, depth=metres, intrinsics=intrinsics, stamp_ns=int(stamp_ns), frame_id=frame_id)
