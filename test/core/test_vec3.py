"""core.vec3: the hot path's cross product equals numpy's."""

import numpy as np

from spatialvlm_ros.core.vec3 import cross3


def test_cross3_equals_numpys_cross_for_lists_arrays_and_ints():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.normal(size=3), rng.normal(size=3)
        np.testing.assert_allclose(cross3(a, b), np.cross(a, b), rtol=1e-12, atol=1e-15)
    r = cross3([1, 0, 0], (0, 1, 0))
    assert r.dtype == np.float64 and r.tolist() == [0.0, 0.0, 1.0]
