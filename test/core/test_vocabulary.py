"""The one spatial vocabulary: analytic gravity-frame facts for a tilted camera, the camera-frame
variant as the same code with up = camera -y, and a relation added in one place only."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from spatialvlm_ros.core import vocabulary as vocab
from spatialvlm_ros.core.facts import FactsConfig, compute_facts, relation_holds
from spatialvlm_ros.core.gravity import Gravity, gravity_basis
from spatialvlm_ros.core.sizes import object_sizes
from spatialvlm_ros.core.types import ObjectObservation
from spatialvlm_ros.offline.qa import make_questions, pair_geometry
from spatialvlm_ros.vlm.evaluation import EvalConfig, questions_from_ground_truth
from spatialvlm_ros.vlm.prompts import TEMPLATES, interpret_question, make_question


def _tilted_up(pitch_deg: float = 30.0, roll_deg: float = 10.0) -> np.ndarray:
    """World up in the optical frame of a camera pitched down by ``pitch_deg`` and rolled by ``roll_deg``."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    up = np.array([0.0, -math.cos(p), -math.sin(p)])  # looking down: up leans towards the camera (-z)
    rz = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    return rz @ up


UP = _tilted_up()
BASIS = gravity_basis(UP)  # rows: right, forward, up (optical frame)
ORIGIN = np.array([0.0, 0.1, 1.0])


def _at(rfu) -> np.ndarray:
    """Optical-frame point at (right, forward, up) metres from ORIGIN in the gravity frame."""
    return ORIGIN + BASIS.T @ np.asarray(rfu, np.float64)


def _obj(name: str, rfu, whd) -> ObjectObservation:
    """A box of (width, height, depth) ``whd`` metres, gravity-aligned, filled with a point grid."""
    w, h, d = whd
    axes = [np.linspace(-s / 2, s / 2, 9) for s in (w, d, h)]  # along right, forward, up
    grid = np.stack(np.meshgrid(*axes, indexing='ij'), -1).reshape(-1, 3)
    c = _at(rfu)
    pts = (c + grid @ BASIS).astype(np.float64)
    return ObjectObservation(name=name, center=c, extent=np.ptp(pts, axis=0), points=pts.astype(np.float32),
                             pixel_count=len(pts), frame_id='cam', stamp_ns=3)


GRAVITY = Gravity(up=UP, source='given', confidence=1.0)
# a: left of, above and in front of b; taller and thinner, smaller
A = _obj('a', (-0.20, -0.10, 0.15), (0.04, 0.20, 0.04))
B = _obj('b', (0.10, 0.30, 0.00), (0.12, 0.06, 0.12))


def _facts(objs):
    return compute_facts({o.name: o for o in objs}, FactsConfig(), gravity=GRAVITY)


def _by_type(facts, s, o):
    return {f.type: f for f in facts if (f.subject, f.object) == (s, o)}


def test_the_tilted_camera_frame_is_right_forward_up():
    assert BASIS[2] @ np.array([0.0, -1.0, 0.0]) < math.cos(math.radians(29))  # really tilted
    np.testing.assert_allclose(BASIS @ BASIS.T, np.eye(3), atol=1e-12)
    m = vocab.measure_pair(_at((0.3, -0.2, 0.1)), _at((0.0, 0.0, 0.0)), UP)
    np.testing.assert_allclose(m.offset, [0.3, -0.2, 0.1], atol=1e-12)


def test_direction_and_sign_of_predicates_in_both_orders():
    facts = _facts([A, B])
    expect = {'left_of': True, 'right_of': False, 'above': True, 'below': False, 'in_front_of': True,
              'behind': False, 'taller': True, 'shorter': False, 'wider': False, 'thinner': True,
              'bigger': False, 'smaller': True}
    for rel, holds in expect.items():
        assert relation_holds(facts, rel, 'a', 'b') is holds, rel
        inverse = vocab.REGISTRY[rel].inverse
        assert relation_holds(facts, inverse, 'b', 'a') is holds, rel  # inverse consistency
        assert relation_holds(facts, rel, 'b', 'a') is (not holds), rel
    # the same in the other pair order of the mapping
    rev = _facts([B, A])
    for rel, holds in expect.items():
        assert relation_holds(rev, rel, 'a', 'b') is holds, rel
    got = _by_type(facts, 'a', 'b')
    # values: a - b along x right, y down, z forward (the second member's amount)
    assert got['left_of'].value == pytest.approx(-0.30, abs=1e-9)
    assert got['above'].value == pytest.approx(-0.15, abs=1e-9)
    assert got['in_front_of'].value == pytest.approx(-0.40, abs=1e-9)
    assert got['horizontal_distance'].value == pytest.approx(0.5, abs=1e-9)
    assert got['vertical_distance'].value == pytest.approx(0.15, abs=1e-9)
    assert got['distance'].value == pytest.approx(math.sqrt(0.25 + 0.0225), abs=1e-9)
    assert got['taller'].value == pytest.approx(0.14, abs=0.01) and got['taller'].holds is True


def test_within_the_margins_nothing_is_decided():
    a = _obj('a', (0.01, 0.0, -0.01), (0.10, 0.10, 0.10))
    b = _obj('b', (0.0, 0.015, 0.0), (0.11, 0.105, 0.10))  # sizes within 15 %
    facts = _facts([a, b])
    for rel in ('left_of', 'above', 'in_front_of', 'taller', 'wider', 'bigger'):
        assert relation_holds(facts, rel, 'a', 'b') is None, rel
    assert {'undecided_x', 'undecided_y', 'undecided_z', 'undecided_size', 'undecided_height',
            'undecided_width'} <= {f.type for f in facts}


def test_sizes_are_width_height_depth_in_the_gravity_frame():
    sizes = object_sizes({'a': A, 'b': B}, UP)
    np.testing.assert_allclose(sizes['a'], (0.04, 0.20, 0.04), rtol=0.02)
    np.testing.assert_allclose(sizes['b'], (0.12, 0.06, 0.12), rtol=0.02)
    per_object = {f.type: f.value for f in _facts([A, B]) if f.subject == 'a' and not f.object}
    np.testing.assert_allclose([per_object['width'], per_object['height'], per_object['depth']], sizes['a'])
    # precomputed sizes are used as given
    fake = {'a': np.array([1.0, 2.0, 3.0]), 'b': np.array([1.0, 1.0, 1.0])}
    facts = compute_facts({'a': A, 'b': B}, gravity=GRAVITY, sizes=fake)
    assert relation_holds(facts, 'taller', 'a', 'b') is True and relation_holds(facts, 'bigger', 'a', 'b') is True


@pytest.mark.parametrize('rfu, hour', [((0, 1, 0), 12), ((1, 0, 0), 3), ((0, -1, 0), 6), ((-1, 0, 0), 9),
                                       ((1, 1, 0.5), 1.5)])
def test_clock_position_of_b_seen_from_a(rfu, hour):
    a = _obj('a', (0, 0, 0), (0.05,) * 3)
    b = _obj('b', np.asarray(rfu, float) * 0.5, (0.05,) * 3)
    f = _by_type(_facts([a, b]), 'a', 'b')
    if hour == 1.5:  # 45 deg right of forward: between 1 and 2 o'clock, the bearing says pi/4
        assert f['direction'].value == pytest.approx(math.pi / 4)
        return
    assert f['clock_position'].value == hour
    assert f['direction'].value == pytest.approx((hour % 12) * math.pi / 6)


def test_camera_frame_facts_are_the_gravity_code_with_the_camera_up():
    rng = np.random.default_rng(4)
    objs = [_obj(n, rng.uniform(-0.3, 0.3, 3), (0.05, 0.05, 0.05)) for n in 'abc']
    camera = compute_facts({o.name: o for o in objs})  # no gravity
    level = compute_facts({o.name: o for o in objs}, gravity=Gravity(up=vocab.CAMERA_UP, source='prior',
                                                                    confidence=0.0))
    assert len(camera) == 4 * 3
    for f in camera:
        g = next(x for x in level if (x.subject, x.object) == (f.subject, f.object) and x.type == f.type)
        assert g.value == pytest.approx(f.value, abs=1e-15) and g.holds == f.holds and g.unit == f.unit
        assert f.frame == 'cam' and g.frame == 'cam@gravity'
    # and it is the optical frame's own axes: x right, y down, z forward
    d = objs[0].center - objs[1].center
    got = _by_type(camera, 'a', 'b')
    assert [f.value for f in list(got.values())[1:]] == pytest.approx(list(d), abs=1e-15)


THROWAWAY = vocab.Relation(
    'forward_gap', 'metric', measure=lambda m: abs(m.offset[vocab.FORWARD]), uses=frozenset({'facts', 'ask', 'synth'}),
    questions=('What is the forward gap between the {a} and the {b}?',), answers=('The forward gap is {v}.',),
    patterns=(r'forward gap',), rank=5)


@pytest.fixture
def throwaway():
    vocab.register(THROWAWAY)
    yield THROWAWAY
    vocab.unregister(THROWAWAY.name)


def test_a_relation_registered_once_reaches_facts_prompts_eval_and_synth(throwaway):
    facts = _facts([A, B])
    assert _by_type(facts, 'a', 'b')['forward_gap'].value == pytest.approx(0.4, abs=1e-9)
    assert 'forward_gap' in TEMPLATES
    q = make_question('forward_gap', 'red block', 'blue target')
    assert q.answer_type == 'distance' and q.text.startswith('What is the forward gap')
    assert interpret_question(q.text, ['red block', 'blue target']) == ('forward_gap', 'red block', 'blue target')
    gt = {'stamp_ns': 1, 'block': list(A.center), 'target': list(B.center)}
    kinds = {it.kind for s in range(60) for it in questions_from_ground_truth(
        gt, EvalConfig(objects={'block': 'red block', 'target': 'blue target'}), random.Random(s))}
    assert 'forward_gap' in kinds
    qas = make_questions(np.random.default_rng(0), ('a', 'b'), ('cup', 'box'), pair_geometry(A, B, UP), 200, 0.02)
    assert any(q.category == 'forward_gap' and q.answer.startswith('The forward gap is') for q in qas)


def test_the_throwaway_relation_is_gone_afterwards():
    assert 'forward_gap' not in vocab.REGISTRY and 'forward_gap' not in TEMPLATES
