"""'flat' centre mode: a round marker on a tilted table, partly hidden by an arm in front of it."""

import numpy as np
import pytest

from spatialvlm_ros.core.lifting import LiftConfig, lift_mask
from spatialvlm_ros.core.types import Frame, Intrinsics

K = Intrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)


def disc_scene(occlude: bool, shape: str = 'disc'):
    """Table plane seen 45 deg from above at ~0.8 m, a 5 cm-radius marker on it; optionally an
    occluder 10 cm in front hiding the marker's far half."""
    normal = np.array([0.0, -np.sqrt(0.5), -np.sqrt(0.5)])  # facing the camera, tilted
    centre = np.array([0.02, 0.03, 0.8])
    u, v = np.meshgrid(np.arange(640), np.arange(480))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u, dtype=float)], axis=-1)
    t = (normal @ centre) / (rays @ normal)
    pts = rays * t[..., None]
    e1 = np.array([1.0, 0.0, 0.0])
    e2 = np.cross(normal, e1)
    rel = pts - centre
    a, b = rel @ e1, rel @ e2
    marker = (np.hypot(a, b) < 0.05) if shape == 'disc' else ((np.abs(a) < 0.05) & (np.abs(b) < 0.05))
    depth = t.astype(np.float32)
    if occlude:
        cv_row = int(round(K.fy * centre[1] / centre[2] + K.cy))
        arm = (v < cv_row) & (np.abs(u - 340) < 80)
        depth[arm] = (t[arm] - 0.10).astype(np.float32)
        marker = marker & ~arm
    rgb = np.zeros((480, 640, 3), np.uint8)
    return Frame(rgb, depth, K), marker, centre


@pytest.mark.parametrize('occlude', [False, True])
def test_flat_mode_finds_the_centre_of_a_partly_hidden_disc(occlude):
    frame, mask, centre = disc_scene(occlude)
    flat = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    centroid = lift_mask(frame, mask, 'target', LiftConfig(center_mode='centroid'))
    err_flat = np.linalg.norm(flat.center - centre)
    err_centroid = np.linalg.norm(centroid.center - centre)
    assert err_flat < 0.003, err_flat
    if occlude:
        assert err_centroid > 0.015  # the visible near half alone is 2 cm off
    assert err_flat < err_centroid or err_centroid < 0.003


def test_flat_mode_on_a_hidden_square_falls_back_without_failing():
    frame, mask, centre = disc_scene(True, shape='square')
    obs = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    assert obs is not None and np.all(np.isfinite(obs.center))
    assert np.linalg.norm(obs.center - centre) < 0.04  # no circle: the filled visible part, biased but sane


def test_flat_mode_completes_a_disc_cut_by_the_image_border():
    """The image edge cuts the outline like an occluder: those pixels are not the rim."""
    frame, mask, centre = disc_scene(False)
    cols = np.flatnonzero(mask.any(axis=0))
    cut = int(cols.min() + 0.4 * (cols.max() - cols.min()))  # keep the right 60 % of the disc
    k = frame.intrinsics
    shifted = Intrinsics(k.fx, k.fy, k.cx - cut, k.cy, 640 - cut, 480)
    cropped = Frame(np.ascontiguousarray(frame.rgb[:, cut:]), np.ascontiguousarray(frame.depth[:, cut:]), shifted)
    part = np.ascontiguousarray(mask[:, cut:])
    flat = lift_mask(cropped, part, 'target', LiftConfig(center_mode='flat'))
    centroid = lift_mask(cropped, part, 'target', LiftConfig(center_mode='centroid'))
    assert np.linalg.norm(centroid.center - centre) > 0.01
    assert np.linalg.norm(flat.center - centre) < 0.003, flat.center - centre


def _mostly_hidden(shape: str, keep_from: float):
    """The marker of :func:`disc_scene` behind an arm 10 cm in front that hides all of it left of
    ``keep_from`` radii right of its centre (in the image): a short stretch of the rim is left."""
    frame, marker, centre = disc_scene(False, shape=shape)
    k = frame.intrinsics
    u_c = K.fx * centre[0] / centre[2] + K.cx
    r_px = K.fx * 0.05 / centre[2]
    u = np.arange(640)[None, :].repeat(480, axis=0)
    arm = u < u_c + keep_from * r_px
    depth = frame.depth.copy()
    depth[arm] -= 0.10
    return Frame(frame.rgb, depth, k), marker & ~arm, centre


@pytest.mark.parametrize('keep_from', [0.5, 0.7])
def test_flat_mode_completes_a_disc_from_a_short_stretch_of_its_rim(keep_from):
    """A segment of 9-20 % of the disc (a rim arc of 90-120 degrees, less than the 135 a circle
    needed before): its own centre is 3.5-4 cm from the disc's, the circle through the rim within mm."""
    frame, mask, centre = _mostly_hidden('disc', keep_from)
    flat = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    centroid = lift_mask(frame, mask, 'target', LiftConfig(center_mode='centroid'))
    assert np.linalg.norm(centroid.center - centre) > 0.025
    assert np.linalg.norm(flat.center - centre) < 0.003, flat.center - centre


def test_flat_mode_on_a_mostly_hidden_square_fits_no_circle_to_its_edges():
    """A square's straight edges fit circles of any large radius; none may place the marker."""
    frame, mask, centre = _mostly_hidden('square', 0.5)
    flat = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    err = np.linalg.norm(flat.center - centre)
    assert 0.01 < err < 0.04, err  # the filled visible strip: biased, not a far-away circle


def test_flat_mode_reports_how_much_of_the_disc_is_in_view():
    """The share in view (area seen over the fitted disc's), and the facts' confidence with it."""
    from spatialvlm_ros.core.facts import FactsConfig, compute_facts
    from spatialvlm_ros.core.gravity import Gravity

    frame, mask, _ = disc_scene(False)
    whole = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    assert whole.visible_fraction > 0.95
    frame, mask, _ = _mostly_hidden('disc', 0.7)
    hidden = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    # A segment beyond 0.7 r: (acos(0.7) - 0.7 sqrt(1 - 0.49)) / pi = 9.4 % of the disc.
    assert hidden.visible_fraction == pytest.approx(0.094, abs=0.02)
    assert hidden.evidence == pytest.approx(hidden.point_count * hidden.visible_fraction)
    config = FactsConfig(confidence_points=2000.0)  # so that point counts this large still tell apart
    conf = {}
    for name, obs in (('whole', whole), ('hidden', hidden)):
        up = np.array([0.0, -np.sqrt(0.5), -np.sqrt(0.5)])  # the marker's table
        facts = compute_facts({name: obs}, config, gravity=Gravity(up=up, source='given', confidence=1.0))
        conf[name] = next(f.confidence for f in facts if f.type == 'width')
    assert conf['hidden'] < 0.5 * conf['whole']


def test_flat_mode_without_a_rim_reports_the_share_of_its_outline_that_is_rim():
    """A square cut by the arm: no circle; the cut side of its outline is not its edge."""
    frame, mask, _ = _mostly_hidden('square', 0.5)
    obs = lift_mask(frame, mask, 'target', LiftConfig(center_mode='flat'))
    assert 0.5 < obs.visible_fraction < 0.9
