"""Small 3-vector helpers for per-object (not per-point) maths on the per-frame hot path.

``np.cross`` costs ~80 us per call on 3-vectors (axis handling, broadcasting); these cost ~2 us.
"""

from __future__ import annotations

import numpy as np

__all__ = ['cross3']


def cross3(a, b) -> np.ndarray:
    """Cross product of two 3-vectors, float64."""
    a0, a1, a2 = float(a[0]), float(a[1]), float(a[2])
    b0, b1, b2 = float(b[0]), float(b[1]), float(b[2])
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])
