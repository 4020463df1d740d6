"""offline.qa: the question/answer geometry of object pairs."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import numpy as np  # noqa: E402
import pytest  # noqa: E402
pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')
from spatialvlm_ros.offline.qa import UNITS, QUALITATIVE, QUANTITATIVE, make_questions, pair_geometry  # noqa: E402
from spatialvlm_ros.core.types import ObjectObservation  # noqa: E402


def test_geometry_and_answers_in_a_level_camera():
    # optical frame: x right, y down, z forward; up = -y; offsets are (right, forward, up)
    a = _obs('a', [-0.2, -0.1, 1.0], [0.04, 0.1, 0.04])  # left, higher, tall
    b = _obs('b', [0.1, 0.0, 1.4], [0.12, 0.04, 0.12])
    g = pair_geometry(a, b, np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(g.offset, [-0.3, -0.4, 0.1], atol=1e-12)
    assert g.horizontal == pytest.approx(0.5) and g.distance == pytest.approx(np.sqrt(0.26))
    assert g.size_a[1] == pytest.approx(0.1, rel=0.05)  # (width, height, depth) of the points' box
    rng = np.random.default_rng(0)
    qas = make_questions(rng, ('a', 'b'), ('cup', 'box'), g, 600, 0.02)
    assert {q.category for q in qas} == set(QUALITATIVE) | set(QUANTITATIVE)
    assert 0.35 < sum(q.qualitative for q in qas) / len(qas) < 0.65
    for q in qas:
        truth = {'left_of': True, 'right_of': False, 'above': True, 'below': False,
                 'in_front_of': True, 'behind': False, 'taller': True, 'shorter': False,
                 'wider': False, 'thinner': True, 'bigger': False, 'smaller': True}.get(q.category)
        if truth is not None:
            assert q.answer.startswith(('Yes', 'Correct') if truth else ('No', 'Incorrect')), (q.question, q.answer)
        if q.category in ('which_closer', 'which_higher', 'which_left'):
            assert 'cup' in q.answer, (q.question, q.answer)
        if not q.qualitative:
            per = UNITS[q.unit][0]
            assert q.answer_value * per == pytest.approx(q.value_m, abs=per * 0.06)
            assert f'{q.answer_value:g}' in q.answer
            if q.category == 'distance':
                assert q.value_m == pytest.approx(g.distance)
            if q.category == 'lateral_offset':
                assert 'left' in q.question and q.value_m == pytest.approx(0.3)
    assert {q.unit for q in qas if q.unit} == set(UNITS)  # units drawn at random
    assert len({q.question for q in qas if q.category == 'distance'}) > 1  # several phrasings


def test_relations_within_the_margin_are_never_asked():
    a, b = _obs('a', [0.0, 0.0, 1.0], [0.05] * 3), _obs('b', [0.005, 0.0, 1.0], [0.05] * 3)
    g = pair_geometry(a, b, np.array([0.0, -1.0, 0.0]))
    qas = make_questions(np.random.default_rng(1), ('a', 'b'), ('A', 'B'), g, 200, 0.02)
    assert not [q for q in qas if q.qualitative] and not [q for q in qas if q.category == 'lateral_offset']


def _obs(name, center, size):
    c = np.asarray(center, float)
    g = np.stack(np.meshgrid(*[np.linspace(-s / 2, s / 2, 6) for s in size], indexing='ij'), -1).reshape(-1, 3)
    return ObjectObservation(name=name, center=c, extent=np.asarray(size, float), points=(g + c).astype(np.float32),
                             pixel_count=len(g))
