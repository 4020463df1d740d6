"""'grip' centre mode: the grasp point between a parallel gripper's fingers, against the simulator's grip site."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.gravity import estimate_gravity
from spatialvlm_ros.core.grounding.base import ObjectQuery
from spatialvlm_ros.core.grounding.color import ColorGrounder
from spatialvlm_ros.core.lifting import GripConfig, LiftConfig, lift_config_from_params, lift_mask
from spatialvlm_ros.core.types import Frame


@pytest.fixture(scope='module')
def episode():
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import iter_episode

    # Approach (open fingers), grasp, lift and carry (closed on the block): every 5th of 90 frames.
    return list(iter_episode(seed=0, frames=90, width=640, height=480))[::5]


def _grip(**options) -> LiftConfig:
    """'grip' mode with ``options`` of its GripConfig changed."""
    return LiftConfig(center_mode='grip').with_mode_options('grip', **options)


def _observations(frames, config: LiftConfig, gravity: bool = True) -> list:
    grounder = ColorGrounder()
    out = []
    for f in frames:
        frame = Frame(rgb=f.rgb, depth=f.depth, intrinsics=f.intrinsics, stamp_ns=f.stamp_ns, frame_id='cam')
        mask = grounder.ground(frame, [ObjectQuery('gripper', 'yellow gripper')])['gripper']
        out.append(lift_mask(frame, mask, 'gripper', config, estimate_gravity(frame) if gravity else None))
    return out


def _errors(frames, config: LiftConfig, gravity: bool = True) -> np.ndarray:
    obs = _observations(frames, config, gravity)
    return np.asarray([np.linalg.norm(o.center - f.gripper) for o, f in zip(obs, frames)])


def test_grip_mode_finds_the_grasp_point_open_and_closed(episode):
    grip = _errors(episode, LiftConfig(center_mode='grip'))
    amodal = _errors(episode, LiftConfig(center_mode='amodal'))
    # The fingers' own centre is ~1.8 cm in front of and above the grip site; the grip model is within mm.
    assert np.median(amodal) > 0.015
    assert np.median(grip) < 0.004 and grip.max() < 0.008, np.round(grip * 1000, 1)


def test_grip_mode_uses_the_gripper_dimensions(episode):
    """Wrong dimensions move the point by what they say: half the depth error along the view,
    all of the height error vertically. (Without the body's edge, which would take over from a
    point 2 cm above where it puts it.)"""
    base = _errors(episode, _grip(grip_palm_m=0.0))
    off = _errors(episode, _grip(grip_height_m=0.0185 + 0.02, grip_palm_m=0.0))
    assert np.median(off) == pytest.approx(0.02, abs=0.004)
    assert np.median(off) > np.median(base) + 0.015


@pytest.fixture(scope='module')
def raised_target_episode():
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import iter_episode

    # Seed 2 carries the block onto a target disc floating at the block's height: once placed,
    # the fingers reach down behind the disc, which hides their tips (every 8th frame from 64).
    return list(iter_episode(seed=2, frames=120, width=640, height=480))[64::8]


def test_grip_mode_with_the_fingertips_hidden_uses_the_gripper_body(raised_target_episode):
    """The tips' height puts the point ~1.8 cm too high when a disc hides them; the lower edge
    of the gripper body (the occluder above the fingers) places it within a few mm."""
    tips_only = _errors(raised_target_episode, _grip(grip_palm_m=0.0))
    edge = _errors(raised_target_episode, LiftConfig(center_mode='grip'))
    assert np.median(tips_only) > 0.015, np.round(tips_only * 1000, 1)
    assert np.median(edge) < 0.006 and edge.max() < 0.008, np.round(edge * 1000, 1)
    # The fingers are seen from the body's edge down to the disc: ~60 % of their length.
    visible = [o.visible_fraction for o in _observations(raised_target_episode, LiftConfig(center_mode='grip'))]
    assert all(0.4 < v < 0.8 for v in visible), visible


def test_grip_mode_with_the_fingertips_in_view_ignores_the_gripper_body(episode):
    a = _errors(episode, _grip(grip_palm_m=0.0))
    b = _errors(episode, LiftConfig(center_mode='grip'))
    np.testing.assert_allclose(a, b)
    assert all(o.visible_fraction == 1.0 for o in _observations(episode, LiftConfig(center_mode='grip')))


def test_grip_mode_without_gravity_is_amodal(episode):
    a = _errors(episode[:3], LiftConfig(center_mode='grip'), gravity=False)
    b = _errors(episode[:3], LiftConfig(center_mode='amodal'), gravity=False)
    np.testing.assert_allclose(a, b)


def test_grip_dimensions_are_validated():
    with pytest.raises(GroundingError, match='GripConfig.grip_depth_m'):
        GripConfig(grip_depth_m=-0.01)
    with pytest.raises(GroundingError, match='grip_height_m'):
        GripConfig(grip_height_m=float('nan'))
    with pytest.raises(GroundingError, match='grip_palm_m'):
        lift_config_from_params({'grip_palm_m': -0.05})


def test_grip_options_from_params_change_the_grip_result(raised_target_episode):
    """grip_palm_m as a node parameter lands in the grip config and nowhere else. With the tips
    hidden the body's edge places the point; an edge 1 cm (not 5.6 cm) above the grasp point
    lies above where the tips put it, so it no longer overrules them: the point is the tips'
    (as with the edge off), ~1.8 cm above the default one."""
    config = lift_config_from_params({'center_mode': 'grip', 'grip_palm_m': 0.01})
    assert config.modes['grip'] == GripConfig(grip_palm_m=0.01)
    assert {n: c for n, c in config.modes.items() if n != 'grip'} == \
        {n: c for n, c in LiftConfig().modes.items() if n != 'grip'}
    frames = raised_target_episode[:3]
    default = np.asarray([o.center for o in _observations(frames, LiftConfig(center_mode='grip'))])
    moved = np.asarray([o.center for o in _observations(frames, config)])
    tips_only = np.asarray([o.center for o in _observations(frames, _grip(grip_palm_m=0.0))])
    np.testing.assert_array_equal(moved, tips_only)
    shift = np.linalg.norm(moved - default, axis=1)
    assert np.all(shift > 0.01), np.round(shift * 1000, 1)
