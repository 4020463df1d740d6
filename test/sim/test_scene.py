"""Simulated Fetch RGB-D source and its rosbag2 recorder, checked against ground truth.

Images are small (320x240, bags 160x120) to keep the file fast on CPU rendering.
"""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('mujoco')
pytest.importorskip('gymnasium_robotics')
pytest.importorskip('rosbags')

from spatialvlm_ros.sim import FetchPickPlaceScene, SimFrame, iter_episode  # noqa: E402
from spatialvlm_ros.sim.scene import EPOCH_NS, SEGMENTATION_LABELS, stamp_for_frame  # noqa: E402
from support.paths import REPO  # noqa: E402

W, H = 320, 240
EPISODE_FRAMES = 90  # seed 0 finishes (release + retreat) at about frame 80
BLOCK = SEGMENTATION_LABELS['block']
TARGET = SEGMENTATION_LABELS['target']
TABLE = SEGMENTATION_LABELS['table']


@pytest.fixture(scope='module')
def episode() -> list[SimFrame]:
    return list(iter_episode(seed=0, frames=EPISODE_FRAMES, width=W, height=H, segmentation=True))


def _project(frame: SimFrame, p: np.ndarray) -> np.ndarray:
    uvw = frame.intrinsics.as_matrix() @ p
    return uvw[:2] / uvw[2]


def _to_world(frame: SimFrame, p: np.ndarray) -> np.ndarray:
    return frame.camera_rotation_world @ p + frame.camera_position_world


def _ray_box_depth(frame: SimFrame, u: int, v: int) -> float:
    """Planar depth where the ray through pixel centre (u, v) enters the GT block (slab method)."""
    ray = np.linalg.solve(frame.intrinsics.as_matrix(), np.array([u, v, 1.0]))  # z = 1: t is planar depth
    rot = frame.block_rotation
    origin = rot.T @ (-frame.block)
    direction = rot.T @ ray
    half = frame.block_size / 2.0
    t1 = (-half - origin) / direction
    t2 = (half - origin) / direction
    t_enter, t_exit = np.max(np.minimum(t1, t2)), np.min(np.maximum(t1, t2))
    assert t_enter < t_exit, f'ray through ({u}, {v}) misses the GT block'
    return float(t_enter)


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(episode):
    again = list(iter_episode(seed=0, frames=3, width=W, height=H, segmentation=True))
    for a, b in zip(episode[:3], again):
        assert np.array_equal(a.rgb, b.rgb)
        assert np.array_equal(a.depth, b.depth, equal_nan=True)
        assert np.array_equal(a.segmentation, b.segmentation)
        assert a.ground_truth() == b.ground_truth()


def test_different_seed_moves_the_block(episode):
    with FetchPickPlaceScene(seed=1, width=W, height=H, segmentation=False) as scene:
        other = scene.render(0)
    moved = np.linalg.norm(_to_world(other, other.block) - _to_world(episode[0], episode[0].block))
    assert moved > 0.01, f'seed 1 put the block only {moved * 1000:.1f} mm from seed 0'


# -- geometry: intrinsics, frames, depth ------------------------------------------------------


def test_intrinsics_follow_the_vertical_fov(episode):
    intr = episode[0].intrinsics
    assert (intr.width, intr.height) == (W, H)
    # external_camera_0 has fovy = 43.3 deg.
    assert intr.fy == pytest.approx((H / 2) / np.tan(np.deg2rad(43.3) / 2))
    assert intr.fx == intr.fy
    assert (intr.cx, intr.cy) == ((W - 1) / 2, (H - 1) / 2)


@pytest.mark.parametrize('index', [0, 30, 45, 60, EPISODE_FRAMES - 1])
def test_block_centre_projects_onto_the_red_block(episode, index):
    frame = episode[index]
    u, v = np.rint(_project(frame, frame.block)).astype(int)
    assert 0 <= u < W and 0 <= v < H
    label = frame.segmentation[v, u]
    assert label == BLOCK, f'frame {index} ({frame.phase}): GT block projects onto label {label}'
    r, g, b = frame.rgb[v, u].astype(int)
    assert r > 2 * g and r > 2 * b and r > 60, f'pixel at the block is not red: {(r, g, b)}'


def test_target_disc_centroid_matches_projection_to_subpixel(episode):
    # The flat target disc's silhouette is centred on its projected centre to a small fraction of
    # a pixel across the image (x); along y, perspective (the near half of the tilted disc looks
    # bigger) shifts it by ~0.4 px at this size. This pins down focal length and the (W-1)/2
    # principal-point convention (an error there is 0.5 px in x).
    frame = episode[0]
    ys, xs = np.nonzero(frame.segmentation == TARGET)
    assert xs.size > 20, 'target disc not visible'
    u, v = _project(frame, frame.target)
    assert abs(xs.mean() - u) < 0.2 and abs(ys.mean() - v) < 1.0, (xs.mean(), ys.mean(), u, v)


def test_gripper_ground_truth_matches_end_effector_in_world(episode):
    for frame in episode[::15]:
        np.testing.assert_allclose(_to_world(frame, frame.gripper), frame.ee_world, atol=1e-9)
        rot = frame.camera_rotation_world
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-9)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        # Optical z is forward: everything the camera sees is in front of it.
        assert frame.block[2] > 0 and frame.target[2] > 0


@pytest.mark.parametrize('index', [0, 45, EPISODE_FRAMES - 1])
def test_depth_at_the_block_is_the_metric_planar_surface_depth(episode, index):
    """Depth at the block's projected centre equals where that pixel's ray enters the GT block.

    The camera looks down at ~47 deg, so the surface hit is a top/front face ~9 mm nearer
    than "centre z - half size" (that shortcut only holds for a face-on block); the exact
    ray/box intersection is the meaningful check.
    """
    frame = episode[index]
    u, v = np.rint(_project(frame, frame.block)).astype(int)
    expected = _ray_box_depth(frame, u, v)
    measured = float(frame.depth[v, u])
    assert measured == pytest.approx(expected, abs=0.002), f'depth {measured:.4f} m, GT surface {expected:.4f} m'
    assert frame.block[2] - np.linalg.norm(frame.block_size) / 2 <= measured <= frame.block[2]


def test_depth_is_planar_not_radial_over_the_table(episode):
    # Back-projecting every table pixel with the pinhole model must land on the table top
    # (flat, at the resting block's bottom height). A ray-length depth would bend the
    # table by centimetres at the image edges.
    frame = episode[0]
    table_z = _to_world(frame, frame.block)[2] - frame.block_size[2] / 2
    vs, us = np.nonzero(frame.segmentation == TABLE)
    z = frame.depth[vs, us].astype(np.float64)
    intr = frame.intrinsics
    pts = np.stack([(us - intr.cx) / intr.fx * z, (vs - intr.cy) / intr.fy * z, z], axis=1)
    world_z = pts @ frame.camera_rotation_world.T[:, 2] + frame.camera_position_world[2]
    top = world_z > table_z - 0.01  # the table's side faces are below the top
    assert top.sum() > 0.5 * len(world_z)
    # 95th percentile: the one pixel row along the front edge sees the side face just below it.
    assert np.percentile(np.abs(world_z[top] - table_z), 95) < 0.001
    radial = pts * np.linalg.norm(pts / z[:, None], axis=1)[:, None]
    radial_z = radial @ frame.camera_rotation_world.T[:, 2] + frame.camera_position_world[2]
    assert np.percentile(np.abs(radial_z[top] - table_z), 95) > 0.01  # the check can tell them apart


def test_background_depth_is_nan(episode):
    frame = episode[0]
    background = frame.segmentation == SEGMENTATION_LABELS['background']
    assert background.any()
    assert np.isnan(frame.depth[background]).all()
    assert np.isfinite(frame.depth[~background]).all()
    assert frame.depth.dtype == np.float32 and frame.depth.shape == (H, W)
    assert frame.rgb.dtype == np.uint8 and frame.rgb.shape == (H, W, 3)


def test_hues_are_unique_to_block_target_and_gripper(episode):
    # Strongly saturated pixels of each hue must belong to the object of that colour.
    import cv2

    for frame in (episode[0], episode[45]):
        hsv = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2HSV).astype(int)
        hue, sat = hsv[..., 0] * 2, hsv[..., 1]
        saturated = sat > 120
        seg = frame.segmentation
        for lo, hi, label in ((-15, 15, BLOCK), (200, 250, TARGET), (40, 70, SEGMENTATION_LABELS['gripper'])):
            h = np.where(hue > 300, hue - 360, hue)
            mask = saturated & (h >= lo) & (h <= hi)
            assert mask.sum() > 10, f'no pixels of hue {lo}..{hi} in frame {frame.index}'
            # Within a pixel of the object: anti-aliased edges bleed colour onto neighbours.
            near = cv2.dilate((seg == label).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            stray = int((mask & ~near).sum())
            assert stray == 0, f'hue {lo}..{hi}: {stray} saturated pixels away from label {label}'
        # Away from object borders (anti-aliased edges blend colours) the table is grey.
        inner_table = cv2.erode((seg == TABLE).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert not saturated[inner_table].any()


# -- policy -----------------------------------------------------------------------------------


def test_scripted_policy_places_the_block_on_the_target(episode):
    last = episode[-1]
    dist = np.linalg.norm(last.block - last.target)
    assert dist < 0.05, f'block ended {dist * 100:.1f} cm from the target'
    phases = [f.phase for f in episode]
    order = [p for i, p in enumerate(phases) if i == 0 or p != phases[i - 1]]
    assert order[:5] == ['approach', 'descend', 'grasp', 'lift', 'carry'], order
    # Seed 0's target is on the table, so the block is released rather than held.
    assert 'release' in order and order[-1] in ('retreat', 'done'), order
    # It was carried, not pushed: it left the table on the way.
    heights = [_to_world(f, f.block)[2] for f in episode]
    assert max(heights) - heights[0] > 0.03


def test_stamps_are_30hz_from_a_fixed_epoch(episode):
    stamps = np.array([f.stamp_ns for f in episode])
    assert stamps[0] == EPOCH_NS == stamp_for_frame(0)
    assert set(np.diff(stamps)) <= {33_333_333, 33_333_334}
    assert stamps[30] - stamps[0] == 1_000_000_000


# -- rosbag2 ------------------------------------------------------------------------------------


def test_importing_the_package_does_not_import_the_simulator():
    code = 'import sys, spatialvlm_ros.sim; print(any(m in sys.modules for m in ("mujoco", "gymnasium", "rosbags")))'
    root = REPO
    out = subprocess.run([sys.executable, '-c', code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'


def test_missing_simulator_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mujoco', None)  # makes `import mujoco` fail
    with pytest.raises(ImportError, match='requirements/sim.txt'):
        FetchPickPlaceScene(seed=0)
