"""The JSON documents the nodes publish and the offline tools write (messages/serialize.py):
objects, facts and reward documents round-trip through the wire text, carry the frame's stamp and
frame_id, keep the gravity-aligned and the camera-axis boxes apart, read documents older than
``extent_camera_m``, never put NaN on the wire, and reject malformed documents with a message."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.types import ObjectObservation, RewardSample, SpatialFact
from spatialvlm_ros.messages import serialize
from spatialvlm_ros.messages.serialize import (dumps, facts_to_doc, header_dict, loads, objects_from_doc,
                                               objects_to_doc, reward_to_doc)
from support.scenes import _extents, tilted_result

STAMP = 1_700_000_001_123_456_789
FRAME = 'cam_optical'


def obs(name, center, extent, n=40, pixels=55, source='depth', visible=1.0):
    return ObjectObservation(name=name, center=np.array(center, float), extent=np.array(extent, float),
                             points=np.zeros((n, 3), np.float32), pixel_count=pixels, frame_id=FRAME,
                             stamp_ns=STAMP, source=source, visible_fraction=visible)


OBJECTS = {
    'gripper': obs('gripper', [0.01, -0.02, 0.7], [0.0, 0.0, 0.0], n=1, pixels=0, source='kinematic'),
    'block': None,
    'target': obs('target', [0.2, 0.05, 0.9], [0.1, 0.002, 0.12], visible=0.6666),
}
# gravity-aligned [width, height, depth]: deliberately unlike the camera-axis boxes above
EXTENTS = {'gripper': [0.0, 0.0, 0.0], 'target': [0.11, 0.13, 0.003]}


def wire(doc):
    """What a subscriber gets: the document through its std_msgs/String text."""
    return loads(dumps(doc))


@pytest.fixture(scope='module')
def tilted():
    return tilted_result()


def test_header_carries_the_stamp_three_ways_and_the_frame():
    assert header_dict(STAMP, FRAME) == {'stamp': {'sec': 1_700_000_001, 'nanosec': 123_456_789},
                                         'stamp_ns': STAMP, 'frame_id': FRAME}
    assert header_dict(0, '')['stamp'] == {'sec': 0, 'nanosec': 0}
    h = header_dict(np.int64(5_000_000_001), 'x')
    assert h['stamp'] == {'sec': 5, 'nanosec': 1} and type(h['stamp_ns']) is int


def test_objects_document_round_trips_with_stamp_frame_and_both_boxes():
    doc = wire(objects_to_doc(OBJECTS, STAMP, FRAME, EXTENTS))
    assert doc['stamp'] == {'sec': 1_700_000_001, 'nanosec': 123_456_789}
    assert doc['stamp_ns'] == STAMP and doc['frame_id'] == FRAME
    assert [o['name'] for o in doc['objects']] == ['gripper', 'target'] and doc['missing'] == ['block']
    target = doc['objects'][1]
    assert target['center_m'] == [0.2, 0.05, 0.9]
    assert target['extent_m'] == [0.11, 0.13, 0.003]  # the gravity-aligned box
    assert target['extent_camera_m'] == [0.1, 0.002, 0.12]  # the box along the axes of frame_id
    assert (target['points'], target['pixels'], target['source']) == (40, 55, 'depth')
    assert target['visible_fraction'] == 0.667
    assert doc['objects'][0]['source'] == 'kinematic' and doc['objects'][0]['points'] == 1

    stamp, frame, back = objects_from_doc(doc)
    assert (stamp, frame) == (STAMP, FRAME)
    assert list(back) == ['gripper', 'target', 'block'] and back['block'] is None
    t = back['target']
    assert t.name == 'target' and t.frame_id == FRAME and t.stamp_ns == STAMP
    np.testing.assert_array_equal(t.center, [0.2, 0.05, 0.9])
    np.testing.assert_array_equal(t.extent, [0.1, 0.002, 0.12])  # extent is the camera-axis box
    assert t.points.shape == (0, 3)  # points are not carried
    assert t.pixel_count == 55 and t.source == 'depth' and t.visible_fraction == pytest.approx(0.667)
    assert back['gripper'].source == 'kinematic'


def test_objects_document_values_are_rounded_plain_floats():
    o = {'a': obs('a', [1 / 3, np.float32(0.25), 2], [np.float64(1e-9), 0.1234567, 1])}
    doc = objects_to_doc(o, STAMP, FRAME, {'a': np.array([0.3333333333, 0, 0])})
    a = doc['objects'][0]
    assert a['center_m'] == [0.333333, 0.25, 2.0] and a['extent_camera_m'] == [0.0, 0.123457, 1.0]
    assert a['extent_m'] == [0.333333, 0.0, 0.0]
    assert all(type(v) is float for v in a['center_m'] + a['extent_m'] + a['extent_camera_m'])
    json.loads(dumps(doc))  # plain JSON


def test_a_legacy_objects_document_reads_its_extent_m_as_the_camera_box():
    legacy = {'stamp': {'sec': 1, 'nanosec': 2}, 'stamp_ns': 1_000_000_002, 'frame_id': 'old',
              'objects': [{'name': 'block', 'center_m': [0.1, 0.2, 0.8], 'extent_m': [0.04, 0.05, 0.06],
                           'points': 80, 'pixels': 90}],
              'missing': []}
    stamp, frame, back = objects_from_doc(wire(legacy))
    assert (stamp, frame) == (1_000_000_002, 'old')
    b = back['block']
    np.testing.assert_array_equal(b.extent, [0.04, 0.05, 0.06])
    # keys added later have their documented defaults
    assert b.source == 'depth' and b.visible_fraction == 1.0 and b.pixel_count == 90
    # with both keys the camera box is extent_camera_m, not the gravity-aligned extent_m
    both = dict(legacy, objects=[dict(legacy['objects'][0], extent_camera_m=[0.4, 0.5, 0.6])])
    np.testing.assert_array_equal(objects_from_doc(both)[2]['block'].extent, [0.4, 0.5, 0.6])
    # without pixels, missing: 0 and none
    bare = {'stamp_ns': 7, 'frame_id': 'f', 'objects': [{'name': 'x', 'center_m': [0, 0, 1], 'extent_m': [0, 0, 0]}]}
    _, _, got = objects_from_doc(bare)
    assert list(got) == ['x'] and got['x'].pixel_count == 0


def test_facts_document_round_trips_with_stamp_and_frame():
    facts = [SpatialFact('distance', 'block', 'target', 0.1234, 'm', FRAME, None, 0.9, STAMP),
             SpatialFact('left_of', 'gripper', 'target', 0.05, 'm', FRAME, True, 1.0, STAMP)]
    doc = wire(facts_to_doc(facts, STAMP, FRAME))
    assert doc['stamp'] == {'sec': 1_700_000_001, 'nanosec': 123_456_789}
    assert doc['stamp_ns'] == STAMP and doc['frame_id'] == FRAME
    assert doc['facts'] == [f.to_dict() for f in facts]
    assert [SpatialFact(**f) for f in doc['facts']] == facts
    assert doc['facts'][1]['holds'] is True and doc['facts'][0]['holds'] is None
    assert facts_to_doc([], STAMP, FRAME)['facts'] == [] and 'up' not in doc
    # read along an up: the document says which, and how sure it was
    from spatialvlm_ros.core.gravity import Gravity
    g = Gravity(up=np.array([0.0, -1.0, 0.0]), source='plane', confidence=0.4, averaged_frames=3)
    assert wire(facts_to_doc(facts, STAMP, FRAME, g))['up'] == {'source': 'plane', 'confidence': 0.4,
                                                                'averaged_frames': 3}


def _sample(reward, valid=True, missing=()):
    return RewardSample(stamp_ns=STAMP, reward=reward, stage=1, stage_name='carry', success=False,
                        distances={'gripper-block': 0.02, 'block-target': None}, terms={'carry': reward},
                        valid=valid, missing=missing)


def test_reward_document_carries_the_frame_stamp_and_the_sample():
    doc = wire(reward_to_doc(_sample(-0.25), FRAME))
    assert doc['stamp'] == {'sec': 1_700_000_001, 'nanosec': 123_456_789}
    assert doc['stamp_ns'] == STAMP and doc['frame_id'] == FRAME
    assert doc['reward'] == -0.25 and doc['stage'] == 1 and doc['stage_name'] == 'carry'
    assert doc['distances'] == {'gripper-block': 0.02, 'block-target': None}
    assert doc['valid'] is True and doc['missing'] == [] and doc['success'] is False


def test_a_nan_reward_is_null_on_the_wire_never_a_number():
    sample = RewardSample(stamp_ns=STAMP, reward=float('nan'), stage=0, stage_name='reach', success=False,
                          distances={'gripper-block': None}, terms={}, valid=False, missing=('block',))
    text = dumps(reward_to_doc(sample, FRAME))
    assert '"reward":null' in text and 'NaN' not in text
    doc = loads(text)
    assert doc['reward'] is None and doc['valid'] is False and doc['missing'] == ['block']
    inf = RewardSample(stamp_ns=STAMP, reward=float('inf'), stage=0, stage_name='reach', success=False,
                       distances={}, terms={}, valid=False)
    assert loads(dumps(reward_to_doc(inf, FRAME)))['reward'] is None


def test_dumps_refuses_nan_anywhere_and_is_compact():
    with pytest.raises(ValueError):
        dumps({'x': math.nan})
    assert dumps({'a': [1, 2], 'b': {'c': None}}) == '{"a":[1,2],"b":{"c":null}}'


@pytest.mark.parametrize('text, message', [
    ('{"stamp_ns": 1', 'not a JSON document'),
    ('', 'not a JSON document'),
    ('NaN-ish garbage', 'not a JSON document'),
    ('[1, 2]', 'expected a JSON object, got list'),
    ('"objects"', 'expected a JSON object, got str'),
    ('null', 'expected a JSON object, got NoneType'),
])
def test_loads_rejects_what_is_not_a_json_object(text, message):
    with pytest.raises(SpatialError, match=message):
        loads(text)


GOOD = {'stamp_ns': 5, 'frame_id': 'f', 'objects': [{'name': 'x', 'center_m': [0, 0, 1], 'extent_m': [0, 0, 0]}],
        'missing': []}


@pytest.mark.parametrize('broken, names', [
    ({k: v for k, v in GOOD.items() if k != 'stamp_ns'}, 'stamp_ns'),
    ({k: v for k, v in GOOD.items() if k != 'frame_id'}, 'frame_id'),
    ({k: v for k, v in GOOD.items() if k != 'objects'}, 'objects'),
    (dict(GOOD, stamp_ns='soon'), 'soon'),
    (dict(GOOD, objects=[{'center_m': [0, 0, 1], 'extent_m': [0, 0, 0]}]), 'name'),
    (dict(GOOD, objects=[{'name': 'x', 'extent_m': [0, 0, 0]}]), 'center_m'),
    (dict(GOOD, objects=[{'name': 'x', 'center_m': [0, 1], 'extent_m': [0, 0, 0]}]), 'reshape'),
    (dict(GOOD, objects=[{'name': 'x', 'center_m': [0, 0, 1]}]), 'extent_m'),
    (dict(GOOD, objects=[{'name': 'x', 'center_m': ['a', 'b', 'c'], 'extent_m': [0, 0, 0]}]), 'could not convert'),
    (dict(GOOD, objects=[{'name': 'x', 'center_m': [0, 0, 1], 'extent_m': [0, 0, 0], 'pixels': 'many'}]), 'many'),
    (dict(GOOD, objects=['x']), 'indices'),
    (dict(GOOD, objects=None), 'NoneType'),
    (dict(GOOD, missing=None), 'NoneType'),
])
def test_malformed_objects_documents_raise_spatial_error_saying_what(broken, names):
    objects_from_doc(GOOD)  # the unbroken document reads
    with pytest.raises(SpatialError, match='malformed objects document') as info:
        objects_from_doc(broken)
    assert names in str(info.value)
    assert isinstance(info.value.__cause__, (KeyError, TypeError, ValueError))


def test_public_names():
    assert set(serialize.__all__) == {'header_dict', 'objects_to_doc', 'objects_from_doc', 'facts_to_doc',
                                      'reward_to_doc', 'dumps', 'loads', 'up_from_doc'}


def test_the_frames_up_and_the_gravity_sizes_travel_with_the_objects():
    obs = ObjectObservation(name='box', center=np.array([0.1, 0.2, 0.9]), extent=np.array([0.05, 0.04, 0.03]),
                            points=np.zeros((5, 3), np.float32), pixel_count=5)
    doc = serialize.loads(serialize.dumps(serialize.objects_to_doc({'box': obs}, 7, 'cam', {'box': [0.06, 0.1, 0.04]},
                                                                   up=(0.0, -0.6, -0.8))))
    np.testing.assert_allclose(serialize.up_from_doc(doc), (0.0, -0.6, -0.8))
    _, _, objects = serialize.objects_from_doc(doc)
    np.testing.assert_allclose(objects['box'].size, (0.06, 0.1, 0.04))  # extent_m: width, height, depth
    np.testing.assert_allclose(objects['box'].extent, (0.05, 0.04, 0.03))  # the camera box
    no_up = serialize.loads(serialize.dumps(serialize.objects_to_doc({'box': obs}, 7, 'cam', {'box': [0.06, 0.1, 0.04]})))
    assert 'up' not in no_up and serialize.up_from_doc(no_up) is None


def test_round_trip_and_old_documents_give_the_camera_box(tilted):
    obs = tilted.objects['box']
    doc = serialize.objects_to_doc(tilted.objects, STAMP, 'cam', _extents(tilted))
    stamp, frame_id, back = serialize.objects_from_doc(serialize.loads(serialize.dumps(doc)))
    assert (stamp, frame_id) == (STAMP, 'cam')
    np.testing.assert_allclose(back['box'].extent, obs.extent, atol=1e-6)  # what ObjectObservation.extent means
    np.testing.assert_allclose(back['box'].center, obs.center, atol=1e-6)
    assert back['box'].visible_fraction == pytest.approx(obs.visible_fraction, abs=1e-3)
    # a document written before extent_camera_m existed carried the camera box as extent_m
    old = serialize.loads(serialize.dumps(doc))
    o = old['objects'][0]
    o['extent_m'] = o.pop('extent_camera_m')
    del o['visible_fraction']  # nor the share in view: the whole object, as before
    _, _, back = serialize.objects_from_doc(old)
    np.testing.assert_allclose(back['box'].extent, obs.extent, atol=1e-6)
    assert back['box'].visible_fraction == 1.0
