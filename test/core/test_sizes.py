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


def test_without_gravity_and_for_kinematic_objects():
    gripper = kinematic_observation('gripper', [0.1, 0.0, 0.5], 'cam', STAMP)
    extents = gravity_extents({'gripper': gripper, 'gone': None}, None)  # no gravity: camera -y is up
    assert set(extents) == {'gripper'} and np.all(extents['gripper'] == 0)
    doc = serialize.objects_to_doc({'gripper': gripper, 'gone': None}, STAMP, 'cam', extents)
    assert doc['missing'] == ['gone'] and doc['objects'][0]['source'] == 'kinematic'
    assert doc['objects'][0]['extent_m'] == [0.0, 0.0, 0.0] == doc['objects'][0]['extent_camera_m']
