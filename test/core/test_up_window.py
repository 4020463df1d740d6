"""A static camera's up over its recent frames (core.up_window): it stays put where the per-frame
estimate moves with the sensor noise; a turning camera, another stream or a gap keep their own."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.gravity import Gravity, GravityConfig, estimate_gravity
from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline
from spatialvlm_ros.core.up_window import UpWindow, steady_up
from spatialvlm_ros.sim.realistic import SENSORS, apply_sensor, make_scene

PERIOD_NS = 33_333_333  # 30 Hz


def _angle(a, b) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0))))


def _frames(seed, kind, n):
    """The same view ``n`` times with new sensor noise (a static camera at 30 Hz), and its true up."""
    scene = make_scene(seed, kind)
    frames = []
    for k in range(n):
        apply_sensor(scene, SENSORS[scene.sensor], np.random.default_rng(1000 + k))
        frames.append(dataclasses.replace(scene.frame(), stamp_ns=1_000_000_000 + k * PERIOD_NS))
    return frames, scene.up


def _plane(up, confidence=1.0):
    up = np.asarray(up, np.float64)
    return Gravity(up=up / np.linalg.norm(up), source='plane', confidence=confidence)


def _tilted(deg):
    """An up tilted by ``deg`` from -y about the optical x axis."""
    r = math.radians(deg)
    return np.array([0.0, -math.cos(r), math.sin(r)])


@pytest.mark.parametrize('seed,kind', [(5, 'room'), (14, 'tabletop'), (18, 'tabletop')])
def test_a_static_cameras_up_holds_still(seed, kind):
    """The views whose per-frame up moved most from frame to frame: with the window it moves a
    fifth as much (every frame but the first averages the frames before), and is no further off
    (within 0.05 deg: averaging takes out the noise, not a bias the frames share)."""
    frames, truth = _frames(seed, kind, 10)
    pipe = SpatialPipeline(PipelineConfig(queries=(ObjectQuery('x', 'x'),)))
    own = [estimate_gravity(f).up for f in frames]
    steady = [pipe.gravity(f) for f in frames]
    assert [g.averaged_frames for g in steady] == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5]
    step_own = [_angle(a, b) for a, b in zip(own[4:], own[5:])]
    step_steady = [_angle(a.up, b.up) for a, b in zip(steady[4:], steady[5:])]
    assert max(step_steady) < 0.15 and max(step_steady) < 0.5 * max(step_own)
    assert np.median([_angle(g.up, truth) for g in steady[4:]]) <= np.median([_angle(u, truth) for u in own[4:]]) + 0.05


def test_a_turning_camera_keeps_its_own_up():
    """1.5 degrees a frame (a slow pan is 0.2): no earlier frame agrees, nothing lags."""
    w = UpWindow(GravityConfig())
    for k in range(8):
        g = _plane(_tilted(30 + 1.5 * k))
        out = w.push(k * PERIOD_NS + 1, g)
        assert out is g


def test_only_agreeing_planes_of_one_stream_count():
    cfg = GravityConfig(window_frames=4)
    a, b = _plane(_tilted(30.0)), _plane(_tilted(30.4))
    out = steady_up(((1, a), (2, b)), cfg)
    assert out.averaged_frames == 2 and _angle(out.up, _tilted(30.2)) < 1e-6
    assert steady_up(((1, a), (2, b)), GravityConfig(window_frames=1)) is b  # the window off
    far = _plane(_tilted(32.0))
    assert steady_up(((1, far), (2, b)), cfg) is b  # 1.6 deg apart: not the same view
    prior = Gravity(up=_tilted(30.0), source='prior', confidence=0.0)
    assert steady_up(((1, prior), (2, b)), cfg) is b  # an assumed up is no measurement
    given = Gravity(up=_tilted(30.2), source='given', confidence=1.0)
    assert steady_up(((1, a), (2, given)), cfg) is given  # a given rotation is exact
    gap = int(0.6e9)
    assert steady_up(((1, a), (1 + gap, b)), cfg) is b  # more than window_gap_s apart
    # the weights are the confidences
    out = steady_up(((1, _plane(_tilted(30.0), 0.25)), (2, _plane(_tilted(30.4), 0.75))), cfg)
    assert _angle(out.up, _tilted(30.3)) < 1e-3


def test_a_new_stream_starts_over():
    w = UpWindow(GravityConfig())
    a = _plane(_tilted(30.0))
    assert w.push(10, a).averaged_frames == 1
    assert w.push(20, a).averaged_frames == 2
    assert w.push(20, a).averaged_frames == 1  # the same stamp again: another stream
    assert w.push(30, a).averaged_frames == 2
    assert w.push(5, a).averaged_frames == 1  # time went back (a looped bag, a new episode)
    w.clear()
    assert w.push(40, a).averaged_frames == 1


def test_frames_without_stamps_are_each_their_own():
    """Single images (stamp 0, `spatialvlm facts` on files) never average each other."""
    frames, _ = _frames(14, 'tabletop', 3)
    pipe = SpatialPipeline(PipelineConfig(queries=(ObjectQuery('x', 'x'),)))
    for f in frames:
        g = pipe.gravity(dataclasses.replace(f, stamp_ns=0))
        assert g.averaged_frames == 1 and np.array_equal(g.up, estimate_gravity(f).up)


@pytest.mark.parametrize('bad', [dict(window_frames=0), dict(window_deg=0.0), dict(window_gap_s=-1.0)])
def test_window_options_are_checked(bad):
    with pytest.raises(SpatialError, match=next(iter(bad))):
        GravityConfig(**bad)
