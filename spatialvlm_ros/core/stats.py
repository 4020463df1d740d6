"""Order statistics for the hot path.

``np.percentile`` and ``np.median`` spend ~50-100 us per call in argument handling before they
touch the data, and their introselect partition is several times slower than numpy's
vectorised (SIMD) sort on the few thousand points the lifting and fact code hand them ~15 times
per frame. These compute the same thing (numpy's default 'linear' interpolation) from one sort
of contiguous rows.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ['percentiles', 'percentile', 'median']


def _lerp(below, above, t):
    # numpy's lerp: from the nearer end, so that t = 0 and t = 1 give the samples exactly.
    return below + (above - below) * t if t < 0.5 else above - (above - below) * (1 - t)


def percentiles(a: np.ndarray, q: Sequence[float], axis: Union[int, None] = None) -> np.ndarray:
    """``np.percentile(a, q, axis)`` for axis None (flattened) or 0; a must be finite and non-empty.

    Returns shape (len(q),) for axis None, (len(q), *a.shape[1:]) for axis 0, in a's float dtype
    (float64 for integer input).
    """
    a = np.asarray(a)
    if axis is None:
        a = a.reshape(-1)
    elif axis != 0:
        raise ValueError(f'percentiles: axis must be None or 0, got {axis}')
    n = a.shape[0]
    if n == 0:
        raise ValueError('percentiles of an empty array')
    if a.dtype.kind != 'f':
        a = a.astype(np.float64)
    if a.ndim == 1:
        part = np.sort(a)
    else:  # sort each column as one contiguous row: the SIMD sort needs unit stride
        part = np.sort(np.ascontiguousarray(a.reshape(n, -1).T), axis=1).T.reshape(a.shape)
    rows = []
    for qq in q:
        pos = float(qq) / 100.0 * (n - 1)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        rows.append(_lerp(part[lo], part[hi], pos - lo))
    return np.asarray(rows, dtype=a.dtype)


def percentile(a: np.ndarray, q: float) -> float:
    """One percentile of the flattened array, as a float."""
    a = np.asarray(a).reshape(-1)
    n = a.size
    if n == 0:
        raise ValueError('percentile of an empty array')
    part = np.sort(a if a.dtype.kind == 'f' else a.astype(np.float64))
    pos = float(q) / 100.0 * (n - 1)
    lo = int(pos)
    return float(_lerp(float(part[lo]), float(part[min(lo + 1, n - 1)]), pos - lo))


def median(a: np.ndarray) -> float:
    """Median of the flattened array, as a float."""
    return percentile(a, 50.0)
