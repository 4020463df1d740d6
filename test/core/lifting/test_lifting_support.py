"""'support' centre mode (core/lifting/support.py) on ray-cast scenes whose truth is known: a block whose
lower part a wider slab in front of it hides."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.gravity import Gravity
from spatialvlm_ros.core.lifting import LiftConfig, lift_mask

from support.scenes import Box, Plane, frame_of, render

# Camera 0.75 m from the block, looking 45 degrees down at a table (as the sim's camera does).
UP = np.array([0.0, -1.0, -1.0]) / np.sqrt(2)  # world up in the optical frame
X = np.array([1.0, 0.0, 0.0])
ROT = np.stack([X, UP, np.cross(X, UP)], axis=1)  # columns: box axes (right, up, away) in the camera
TABLE_AT = np.array([0.0, 0.0, 0.75]) - 0.05 * UP  # a point on the table, under the block


def _scene(block_size, bottom_above_table: float, slab_top_above_table: float):
    """(frame, block mask, true block centre, gravity): a block standing ``bottom_above_table``
    over the table, a 10 x 10 cm slab 4 mm thick whose top is ``slab_top_above_table`` over the
    table, centred on the block: it cuts through the block (as the sim's target disc, which
    collides with nothing) and hides the block's lower part from the camera."""
    w, h, d = block_size
    centre = TABLE_AT + (bottom_above_table + h / 2) * UP
    slab = TABLE_AT + (slab_top_above_table - 0.002) * UP
    shapes = [Box(tuple(centre), (w, h, d), ROT), Box(tuple(slab), (0.10, 0.004, 0.10), ROT),
              Plane(tuple(TABLE_AT), tuple(UP))]
    depth, label = render(shapes)
    gravity = Gravity(up=UP, source='given', confidence=1.0, plane_height=float(TABLE_AT @ UP))
    return frame_of(depth, label), label == 0, centre, gravity


def _lift(scene):
    frame, mask, _, gravity = scene
    return lift_mask(frame, mask, 'block', LiftConfig(center_mode='support'), gravity)


def _error(scene) -> np.ndarray:
    return _lift(scene).center - scene[2]


def test_a_block_lowered_into_a_slab_that_hides_its_bottom():
    """The bottom 2 cm over the table, the slab's top 2.6 cm: nothing seen says where the bottom
    is. Resting on the table would make the 5 cm cube 7 cm tall (centre 1 cm low); a compact
    object as tall as wide puts it within a few mm."""
    scene = _scene((0.05, 0.05, 0.05), 0.02, 0.026)
    err = _error(scene)
    assert np.linalg.norm(err) < 0.004, np.round(err * 1000, 1)
    # The share of its height in view: from its lowest visible pixel (4.2 of its 5 cm are seen
    # above the slab); the size facts report the whole cube.
    frame, mask, centre, gravity = scene
    vs, us = np.nonzero(mask)
    z = frame.depth[vs, us].astype(np.float64)
    k = frame.intrinsics
    heights = np.stack([(us - k.cx) * z / k.fx, (vs - k.cy) * z / k.fy, z], axis=1) @ UP
    seen = (float(centre @ UP) + 0.025 - heights.min()) / 0.05
    obs = _lift(scene)
    assert obs.visible_fraction == pytest.approx(seen, abs=0.03), seen
    assert obs.size[1] == pytest.approx(0.05, abs=0.003)  # (width, height, depth)


def test_a_block_in_full_view_is_fully_visible():
    scene = _scene((0.05, 0.05, 0.05), 0.0, -0.01)  # the slab under the table
    assert _lift(scene).visible_fraction == 1.0
    assert np.linalg.norm(_error(scene)) < 0.004


@pytest.mark.parametrize('size', [(0.05, 0.05, 0.05), (0.05, 0.03, 0.05)])
def test_a_block_on_the_table_behind_the_slab_still_rests_on_the_table(size):
    """Standing on the table with the slab through its middle: a cube one width tall would reach
    below the table, and a flat box too; the table stays the support."""
    err = _error(_scene(size, 0.0, 0.026 if size[1] > 0.04 else 0.016))
    assert np.linalg.norm(err) < 0.004, np.round(err * 1000, 1)


def test_a_tall_block_seen_above_the_slab_keeps_the_table():
    """8 cm tall, 5 cm wide, on the table: more than one width of it is in view, so no compact
    guess replaces the table under it."""
    err = _error(_scene((0.05, 0.08, 0.05), 0.0, 0.026))
    assert np.linalg.norm(err) < 0.004, np.round(err * 1000, 1)



def test_a_block_held_in_the_air_keeps_its_height_with_a_fringe_of_table_in_its_mask():
    """A 5 cm cube held 20 cm above the table, its mask one pixel past its lower outline where
    the table far behind it shows (a colour mask's anti-aliased edge, sim seed 1 while carrying):
    those pixels are not the block's lowest point, so it neither rests on the table (42 cm tall,
    its centre 19 cm low before) nor grows."""
    frame, mask, centre, gravity = _scene((0.05, 0.05, 0.05), 0.20, -0.01)
    rows = np.flatnonzero(mask.any(axis=1))
    fringe = np.zeros_like(mask)
    # the image's down is the world's down here: the lower outline is the mask's last rows
    for c in np.flatnonzero(mask.any(axis=0)):
        fringe[np.flatnonzero(mask[:, c])[-1] + 1, c] = True
    assert rows.size and np.all(np.isfinite(frame.depth[fringe]))
    assert np.all(frame.depth[fringe] > frame.depth[mask].max() + 0.1)  # the table, far behind
    clean = lift_mask(frame, mask, 'block', LiftConfig(center_mode='support'), gravity)
    obs = lift_mask(frame, mask | fringe, 'block', LiftConfig(center_mode='support'), gravity)
    assert np.linalg.norm(obs.center - clean.center) < 0.002, np.round((obs.center - clean.center) * 1000, 1)
    err = obs.center - centre
    assert np.linalg.norm(err) < 0.006, np.round(err * 1000, 1)  # (a block in the air: its bottom is not seen)
    assert obs.size[1] == pytest.approx(0.05, abs=0.003)  # (width, height, depth)

def test_support_options_are_validated():
    from spatialvlm_ros.core.errors import GroundingError
    from spatialvlm_ros.core.lifting import SupportConfig

    with pytest.raises(GroundingError, match='SupportConfig.support_ring_px: expected an integer >= 1'):
        SupportConfig(support_ring_px=0)
    with pytest.raises(GroundingError, match='SupportConfig.cap_tolerance_m'):
        SupportConfig(cap_tolerance_m=0.0)
    with pytest.raises(GroundingError, match='SupportConfig.min_view_down_deg'):
        SupportConfig(min_view_down_deg=90.0)


def test_support_without_a_measured_up_is_amodal():
    frame, mask, _, gravity = _scene((0.05, 0.05, 0.05), 0.0, -0.01)
    prior = Gravity(up=gravity.up, source='prior', confidence=0.0, plane_height=None)
    for g in (None, prior):
        a = lift_mask(frame, mask, 'block', LiftConfig(center_mode='support'), g)
        b = lift_mask(frame, mask, 'block', LiftConfig(center_mode='amodal'), g)
        np.testing.assert_array_equal(a.center, b.center)
        assert a.size is None


def _yaw_about_up(deg: float) -> np.ndarray:
    """ROT turned by ``deg`` about the world's up: the box's axes in the camera."""
    a = np.radians(deg)
    away = np.cross(X, UP)
    right = np.cos(a) * X + np.sin(a) * away
    return np.stack([right, UP, np.cross(right, UP)], axis=1)


def _bled_scene(size, yaw_deg: float, bottom_above_table: float, bleed_px: int, noise_m: float):
    """(frame, mask, true (width, height, depth), gravity): a box ``size`` (w, h, d along its own
    axes) yawed about up, ``bottom_above_table`` over the table, its mask grown by ``bleed_px``
    onto what surrounds it (as a real segmenter's), depth noise ``noise_m``."""
    import cv2

    rot = _yaw_about_up(yaw_deg)
    centre = TABLE_AT + (bottom_above_table + size[1] / 2) * UP
    depth, label = render([Box(tuple(centre), size, rot), Plane(tuple(TABLE_AT), tuple(UP))], noise_m=noise_m)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * bleed_px + 1, 2 * bleed_px + 1))
    mask = cv2.dilate((label == 0).astype(np.uint8), kernel).astype(bool)
    gravity = Gravity(up=UP, source='given', confidence=1.0, plane_height=float(TABLE_AT @ UP))
    # the true gravity-aligned box: corners along (camera right made horizontal, up, away)
    away = np.cross(X, UP)
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * np.asarray(size) / 2
    pts = corners @ rot.T
    truth = np.ptp(pts @ np.stack([X, UP, away], axis=1), axis=0)
    return frame_of(depth, label), mask, truth, gravity


@pytest.mark.parametrize('size,yaw', [((0.08, 0.02, 0.06), 0.0), ((0.12, 0.025, 0.05), 35.0),
                                      ((0.06, 0.10, 0.06), 40.0)])
def test_an_object_whose_bled_mask_reaches_the_table_stands_on_it(size, yaw):
    """A flat or yawed box on the table, its mask 4 px past its outline, 2 mm depth noise: the
    plane seen next to it (inside a yawed box's bounding square) is not free space under it, so
    its bottom is the table and its height exact to ~2 mm (hanging, it lost the eroded border
    below its lowest visible point: a 2 cm box came out 5-8 mm too tall)."""
    frame, mask, truth, gravity = _bled_scene(size, yaw, 0.0, bleed_px=4, noise_m=0.002)
    obs = lift_mask(frame, mask, 'box', LiftConfig(center_mode='support'), gravity)
    assert obs.size[1] == pytest.approx(truth[1], abs=0.002), (obs.size, truth)


def test_a_box_held_over_the_table_keeps_its_own_bottom():
    """3 cm over the table, the mask bled 4 px (onto the table behind it, past a depth jump): the
    table seen under it is free space, its height comes from its own points."""
    frame, mask, truth, gravity = _bled_scene((0.05, 0.05, 0.05), 20.0, 0.03, bleed_px=4, noise_m=0.002)
    obs = lift_mask(frame, mask, 'box', LiftConfig(center_mode='support'), gravity)
    assert obs.size[1] == pytest.approx(truth[1], abs=0.005), (obs.size, truth)


@pytest.mark.parametrize('yaw', [0.0, 30.0, 45.0])
def test_a_boxs_horizontal_size_is_its_tops_outline_and_the_fringe_on_the_table_is_not_part_of_it(yaw):
    """A 10 x 6 x 8 cm box yawed on the table, its mask 4 px past its outline, 2 mm noise: the
    top's outline where its pixels' rays meet its level gives the far corner a percentile of
    noisy points cuts off (a yawed box's corners hold few points), and the near side comes from
    the visible points above the table, not the fringe lying in front of its foot."""
    frame, mask, truth, gravity = _bled_scene((0.10, 0.06, 0.08), yaw, 0.0, bleed_px=4, noise_m=0.002)
    obs = lift_mask(frame, mask, 'box', LiftConfig(center_mode='support'), gravity)
    width, _, depth = obs.size
    assert width == pytest.approx(truth[0], rel=0.03), (obs.size, truth)
    assert depth == pytest.approx(truth[2], rel=0.04), (obs.size, truth)


@pytest.mark.parametrize('yaw', [0.0, 90.0])
def test_a_tools_thin_shaft_is_kept(yaw):
    """A tool on the table: a 7 x 2.5 x 2 cm handle and a 10 cm shaft 6 mm wide and 8 mm high (17 cm long),
    lying across the view and pointing away, its mask 3 px past the outline, 1.5 mm noise. The
    shaft holds few points along its length and rises a few mm over the table: it is neither
    the fringe on the table nor a percentile's tail (its far half was lost), so the length is
    the tool's."""
    import cv2

    rot = _yaw_about_up(yaw)
    axis = rot[:, 0]  # the tool's long axis in the camera
    handle = TABLE_AT + 0.010 * UP - 0.05 * axis
    shaft = TABLE_AT + 0.004 * UP + 0.035 * axis
    shapes = [Box(tuple(handle), (0.07, 0.02, 0.025), rot), Box(tuple(shaft), (0.10, 0.008, 0.006), rot),
              Plane(tuple(TABLE_AT), tuple(UP))]
    depth, label = render(shapes, noise_m=0.0015)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask = cv2.dilate(((label == 0) | (label == 1)).astype(np.uint8), kernel).astype(bool)
    gravity = Gravity(up=UP, source='given', confidence=1.0, plane_height=float(TABLE_AT @ UP))
    obs = lift_mask(frame_of(depth, label), mask, 'tool', LiftConfig(center_mode='support'), gravity)
    length = obs.size[0] if yaw == 0.0 else obs.size[2]  # (width, height, depth)
    assert length == pytest.approx(0.17, rel=0.04), obs.size


def test_furniture_against_a_wall_is_not_completed_through_it():
    """A 60 cm wide, 30 cm deep, 80 cm tall cabinet standing on the floor against a wall, its top
    above the camera (out of view): its back is hidden, and a cross-section as deep as wide would
    put it 30 cm into the wall seen right above it; the wall bounds it."""
    up = np.array([0.0, -1.0, 0.0])  # the camera looks level, 0.5 m over the floor
    centre = np.array([0.1, 0.5 - 0.4, 2.0])  # bottom on the floor (y = 0.5), top 0.3 m over the camera
    shapes = [Box(tuple(centre), (0.6, 0.8, 0.3)), Plane((0.0, 0.5, 0.0), tuple(up)),
              Plane((0.0, 0.0, 2.15), (0.0, 0.0, 1.0))]
    depth, label = render(shapes, noise_m=0.002)
    gravity = Gravity(up=up, source='given', confidence=1.0, plane_height=-0.5, levels=(-0.5,))
    obs = lift_mask(frame_of(depth, label), label == 0, 'cabinet', LiftConfig(center_mode='support'), gravity)
    width, _, depth_size = obs.size
    assert depth_size == pytest.approx(0.30, abs=0.03), obs.size
    assert width == pytest.approx(0.60, abs=0.02), obs.size
