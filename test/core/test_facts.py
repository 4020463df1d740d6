"""Spatial facts from observations with known centres, and end to end from a rendered frame."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spatialvlm_ros.core.errors import FrameError, SpatialError
from spatialvlm_ros.core.facts import FactsConfig, compute_facts, distance, relation_holds
from spatialvlm_ros.core.types import ObjectObservation
from scipy.spatial import cKDTree
from spatialvlm_ros.core.facts import closest_distance


def obs(name: str, center, n: int = 200, frame_id: str = 'cam', stamp_ns: int = 7) -> ObjectObservation:
    c = np.asarray(center, np.float64)
    pts = (c + np.random.default_rng(0).normal(0, 0.005, (n, 3))).astype(np.float32)
    return ObjectObservation(
        name=name, center=c, extent=np.full(3, 0.05), points=pts, pixel_count=n, frame_id=frame_id, stamp_ns=stamp_ns
    )


def by_type(facts, subject, obj):
    return {f.type: f for f in facts if (f.subject, f.object) == (subject, obj)}


def test_distance_equals_analytic():
    a, b = obs('a', (0.1, -0.2, 0.7)), obs('b', (-0.2, 0.2, 1.9))
    assert distance(a, b) == pytest.approx(math.sqrt(0.3**2 + 0.4**2 + 1.2**2), abs=1e-12)
    facts = compute_facts({'a': a, 'b': b})
    d = by_type(facts, 'a', 'b')['distance']
    assert d.value == pytest.approx(1.3, abs=1e-12) and d.unit == 'm' and d.holds is None


def test_relations_decided_on_each_axis():
    # block: left of, above and in front of the target (optical frame: y down, z forward)
    block, target = obs('block', (-0.10, -0.05, 0.60)), obs('target', (0.10, 0.05, 0.80))
    facts = compute_facts({'block': block, 'target': target})
    got = by_type(facts, 'block', 'target')
    assert set(got) == {'distance', 'left_of', 'above', 'in_front_of'}
    assert all(got[t].holds is True for t in ('left_of', 'above', 'in_front_of'))
    assert got['left_of'].value == pytest.approx(-0.20)
    assert got['above'].value == pytest.approx(-0.10)
    assert got['in_front_of'].value == pytest.approx(-0.20)
    # the reverse order gives the opposite relations
    rev = by_type(compute_facts({'target': target, 'block': block}), 'target', 'block')
    assert set(rev) == {'distance', 'right_of', 'below', 'behind'}
    assert relation_holds(facts, 'right_of', 'target', 'block') is True
    assert relation_holds(facts, 'left_of', 'target', 'block') is False
    assert relation_holds(facts, 'behind', 'block', 'target') is False


def test_inside_margin_is_undecided():
    a, b = obs('a', (0.005, -0.3, 0.600)), obs('b', (0.0, 0.0, 0.615))
    got = by_type(compute_facts({'a': a, 'b': b}, FactsConfig(margin_m=0.02)), 'a', 'b')
    assert set(got) == {'distance', 'undecided_x', 'above', 'undecided_z'}
    assert got['undecided_x'].holds is None and got['undecided_x'].value == pytest.approx(0.005)
    assert got['undecided_z'].holds is None and got['undecided_z'].value == pytest.approx(-0.015)
    facts = compute_facts({'a': a, 'b': b})
    assert relation_holds(facts, 'left_of', 'a', 'b') is None
    assert relation_holds(facts, 'below', 'b', 'a') is True
    # a tighter margin decides it
    tight = by_type(compute_facts({'a': a, 'b': b}, FactsConfig(margin_m=0.001)), 'a', 'b')
    assert tight['right_of'].holds is True and tight['in_front_of'].holds is True


def test_all_pairs_in_order_and_metadata():
    spec = [('a', (0, 0, 1), 10, 5), ('b', (1, 0, 1), 500, 5), ('c', (0, 1, 1), 100, 9)]
    objs = {name: obs(name, c, n=p, stamp_ns=s) for name, c, p, s in spec}
    objs['missing'] = None
    facts = compute_facts(objs)
    assert len(facts) == 3 * 4
    assert [(f.subject, f.object) for f in facts[::4]] == [('a', 'b'), ('a', 'c'), ('b', 'c')]
    ab = by_type(facts, 'a', 'b')['distance']
    assert ab.confidence == pytest.approx(1 - math.exp(-10 / 50))
    assert by_type(facts, 'b', 'c')['distance'].confidence == pytest.approx(1 - math.exp(-100 / 50))
    assert ab.frame == 'cam' and ab.stamp_ns == 5 and by_type(facts, 'a', 'c')['distance'].stamp_ns == 9
    # serialisable as JSON through SpatialFact.to_dict
    dumped = json.loads(json.dumps([f.to_dict() for f in facts]))
    assert dumped[1]['type'] == 'left_of' and dumped[1]['holds'] is True and dumped[0]['holds'] is None


def test_errors():
    with pytest.raises(FrameError, match="transform both into one frame"):
        distance(obs('a', (0, 0, 1)), obs('b', (0, 0, 1), frame_id='world'))
    with pytest.raises(SpatialError, match='margin_m: expected a finite number >= 0'):
        FactsConfig(margin_m=-1)
    with pytest.raises(SpatialError, match='unknown relation'):
        relation_holds([], 'near', 'a', 'b')


def test_end_to_end_from_rendered_frame():
    """Colour grounding + lifting + facts on a ray-cast scene with a red cube and a blue sphere."""
    from support.scenes import BACKWALL, K, Box, Sphere, render

    from spatialvlm_ros.core.grounding import ObjectQuery, make_grounder
    from spatialvlm_ros.core.lifting import LiftConfig, lift_objects
    from spatialvlm_ros.core.types import Frame

    block_c, target_c = np.array([-0.08, 0.03, 0.65]), np.array([0.09, -0.04, 0.75])
    shapes = [Box(tuple(block_c), (0.05, 0.05, 0.05)), Sphere(tuple(target_c), 0.03), BACKWALL]
    depth, label = render(shapes, noise_m=0.001)
    rgb = np.full(depth.shape + (3,), 170, np.uint8)
    rgb[label == 0] = (210, 25, 20)
    rgb[label == 1] = (20, 40, 200)
    frame = Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=42, frame_id='cam')
    queries = [ObjectQuery('block', 'red block'), ObjectQuery('target', 'blue target')]
    masks = make_grounder('color').ground(frame, queries)
    objects = lift_objects(frame, masks, LiftConfig())
    facts = compute_facts(objects)
    got = by_type(facts, 'block', 'target')
    assert got['distance'].value == pytest.approx(np.linalg.norm(block_c - target_c), abs=0.005)
    assert got['left_of'].holds and got['below'].holds and got['in_front_of'].holds
    assert got['distance'].stamp_ns == 42 and got['distance'].confidence > 0.99


def _obs(points: np.ndarray) -> ObjectObservation:
    return ObjectObservation(name='o', center=points.mean(axis=0), extent=np.ones(3), points=points.astype(np.float32),
                             pixel_count=len(points), frame_id='cam', stamp_ns=0)


def test_closest_distance_equals_the_exhaustive_search():
    rng = np.random.default_rng(3)
    for _ in range(200):
        na, nb = rng.integers(1, 2500, size=2)
        a = rng.normal(size=(na, 3)) * rng.uniform(0.005, 0.1)
        # From far apart to interpenetrating (a gripper holding a block).
        b = rng.normal(size=(nb, 3)) * rng.uniform(0.005, 0.1) + rng.normal(size=3) * rng.uniform(0.0, 0.3)
        oa, ob = _obs(a), _obs(b)
        pa = oa.points[:: max(1, -(-na // 400))]
        pb = ob.points[:: max(1, -(-nb // 400))]
        truth = float(cKDTree(pb).query(pa, k=1)[0].min())
        assert closest_distance(oa, ob, 400) == pytest.approx(truth, abs=1e-9)


def test_an_uncertain_up_says_so_in_every_fact_read_along_it():
    """Relations and sizes carry the up's confidence; distances, the same along any axes, do not."""
    from spatialvlm_ros.core.gravity import Gravity

    block, target = obs('block', (-0.10, -0.05, 0.60)), obs('target', (0.10, 0.05, 0.80))
    up = np.array([0.0, -1.0, 0.0])
    sure = compute_facts({'block': block, 'target': target}, gravity=Gravity(up=up, source='given', confidence=1.0))
    unsure = compute_facts({'block': block, 'target': target}, gravity=Gravity(up=up, source='plane', confidence=0.3))
    assert [f.type for f in sure] == [f.type for f in unsure] and [f.value for f in sure] == [f.value for f in unsure]
    for a, b in zip(sure, unsure):
        if a.type in ('distance', 'closest_distance'):
            assert b.confidence == a.confidence > 0.5
        else:
            assert b.confidence == pytest.approx(0.3 * a.confidence, rel=1e-12), a.type
    assert {f.type for f in sure} >= {'left_of', 'above', 'in_front_of', 'height', 'width'}
