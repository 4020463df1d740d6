import numpy as np
import pytest
from scipy.stats import spearmanr

from spatialvlm_ros.offline.score import percentiles, spearman


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


def test_score_run_ignores_solver_jitter_but_not_motion():
    from spatialvlm_ros.core.task import parse_task
    from spatialvlm_ros.offline.score import score_run

    task = parse_task({'name': 't', 'objects': {'a': 'red', 'b': 'blue'}, 'stages': [{'distance': ['a', 'b']}]})
    gts, rewards = [], {}
    for i in range(40):
        d = 0.3 - 0.01 * min(i, 20) + (1e-7 * (-1) ** i if i >= 20 else 0.0)  # moves, then rests with jitter
        gts.append({'stamp_ns': i, 'a': [0.0, 0.0, 1.0], 'b': [d, 0.0, 1.0]})
        measured = 0.3 - 0.01 * min(i, 20) + 0.002  # a constant 2 mm bias, constant while resting
        rewards[i] = {'valid': True, 'reward': -measured, 'stage': 0, 'distances': {'a-b': measured}}
    s = score_run(task, gts, rewards)
    assert s['reward_spearman_vs_ground_truth'] == pytest.approx(1.0)
    assert s['distance_error_m']['median'] == pytest.approx(0.002, abs=1e-6)
    # a measurement that gets the order of real motion wrong is still penalised
    rewards[5], rewards[15] = rewards[15], rewards[5]
    assert score_run(task, gts, rewards)['reward_spearman_vs_ground_truth'] < 0.99
