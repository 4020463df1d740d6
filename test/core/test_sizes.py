"""core.sizes: gravity-aligned extents, also without gravity and for kinematic objects."""

from __future__ import annotations

import numpy as np

from spatialvlm_ros.messages import serialize
from spatialvlm_ros.core.sizes import gravity_extents
from spatialvlm_ros.core.transform import kinematic_observation
from support.scenes import STAMP


def test_without_gravity_and_for_kinematic_objects():
    gripper = kinematic_observation('gripper', [0.1, 0.0, 0.5], 'cam', STAMP)
    extents = gravity_extents({'gripper': gripper, 'gone': None}, None)  # no gravity: camera -y is up
    assert set(extents) == {'gripper'} and np.all(extents['gripper'] == 0)
    doc = serialize.objects_to_doc({'gripper': gripper, 'gone': None}, STAMP, 'cam', extents)
    assert doc['missing'] == ['gone'] and doc['objects'][0]['source'] == 'kinematic'
    assert doc['objects'][0]['extent_m'] == [0.0, 0.0, 0.0] == doc['objects'][0]['extent_camera_m']
