"""core.stats: the hot path's percentiles give the same answers as numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.stats import median, percentile, percentiles


@pytest.mark.parametrize('dtype', [np.float32, np.float64, np.int32])
@pytest.mark.parametrize('n', [1, 2, 7, 1000, 3001])
def test_percentiles_equal_numpys_linear_interpolation(dtype, n):
    rng = np.random.default_rng(n)
    a = (rng.normal(size=(n, 3)) * 100).astype(dtype)
    for q in ((1.0, 99.0), (50.0,), (0.0, 100.0), (75.0, 12.5, 3.3)):
        np.testing.assert_allclose(percentiles(a, q, axis=0), np.percentile(a, q, axis=0), rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(percentiles(a, q), np.percentile(a, q), rtol=1e-6, atol=1e-4)
    assert median(a[:, 1]) == pytest.approx(float(np.median(a[:, 1])), rel=1e-6, abs=1e-4)
    assert percentile(a[:, 2], 1.0) == pytest.approx(float(np.percentile(a[:, 2], 1.0)), rel=1e-6, abs=1e-4)


def test_percentiles_reject_what_they_cannot_do():
    with pytest.raises(ValueError, match='empty'):
        percentiles(np.zeros((0, 3)), (50.0,), axis=0)
    with pytest.raises(ValueError, match='axis'):
        percentiles(np.zeros((4, 3)), (50.0,), axis=1)
