import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatialvlm_ros.core.transform import (
    RigidTransform, TransformBuffer, TransformError, quaternion_to_matrix, transform_observation,
)
from spatialvlm_ros.core.types import ObjectObservation
from spatialvlm_ros.messages import serialize
from spatialvlm_ros.messages.markers import marker_specs
from support.scenes import STAMP, _extents, tilted_result


@pytest.fixture(scope='module')
def tilted():
    return tilted_result()


def test_quaternion_matches_scipy_and_rejects_zero():
    q = Rotation.from_euler('xyz', [10, -40, 75], degrees=True).as_quat()
    np.testing.assert_allclose(quaternion_to_matrix(q), Rotation.from_quat(q).as_matrix(), atol=1e-12)
    with pytest.raises(TransformError, match='zero'):
        quaternion_to_matrix([0, 0, 0, 0])
    with pytest.raises(TransformError, match='7 numbers'):
        RigidTransform.from_xyz_quat([1, 2, 3], 'base_link', 'cam')


def test_transform_observation_moves_centre_points_and_bounds_extent():
    obs = ObjectObservation('box', np.array([0.0, 0.0, 1.0]), np.array([0.2, 0.1, 0.05]),
                            np.array([[0.1, 0.05, 1.0]], np.float32), 10, frame_id='cam')
    tf = RigidTransform.from_xyz_quat([1, 2, 3] + list(Rotation.from_euler('z', 90, degrees=True).as_quat()),
                                      'base_link', 'cam')
    out = transform_observation(obs, tf)
    np.testing.assert_allclose(out.center, [1.0, 2.0, 4.0], atol=1e-9)
    np.testing.assert_allclose(out.extent, [0.1, 0.2, 0.05], atol=1e-9)  # x and y swap under 90 deg yaw
    np.testing.assert_allclose(out.points[0], [0.95, 2.1, 4.0], atol=1e-6)
    assert out.frame_id == 'base_link'
    with pytest.raises(TransformError, match="is in 'other'"):
        transform_observation(ObjectObservation('b', obs.center, obs.extent, obs.points, 1, frame_id='other'), tf)


def test_buffer_returns_nearest_within_tolerance_only():
    buf = TransformBuffer(tolerance_ns=10)
    for stamp in (100, 200, 300):
        buf.add(RigidTransform(np.eye(3), np.array([stamp, 0, 0.0]), 'base', '', stamp))
    assert buf.lookup(205).translation[0] == 200
    assert buf.lookup(296).translation[0] == 300
    assert buf.lookup(250) is None and buf.lookup(1000) is None


def test_matrix_quaternion_round_trip_and_inverse():
    from spatialvlm_ros.core.transform import matrix_to_quaternion

    for euler in ([0, 0, 0], [179, 2, -3], [10, -40, 75], [0, 180, 0], [90, 90, 90]):
        r = Rotation.from_euler('xyz', euler, degrees=True).as_matrix()
        np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(r)), r, atol=1e-9)
    tf = RigidTransform.from_xyz_quat([1, 2, 3] + list(Rotation.from_euler('xyz', [10, 20, 30], degrees=True).as_quat()),
                                      'world', 'cam')
    p = np.array([[0.3, -0.2, 1.5]])
    np.testing.assert_allclose(tf.inverse().apply(tf.apply(p)), p, atol=1e-12)
    assert (tf.inverse().parent, tf.inverse().child) == ('cam', 'world')


def test_kinematic_observation_is_one_certain_point():
    from spatialvlm_ros.core.facts import compute_facts
    from spatialvlm_ros.core.transform import kinematic_observation

    g = kinematic_observation('gripper', [0.0, 0.0, 1.0], 'cam', 5)
    block = ObjectObservation('block', np.array([0.1, 0.0, 1.0]), np.full(3, 0.05),
                              np.zeros((400, 3), np.float32) + [0.1, 0.0, 1.0], 400, frame_id='cam')
    dist = [f for f in compute_facts({'gripper': g, 'block': block}) if f.type == 'distance'][0]
    assert dist.value == pytest.approx(0.1) and dist.confidence > 0.99  # limited by the block's 400 points
    with pytest.raises(TransformError, match='not finite'):
        kinematic_observation('gripper', [np.nan, 0, 1], 'cam', 0)


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
