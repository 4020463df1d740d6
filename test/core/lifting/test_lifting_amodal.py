"""'amodal' and 'centroid' centre modes on ray-cast scenes whose truth is known (the measurements
in core/lifting/amodal.py's docstring)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.lifting import AmodalConfig, LiftConfig, lift_mask

from support.scenes import SCENES, frame_of, render


def centre_errors(scene: str, config: LiftConfig = LiftConfig()) -> dict[str, float]:
    """Centre error in metres per center_mode for one scene (1 mm depth noise)."""
    truth, shapes = SCENES[scene]
    depth, label = render(shapes, noise_m=0.001)
    frame = frame_of(depth, label)
    out = {}
    for mode in ('centroid', 'amodal'):
        obs = lift_mask(frame, label == 0, 'obj', dataclasses.replace(config, center_mode=mode))
        out[mode] = float(np.linalg.norm(obs.center - np.asarray(truth)))
    return out


@pytest.mark.parametrize('scene', list(SCENES))
def test_amodal_centre_beats_centroid(scene):
    err = centre_errors(scene)
    # the visible surface is 1-3 cm in front of the centre for these 5-6 cm objects
    assert err['centroid'] > 0.01, err
    assert err['amodal'] < 0.5 * err['centroid'], err
    # oblique boxes keep a bias (see the amodal module docstring): 7-9 mm measured
    assert err['amodal'] < 0.01, err


@pytest.mark.parametrize('scene', ['sphere on axis', 'sphere off axis', 'cube face-on'])
def test_amodal_centre_within_few_mm_for_frontal_views(scene):
    assert centre_errors(scene)['amodal'] < 0.003


def test_amodal_options_move_the_centre():
    """No push at all is the centroid; a cap on the push holds the centre in front."""
    none = centre_errors('cube face-on', LiftConfig().with_mode_options('amodal', amodal_max_push_m=0.0))
    assert none['amodal'] == pytest.approx(none['centroid'], abs=1e-9)
    capped = centre_errors('cube face-on', LiftConfig().with_mode_options('amodal', amodal_max_push_m=0.01))
    assert 0.01 < capped['amodal'] < capped['centroid'] - 0.009


def test_amodal_options_are_validated():
    with pytest.raises(GroundingError, match='AmodalConfig.amodal_depth_ratio'):
        AmodalConfig(amodal_depth_ratio=0.0)
    with pytest.raises(GroundingError, match='AmodalConfig.amodal_max_push_m'):
        AmodalConfig(amodal_max_push_m=-0.1)
