"""core.pipeline.SpatialPipeline: ground -> gravity -> lift, then facts; known objects are not grounded;
results keep the queries' order; sizes are measured once in perceive and reused by relate."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline
from spatialvlm_ros.core.transform import kinematic_observation
from support.scenes import Box, Plane, frame_of, render

QUERIES = (ObjectQuery('left', '1'), ObjectQuery('right', '2'), ObjectQuery('hand', '9'))


@pytest.fixture(scope='module')
def scene():
    up = (0.0, -1.0, 0.0)
    shapes = [Plane((0.0, 0.05, 0.0), up), Box((-0.1, 0.025, 0.8), (0.05, 0.05, 0.05), np.eye(3)),
              Box((0.1, 0.0, 0.8), (0.05, 0.1, 0.05), np.eye(3))]
    depth, label = render(shapes)
    return frame_of(depth, label), label


def _pipeline(**kw):
    return SpatialPipeline(PipelineConfig(queries=QUERIES, grounder='mask', lift=LiftConfig(center_mode='support'),
                                          **kw))


def test_perceive_then_relate_is_process(scene):
    frame, label = scene
    pipe = _pipeline()
    pipe.grounder.set_masks(label_image=label)
    perceived = pipe.perceive(frame)
    assert list(perceived.objects) == ['left', 'right', 'hand'] and perceived.facts == ()
    assert perceived.missing == ['hand']  # no pixel has label 9: reported missing, not guessed
    assert set(perceived.sizes) == {'left', 'right'}
    np.testing.assert_allclose(perceived.sizes['right'], (0.05, 0.10, 0.05), atol=0.01)  # width, height, depth
    np.testing.assert_allclose(perceived.gravity.up, (0.0, -1.0, 0.0), atol=0.02)  # the table plane
    related = pipe.relate(perceived)
    again = pipe.process(frame)
    assert [f.to_dict() for f in related.facts] == [f.to_dict() for f in again.facts]
    left_of = [f for f in related.facts if f.type in ('left_of', 'right_of')]
    assert [(f.type, f.subject, f.object) for f in left_of] == [('left_of', 'left', 'right')]
    taller = [f for f in related.facts if f.type in ('taller', 'shorter')]
    assert [(f.type, f.subject, f.object) for f in taller] == [('shorter', 'left', 'right')]


def test_known_objects_take_part_without_grounding(scene):
    frame, label = scene
    pipe = _pipeline()
    pipe.grounder.set_masks(label_image=label)
    hand = kinematic_observation('hand', (0.1, -0.2, 0.8), frame.frame_id, frame.stamp_ns)
    result = pipe.process(frame, known={'hand': hand})
    assert result.objects['hand'] is hand and not result.missing
    above = [f for f in result.facts if f.subject == 'right' and f.object == 'hand' and f.type in ('above', 'below')]
    assert [f.type for f in above] == ['below']


def test_a_given_rotation_overrides_the_plane_and_use_gravity_off_uses_the_camera(scene):
    frame, label = scene
    pitched = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # base z up = camera -y
    pipe = _pipeline(base_rotation=tuple(pitched.ravel()))
    pipe.grounder.set_masks(label_image=label)
    assert pipe.perceive(frame).gravity.source != 'plane'
    off = _pipeline(use_gravity=False)
    off.grounder.set_masks(label_image=label)
    result = off.process(frame)
    assert result.gravity is None and {f.frame for f in result.facts} == {frame.frame_id}


@pytest.mark.parametrize('kw, says', [
    ({'queries': ()}, 'no objects to find'),
    ({'queries': (ObjectQuery('a', '1'), ObjectQuery('a', '2'))}, 'object names must be unique'),
    ({'lift_overrides': {'nope': LiftConfig()}}, 'lift overrides for unknown objects'),
    ({'base_rotation': (1.0, 0.0)}, 'base_rotation: expected 9 numbers'),
])
def test_bad_configs_say_what_is_wrong(kw, says):
    with pytest.raises(GroundingError, match=says):
        PipelineConfig(**{'queries': QUERIES, **kw})
