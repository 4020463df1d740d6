"""``extent_m`` means one thing everywhere: the gravity-aligned [width, height, depth] of
``spatialvlm facts --json``, the objects topic and labelled bags; the camera-axis box (the marker
box) travels as ``extent_camera_m``, and the reward node reads documents old and new."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.commands.facts import result_doc
from spatialvlm_ros.messages import serialize
from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline
from spatialvlm_ros.core.sizes import gravity_extents
from spatialvlm_ros.core.transform import RigidTransform, kinematic_observation, transform_observation
from spatialvlm_ros.core.types import Frame
from spatialvlm_ros.messages.markers import marker_specs

# width (camera right), height (up), depth (away from the camera): three different sizes, so a
# swapped axis shows
SIZE = (0.04, 0.10, 0.06)
STAMP = 1_700_000_000_000_000_001


@pytest.fixture(scope='module')
def tilted():
    """A box standing on a table, the camera 0.7 m away looking 45 degrees down: the camera-axis
    box of an upright object is not its gravity-aligned size here."""
    from test_lifting_cloud import K, Box, Plane, render

    up = np.array([0.0, -1.0, -1.0]) / np.sqrt(2)  # world up in the optical frame
    x = np.array([1.0, 0.0, 0.0])
    rot = np.stack([x, up, np.cross(x, up)], axis=1)  # box axes: width, height, depth
    c = np.array([0.0, 0.0, 0.7])
    depth, label = render([Box(tuple(c), SIZE, rot), Plane(tuple(c - SIZE[1] / 2 * up), tuple(up))], noise_m=0.001)
    rgb = np.full(depth.shape + (3,), 128, np.uint8)
    frame = Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=STAMP, frame_id='cam')
    pipe = SpatialPipeline(PipelineConfig(queries=(ObjectQuery('box', 'box'),), grounder='mask',
                                          lift=LiftConfig(center_mode='support')))  # the node's default
    pipe.grounder.set_masks(masks={'box': label == 0})
    result = pipe.process(frame)
    assert result.gravity is not None and result.gravity.source == 'plane'
    return result


def _extents(result):
    return result.sizes


def test_objects_document_extent_is_the_cli_extent(tilted):
    obs = tilted.objects['box']
    doc = serialize.objects_to_doc(tilted.objects, STAMP, 'cam', _extents(tilted))
    (o,) = doc['objects']
    # [width, height, depth] of the real box (less the mask erosion, ~5 mm at 0.7 m)
    np.testing.assert_allclose(o['extent_m'], SIZE, atol=0.008)
    np.testing.assert_allclose(o['extent_camera_m'], np.round(obs.extent, 6))
    assert o['extent_camera_m'][2] > SIZE[2] + 0.03  # at 45 deg its height adds to its optical-z span
    (cli,) = result_doc(tilted)['objects']
    np.testing.assert_allclose(o['extent_m'], cli['extent_m'], atol=1e-6)
    np.testing.assert_allclose(o['extent_camera_m'], cli['extent_camera_m'], atol=1e-6)
    # taken from the size facts, it is what measuring the observation again gives
    facts = {f.type: f.value for f in tilted.facts if f.subject == 'box' and not f.object}
    np.testing.assert_allclose(o['extent_m'], [facts['width'], facts['height'], facts['depth']], atol=1e-6)
    measured = gravity_extents(tilted.objects, tilted.gravity)  # measured again here
    np.testing.assert_allclose(_extents(tilted)['box'], measured['box'], rtol=0, atol=1e-12)


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


def test_target_frame_moves_the_camera_box_but_not_the_gravity_size(tilted):
    """Sizes come from the camera-frame observation; the marker box is the transformed one."""
    tf = RigidTransform.from_xyz_quat([0.5, 0.0, 1.0, 0.5, -0.5, 0.5, -0.5], 'base_link', 'cam')
    extents = _extents(tilted)
    moved = {n: transform_observation(o, tf) for n, o in tilted.objects.items()}
    doc = serialize.objects_to_doc(moved, STAMP, 'base_link', extents)
    (o,) = doc['objects']
    np.testing.assert_allclose(o['extent_m'], np.round(extents['box'], 6))
    np.testing.assert_allclose(o['extent_camera_m'], np.round(moved['box'].extent, 6))
    (box,) = [m for m in marker_specs(moved, []) if m.ns == 'objects']
    np.testing.assert_allclose(box.scale, o['extent_camera_m'], atol=1e-6)  # RViz draws the frame-axis box


def test_without_gravity_and_for_kinematic_objects():
    gripper = kinematic_observation('gripper', [0.1, 0.0, 0.5], 'cam', STAMP)
    extents = gravity_extents({'gripper': gripper, 'gone': None}, None)  # no gravity: camera -y is up
    assert set(extents) == {'gripper'} and np.all(extents['gripper'] == 0)
    doc = serialize.objects_to_doc({'gripper': gripper, 'gone': None}, STAMP, 'cam', extents)
    assert doc['missing'] == ['gone'] and doc['objects'][0]['source'] == 'kinematic'
    assert doc['objects'][0]['extent_m'] == [0.0, 0.0, 0.0] == doc['objects'][0]['extent_camera_m']
