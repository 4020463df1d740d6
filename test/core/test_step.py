"""core.step.FrameStep, the one per-frame step of the live node and the offline labeller: known positions,
the output transform, sizes measured once, facts in the camera's gravity frame, and a reward equal to the
reward node's on the published objects document."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.pipeline import PipelineConfig
from spatialvlm_ros.core.reward import reward_from_observations
from spatialvlm_ros.core.step import FrameStep, KnownPosition
from spatialvlm_ros.core.task import parse_task
from spatialvlm_ros.core.transform import RigidTransform, TransformError
from spatialvlm_ros.core.types import Frame
from spatialvlm_ros.messages import serialize

STAMP = 1_700_000_000_123_456_789
TASK = parse_task({'name': 'reach', 'objects': {'gripper': 'yellow gripper', 'box': 'red box'},
                   'stages': [{'name': 'reach', 'distance': ['gripper', 'box']}]})
# camera 0.5 m above the table origin of 'world', looking straight ahead (optical z = world x)
CAMERA_IN_WORLD = RigidTransform(rotation=np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                                 translation=np.array([0.0, 0.0, 0.5]), parent='world', child='cam')


@pytest.fixture(scope='module')
def scene():
    from support.scenes import Box, Plane, render

    up = np.array([0.0, -1.0, 0.0])
    centre = np.array([0.05, 0.0, 0.8])
    depth, label = render([Box(tuple(centre), (0.06, 0.08, 0.05), np.eye(3)),
                           Plane(tuple(centre + 0.04 * -up), tuple(up))], noise_m=0.0)
    from support.scenes import K

    frame = Frame(rgb=np.full(depth.shape + (3,), 128, np.uint8), depth=depth, intrinsics=K, stamp_ns=STAMP,
                  frame_id='cam')
    return frame, label == 0, centre


def _step(mask, task=TASK):
    config = PipelineConfig(queries=(ObjectQuery('gripper', 'yellow gripper'), ObjectQuery('box', 'red box')),
                            grounder='mask', lift=LiftConfig(center_mode='support'),
                            base_rotation=tuple(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]).ravel()))
    step = FrameStep(config, task)
    step.pipeline.grounder.set_masks(masks={'box': mask})
    return step


def test_known_position_in_the_output_frame_and_objects_transformed(scene):
    frame, mask, centre = scene
    step = _step(mask)
    grip_world = (0.8, -0.05, 0.62)  # 12 cm above the box top, in 'world'
    result = step(frame, {'gripper': KnownPosition(grip_world, 'world')}, CAMERA_IN_WORLD)
    assert result.frame_id == 'world' and result.camera_frame == 'cam'
    np.testing.assert_allclose(result.objects['gripper'].center, grip_world, atol=1e-12)
    np.testing.assert_allclose(result.camera_objects['gripper'].center, CAMERA_IN_WORLD.inverse().apply(grip_world))
    np.testing.assert_allclose(result.objects['box'].center, CAMERA_IN_WORLD.apply(result.camera_objects['box'].center))
    assert result.camera_objects['gripper'].source == 'kinematic'
    # sizes measured once, in the camera frame, (width, height, depth) along the camera's gravity frame
    np.testing.assert_allclose(result.sizes['box'], (0.06, 0.08, 0.05), atol=0.01)
    # facts in the camera's gravity frame, between the camera-frame observations
    assert {f.frame for f in result.facts} == {'cam@gravity'}
    above = [f for f in result.facts if f.type in ('above', 'below')]
    assert [(f.type, f.subject, f.object) for f in above] == [('above', 'gripper', 'box')]
    height = next(f.value for f in result.facts if f.type == 'height' and f.subject == 'box')
    assert height == result.sizes['box'][1]


def test_reward_is_the_reward_nodes_on_the_published_document(scene):
    frame, mask, _ = scene
    step = _step(mask)
    known = {'gripper': KnownPosition((0.123456789, -0.0987654321, 0.7), '')}
    result = step(frame, known)
    doc = serialize.loads(serialize.dumps(serialize.objects_to_doc(result.objects, result.stamp_ns, result.frame_id,
                                                                   result.sizes)))
    stamp, _, seen = serialize.objects_from_doc(doc)
    node_reward = reward_from_observations(TASK, seen, stamp)
    assert result.reward.to_dict() == node_reward.to_dict()  # bit-identical: both from the published centres
    exact = float(np.linalg.norm(result.objects['gripper'].center - result.objects['box'].center))
    assert result.reward.reward == pytest.approx(-exact, abs=2e-6) and result.reward.stamp_ns == STAMP


def test_missing_known_position_and_no_task(scene):
    frame, mask, _ = scene
    result = _step(mask)(frame, {'gripper': None})
    assert result.missing == ['gripper'] and not result.reward.valid and result.reward.missing == ('gripper',)
    assert _step(mask, task=None)(frame, {'gripper': None}).reward is None


def test_known_position_in_a_frame_without_transform_says_what_to_set(scene):
    frame, mask, _ = scene
    with pytest.raises(TransformError, match="set target_frame: base_link and a transform_source") as err:
        _step(mask)(frame, {'gripper': KnownPosition((0.0, 0.0, 1.0), 'base_link')})
    assert isinstance(err.value, SpatialError) and err.value.kind == 'transform'
