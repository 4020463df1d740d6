"""Occluders at an object's outline: where something nearer than the object borders its mask.

A mask ends where the object ends or where something in front of it starts. Only the first kind
of outline says where the object is; at the second the object may continue behind the occluder.
The test is the depth just outside the mask: a pixel there nearer than the object by more than
``step_m`` belongs to an occluder (depth noise and the object's own slope stay well below 1 cm
over a pixel or two; an occluder in front is a step of centimetres).

All functions work on an object's crop (:class:`.cloud.Cloud`: mask and depth of the mask's bounding
box with the erosion margin) and are vectorised over its outline, ~0.05 ms on a 100x100 crop.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..stats import median
from ..types import Intrinsics

__all__ = ['median_or_none', 'occluder_above_heights']


def _first_finite(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first finite entry along axis 0 of a KxC array, and whether there is one."""
    finite = np.isfinite(values)
    return finite.argmax(axis=0), finite.any(axis=0)


def occluder_above_heights(
    mask_crop: np.ndarray,
    depth_crop: np.ndarray,
    origin: tuple[int, int],
    intrinsics: Intrinsics,
    up: np.ndarray,
    step_m: float = 0.01,
    search_px: int = 3,
) -> np.ndarray:
    """Heights along ``up`` of the occluder pixels right above the mask's upper outline.

    mask_crop, depth_crop: HxW bool object mask and float32 depth in metres (NaN = invalid) of
        the object's crop, whose top-left pixel is ``origin`` (row, column) in the image.
    up: (3,) unit vector, up in the optical frame.
    For every column of the mask: the object's depth is the first valid one from its topmost
    mask pixel down, the outside depth the first valid one from the pixel above it up (each
    within ``search_px``: sensors drop the pixels at a depth edge); the outside pixel is an
    occluder when it is more than ``step_m`` nearer. Returns the occluder pixels' heights (M,)
    float64 metres (M = 0: nothing nearer sits on the outline). "Above" is the image's up:
    right for a camera that is not rolled about its optical axis.
    """
    h = mask_crop.shape[0]
    cols = np.flatnonzero(mask_crop.any(axis=0))
    top = mask_crop[:, cols].argmax(axis=0)  # first mask row in each column
    steps = np.arange(search_px)[:, None]
    rows_in = np.minimum(top[None, :] + steps, h - 1)
    z_in = np.where(mask_crop[rows_in, cols], depth_crop[rows_in, cols], np.nan)
    rows_out = top[None, :] - 1 - steps
    z_out = np.where(rows_out >= 0, depth_crop[np.maximum(rows_out, 0), cols], np.nan)
    i_in, ok_in = _first_finite(z_in)
    i_out, ok_out = _first_finite(z_out)
    idx = np.arange(cols.size)
    z_obj, z_occ = z_in[i_in, idx], z_out[i_out, idx]
    occ = ok_in & ok_out
    occ[occ] = z_occ[occ] < z_obj[occ] - step_m
    rows, cols, z = rows_out[i_out, idx][occ], cols[occ], z_occ[occ].astype(np.float64)
    k = intrinsics
    pts = np.stack([(cols + origin[1] - k.cx) / k.fx * z, (rows + origin[0] - k.cy) / k.fy * z, z], axis=1)
    return pts @ np.asarray(up, dtype=np.float64)


def median_or_none(values: np.ndarray, min_count: int) -> Optional[float]:
    """Median of ``values`` (finite), or None with fewer than ``min_count`` of them."""
    return float(median(values)) if values.size >= max(min_count, 1) else None
