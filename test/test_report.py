import numpy as np
import pytest
from scipy.stats import spearmanr

from spatialvlm_ros.report import percentiles, spearman


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 50).astype(float)
    b = a + rng.normal(0, 1, 50)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_spearman_edge_cases():
    assert spearman([1, 2], [1, 2]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_percentiles():
    assert percentiles([1, 2, 3, 4, 5]) == {'median': 3.0, 'p95': pytest.approx(4.8)}
    assert percentiles([]) == {'median': None, 'p95': None}
