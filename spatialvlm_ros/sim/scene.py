"""Simulated registered RGB-D camera over the Fetch pick-and-place task, with ground truth.

Built on gymnasium-robotics ``FetchPickAndPlace-v4`` (MuJoCo). The scene is recoloured so
that colour grounding by hue is unambiguous: the block is red, the target a flat blue disc, the
gripper fingers yellow, and everything else (robot, table, floor, sky) neutral grey.

Frames come from the fixed camera ``external_camera_0``, which sees gripper, block and
target. Depth is MuJoCo's metric depth buffer: planar distance along the optical axis in
metres (what a RealSense ``aligned_depth_to_color`` stream reports), not the ray length.

All ground truth is expressed in the camera *optical* frame (REP 103: x right, y down,
z forward) unless a field name says ``world``.

mujoco and gymnasium-robotics are imported lazily so the rest of the package works without
them; see :func:`import_sim_deps`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

import numpy as np

from ..core.types import Intrinsics
from .errors import SimError

__all__ = [
    'CAMERA_NAME',
    'COLOURS',
    'ENV_ID',
    'EPOCH_NS',
    'FRAME_ID',
    'FRAME_RATE_HZ',
    'SEGMENTATION_LABELS',
    'FetchPickPlaceScene',
    'SimFrame',
    'import_sim_deps',
    'stamp_for_frame',
]

logger = logging.getLogger(__name__)

ENV_ID = 'FetchPickAndPlace-v4'
CAMERA_NAME = 'external_camera_0'
FRAME_ID = 'camera_color_optical_frame'

# Frames are stamped as a 30 Hz camera would be, starting at a fixed, plausible ROS time,
# so bags look like real recordings and stamps are reproducible across runs.
FRAME_RATE_HZ = 30.0
EPOCH_NS = 1_700_000_000 * 1_000_000_000

# Linear RGBA in [0, 1]. Saturated and far apart in hue (red 0 deg, yellow ~55 deg,
# blue ~225 deg) so an HSV threshold separates them; everything else is desaturated.
COLOURS: dict[str, tuple[float, float, float, float]] = {
    'block': (0.85, 0.04, 0.04, 1.0),
    'target': (0.05, 0.2, 0.95, 1.0),
    'gripper': (0.95, 0.8, 0.05, 1.0),
    'table': (0.6, 0.6, 0.6, 1.0),
    'floor': (0.3, 0.3, 0.3, 1.0),
}
_SKY_GREY = 200  # uint8 grey of the skybox texture (the env ships a green one)

# Semantic labels of SimFrame.segmentation (uint8).
SEGMENTATION_LABELS: dict[str, int] = {
    'background': 0,
    'block': 1,
    'target': 2,
    'gripper': 3,
    'table': 4,
    'robot': 5,
    'floor': 6,
}

_BLOCK_GEOM = 'object0'
_TARGET_SITE = 'target0'
TARGET_DISC_RADIUS_M = 0.05
TARGET_DISC_HALF_THICKNESS_M = 0.002
_GRIP_SITE = 'robot0:grip'
_FINGER_GEOMS = ('robot0:r_gripper_finger_link', 'robot0:l_gripper_finger_link')
_TABLE_BODY = 'table0'
_FLOOR_GEOM = 'floor0'
# Geoms/sites we never want in the image (mocap handles, helper sites) go to this group,
# which the render options switch off.
_HIDDEN_GROUP = 5
# REP 103 optical frame from MuJoCo's camera frame (x right, y up, looking along -z).
_MUJOCO_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])

_INSTALL_HINT = (
    'mujoco==3.11.0 and gymnasium-robotics==1.4.2 are needed for the simulator: '
    'pip install -r requirements/sim.txt'
)


def stamp_for_frame(index: int) -> int:
    """Header stamp (integer ns) of frame ``index``: ``EPOCH_NS + round(index * 1e9 / 30)``."""
    if index < 0:
        raise SimError(f'expected a frame index >= 0, got {index}')
    return EPOCH_NS + int(round(index * 1e9 / FRAME_RATE_HZ))


def import_sim_deps() -> tuple[ModuleType, ModuleType]:
    """Import and return ``(mujoco, gymnasium)`` with the Fetch envs registered.

    Defaults ``MUJOCO_GL`` to ``egl`` (headless, works on CPU via Mesa) unless the caller
    chose a backend; this only has an effect if mujoco was not imported yet.

    Raises ImportError with an install hint when a dependency is missing.
    """
    os.environ.setdefault('MUJOCO_GL', 'egl')
    try:
        import gymnasium as gym
        import gymnasium_robotics
        import mujoco
    except ImportError as exc:
        raise ImportError(f'{_INSTALL_HINT} ({exc})') from exc
    gym.register_envs(gymnasium_robotics)
    return mujoco, gym


@dataclass(frozen=True, eq=False)
class SimFrame:
    """One rendered frame with its ground truth.

    index: frame number in the episode (0 = state right after reset).
    stamp_ns: header stamp, integer ns (see :func:`stamp_for_frame`).
    rgb: HxWx3 uint8, RGB order.
    depth: HxW float32 metres, planar (along the optical axis); NaN where nothing was hit.
    intrinsics: pinhole intrinsics of ``rgb`` and ``depth`` (registered, same camera).
    gripper, block, target: (3,) float64 metres in the optical frame: the grip site between
        the fingers, the block centre, the target disc centre.
    block_size: (3,) float64 metres, full edge lengths of the block in its own frame.
    block_rotation: 3x3 float64, block axes in the optical frame (columns).
    target_radius: metres.
    ee_world: (3,) float64 metres, grip site in the Fetch world frame.
    camera_position_world: (3,) float64 metres, optical centre in the world frame.
    camera_rotation_world: 3x3 float64, optical-frame axes in the world frame (columns), so
        ``p_world = camera_rotation_world @ p_optical + camera_position_world``.
    phase: the scripted policy's phase when the frame was taken ('' if none).
    segmentation: HxW uint8 labels (:data:`SEGMENTATION_LABELS`), or None if not rendered.
    """

    index: int
    stamp_ns: int
    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    gripper: np.ndarray
    block: np.ndarray
    target: np.ndarray
    block_size: np.ndarray
    block_rotation: np.ndarray
    target_radius: float
    ee_world: np.ndarray
    camera_position_world: np.ndarray
    camera_rotation_world: np.ndarray
    phase: str = ''
    segmentation: Optional[np.ndarray] = field(default=None, repr=False)

    def ground_truth(self) -> dict[str, Any]:
        """The JSON-able ground-truth record published on ``/sim/ground_truth``."""
        return {
            'stamp_ns': int(self.stamp_ns),
            'frame_id': FRAME_ID,
            'gripper': [float(v) for v in self.gripper],
            'block': [float(v) for v in self.block],
            'target': [float(v) for v in self.target],
            'block_size_m': [float(v) for v in self.block_size],
            'target_radius_m': float(self.target_radius),
            'ee_world': [float(v) for v in self.ee_world],
            'camera_position_world': [float(v) for v in self.camera_position_world],
            'camera_rotation_world': [[float(v) for v in row] for row in self.camera_rotation_world],
            'phase': self.phase,
        }


def _desaturate(rgba: np.ndarray) -> np.ndarray:
    """Nx4 RGBA -> same luminance grey (alpha kept), so nothing else carries a hue."""
    out = np.array(rgba, dtype=np.float32, copy=True)
    luma = 0.299 * out[:, 0] + 0.587 * out[:, 1] + 0.114 * out[:, 2]
    out[:, :3] = luma[:, None]
    return out


class FetchPickPlaceScene:
    """Deterministic Fetch pick-and-place episode rendered as a registered RGB-D camera.

    seed: seeds ``env.reset``; the block start and the target (sometimes in the air) are
        random per seed and identical for the same seed.
    width, height: image size in pixels.
    segmentation: also render a semantic label image per frame (one extra render pass).

    One :meth:`step` is one env step: 0.04 s of simulated physics (20 MuJoCo substeps of
    2 ms). Frames are nevertheless stamped at 30 Hz (:func:`stamp_for_frame`) because the
    consumers expect a 30 Hz camera; the simulated motion is therefore 1.2x faster than
    the stamps suggest.

    Use as a context manager or call :meth:`close` to free the GL context.
    """

    def __init__(self, seed: int, width: int = 640, height: int = 480, *, segmentation: bool = True,
                 env: Any = None, camera: str = CAMERA_NAME) -> None:
        if int(width) <= 0 or int(height) <= 0:
            raise SimError(f'expected a positive image size, got {width}x{height}')
        mujoco, gym = import_sim_deps()
        self._mj = mujoco
        self.seed = int(seed)
        self.width = int(width)
        self.height = int(height)
        self.with_segmentation = bool(segmentation)
        self._owns_env = env is None
        if env is None:
            # The registered TimeLimit (50 steps) would truncate our longer episodes.
            self._env = gym.make(ENV_ID, max_episode_steps=1_000_000, disable_env_checker=True)
            self._obs, _ = self._env.reset(seed=self.seed)
        else:
            # A caller's (already reset) Fetch env: it steps and resets it; place_target() after each reset.
            self._env, self._obs = env, None
        env = self._env.unwrapped
        self.model = env.model
        self.data = env.data
        m = self.model

        def obj_id(kind: Any, name: str) -> int:
            idx = mujoco.mj_name2id(m, kind, name)
            if idx < 0:
                raise RuntimeError(f'{ENV_ID} has no {kind.name} named {name!r}; gymnasium-robotics is not 1.4.x')
            return idx

        self._cam = obj_id(mujoco.mjtObj.mjOBJ_CAMERA, camera)
        self._block_geom = obj_id(mujoco.mjtObj.mjOBJ_GEOM, _BLOCK_GEOM)
        self._target_site = obj_id(mujoco.mjtObj.mjOBJ_SITE, _TARGET_SITE)
        self._grip_site = obj_id(mujoco.mjtObj.mjOBJ_SITE, _GRIP_SITE)
        self._finger_geoms = [obj_id(mujoco.mjtObj.mjOBJ_GEOM, n) for n in _FINGER_GEOMS]
        self._table_body = obj_id(mujoco.mjtObj.mjOBJ_BODY, _TABLE_BODY)
        self._floor_geom = obj_id(mujoco.mjtObj.mjOBJ_GEOM, _FLOOR_GEOM)

        self._recolour()
        self.place_target()
        self._geom_labels, self._site_labels = self._label_tables()

        self._option = mujoco.MjvOption()
        self._option.geomgroup[_HIDDEN_GROUP] = 0
        self._option.sitegroup[_HIDDEN_GROUP] = 0
        # The offscreen buffer is sized from the model; the env ships 480x480.
        m.vis.global_.offwidth = max(int(m.vis.global_.offwidth), self.width)
        m.vis.global_.offheight = max(int(m.vis.global_.offheight), self.height)
        self._renderer = mujoco.Renderer(m, height=self.height, width=self.width)
        self.intrinsics = self._make_intrinsics()
        logger.debug('scene seed=%d %dx%d intrinsics=%s', self.seed, self.width, self.height, self.intrinsics)

    # -- setup ---------------------------------------------------------------------------

    def _recolour(self) -> None:
        """Make red/blue/yellow unique to block/target/fingers; everything else grey."""
        m = self.model
        mj = self._mj
        m.geom_rgba[:] = _desaturate(m.geom_rgba)
        m.mat_rgba[:] = _desaturate(m.mat_rgba)
        m.site_rgba[:] = _desaturate(m.site_rgba)
        # Materials would override geom_rgba for geoms left at the default colour.
        for gid, name in [(self._block_geom, 'block'), (self._floor_geom, 'floor')] + [
            (g, 'gripper') for g in self._finger_geoms
        ]:
            m.geom_matid[gid] = -1
            m.geom_rgba[gid] = COLOURS[name]
        for gid in np.flatnonzero(m.geom_bodyid == self._table_body):
            m.geom_matid[gid] = -1
            m.geom_rgba[gid] = COLOURS['table']
        # Mocap handles (green translucent boxes) are visual noise; hide them.
        mocap_bodies = np.flatnonzero(m.body_mocapid >= 0)
        for gid in np.flatnonzero(np.isin(m.geom_bodyid, mocap_bodies)):
            m.geom_group[gid] = _HIDDEN_GROUP
        # Only the target is a visible site; the red marker inside the block and the
        # grip site are helpers.
        for sid in range(m.nsite):
            if sid != self._target_site:
                m.site_group[sid] = _HIDDEN_GROUP
        m.site_rgba[self._target_site] = COLOURS['target']
        # A flat disc wider than the block, not the stock 2 cm sphere: a block placed on the target
        # hides a sphere completely, while a ring of the disc stays visible around it.
        m.site_type[self._target_site] = mj.mjtGeom.mjGEOM_CYLINDER
        m.site_size[self._target_site] = (TARGET_DISC_RADIUS_M, TARGET_DISC_HALF_THICKNESS_M, 0.0)
        # The skybox is a green gradient: make it neutral. Textures are uploaded when the
        # renderer is created, which happens after this.
        for tid in range(m.ntex):
            if m.tex_type[tid] == mj.mjtTexture.mjTEXTURE_SKYBOX:
                start = int(m.tex_adr[tid])
                size = int(m.tex_width[tid]) * int(m.tex_height[tid]) * int(m.tex_nchannel[tid])
                m.tex_data[start : start + size] = _SKY_GREY

    def place_target(self) -> None:
        """Move the target site onto the episode goal (the env only does it in render()); again
        after every reset of a caller's env."""
        m, d = self.model, self.data
        goal = np.asarray(self._env.unwrapped.goal, dtype=np.float64)
        if goal.shape != (3,):  # a caller's env that was not reset yet has no goal
            return
        body = int(m.site_bodyid[self._target_site])
        rot = d.xmat[body].reshape(3, 3)
        m.site_pos[self._target_site] = rot.T @ (goal - d.xpos[body])
        self._mj.mj_forward(m, d)

    def _label_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """geom id -> label and site id -> label lookup arrays (uint8)."""
        m = self.model
        labels = SEGMENTATION_LABELS
        geom = np.full(m.ngeom, labels['background'], dtype=np.uint8)
        for gid in range(m.ngeom):
            body = self._mj.mj_id2name(m, self._mj.mjtObj.mjOBJ_BODY, int(m.geom_bodyid[gid])) or ''
            if body.startswith('robot0:'):
                geom[gid] = labels['robot']
        geom[m.geom_bodyid == self._table_body] = labels['table']
        geom[self._floor_geom] = labels['floor']
        geom[self._block_geom] = labels['block']
        geom[self._finger_geoms] = labels['gripper']
        site = np.full(m.nsite, labels['background'], dtype=np.uint8)
        site[self._target_site] = labels['target']
        return geom, site

    def _make_intrinsics(self) -> Intrinsics:
        # MuJoCo's fovy is vertical, in degrees; pixels are square, and the principal point
        # is the image centre in pixel-centre coordinates (pixel i spans [i-0.5, i+0.5]).
        fovy = np.deg2rad(float(self.model.cam_fovy[self._cam]))
        f = (self.height / 2.0) / np.tan(fovy / 2.0)
        return Intrinsics(
            fx=float(f), fy=float(f), cx=(self.width - 1) / 2.0, cy=(self.height - 1) / 2.0,
            width=self.width, height=self.height,
        )

    # -- episode -------------------------------------------------------------------------

    @property
    def observation(self) -> dict[str, np.ndarray]:
        """The env's latest observation dict (``observation``, ``achieved_goal``, ``desired_goal``)."""
        return self._obs

    @property
    def goal_world(self) -> np.ndarray:
        """(3,) float64 metres, target centre in the world frame."""
        return np.array(self._env.unwrapped.goal, dtype=np.float64)

    @property
    def action_space(self) -> Any:
        return self._env.action_space

    def step(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Advance one env step (0.04 s of physics) with ``action`` = (dx, dy, dz, gripper) in [-1, 1]."""
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != (4,):
            raise SimError(f'expected an action of shape (4,) = (dx, dy, dz, gripper), got {action.shape}')
        self._obs, _, _, _, _ = self._env.step(np.clip(action, -1.0, 1.0))
        return self._obs

    def camera_pose_world(self) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,), rotation 3x3) of the optical frame in the world frame, float64."""
        pos = np.array(self.data.cam_xpos[self._cam], dtype=np.float64)
        rot = np.array(self.data.cam_xmat[self._cam], dtype=np.float64).reshape(3, 3) @ _MUJOCO_TO_OPTICAL
        return pos, rot

    def render(self, index: int = 0, phase: str = '') -> SimFrame:
        """Render the current state as frame ``index`` (which only sets its stamp)."""
        m, d = self.model, self.data
        r = self._renderer
        r.update_scene(d, camera=self._cam, scene_option=self._option)
        rgb = r.render().copy()
        r.enable_depth_rendering()
        try:
            depth = r.render().copy()
        finally:
            r.disable_depth_rendering()
        # Nothing hit: the depth buffer holds the far plane. Real sensors report no return.
        far = 0.99 * m.vis.map.zfar * m.stat.extent
        depth[~(depth < far)] = np.nan
        labels = None
        if self.with_segmentation:
            r.enable_segmentation_rendering()
            try:
                seg = r.render()
            finally:
                r.disable_segmentation_rendering()
            labels = self._labels_from_segmentation(seg)

        cam_pos, cam_rot = self.camera_pose_world()

        def to_optical(p_world: np.ndarray) -> np.ndarray:
            return cam_rot.T @ (np.asarray(p_world, dtype=np.float64) - cam_pos)

        block_rot_world = np.array(d.geom_xmat[self._block_geom], dtype=np.float64).reshape(3, 3)
        return SimFrame(
            index=int(index),
            stamp_ns=stamp_for_frame(index),
            rgb=rgb,
            depth=depth.astype(np.float32, copy=False),
            intrinsics=self.intrinsics,
            gripper=to_optical(d.site_xpos[self._grip_site]),
            block=to_optical(d.geom_xpos[self._block_geom]),
            target=to_optical(d.site_xpos[self._target_site]),
            block_size=2.0 * np.array(m.geom_size[self._block_geom], dtype=np.float64),
            block_rotation=cam_rot.T @ block_rot_world,
            target_radius=float(m.site_size[self._target_site][0]),
            ee_world=np.array(d.site_xpos[self._grip_site], dtype=np.float64),
            camera_position_world=cam_pos,
            camera_rotation_world=cam_rot,
            phase=str(phase),
            segmentation=labels,
        )

    def _labels_from_segmentation(self, seg: np.ndarray) -> np.ndarray:
        """HxWx2 int32 (object id, object type; -1 = none) -> HxW uint8 semantic labels."""
        obj, kind = seg[..., 0], seg[..., 1]
        out = np.zeros(obj.shape, dtype=np.uint8)
        is_geom = kind == int(self._mj.mjtObj.mjOBJ_GEOM)
        is_site = kind == int(self._mj.mjtObj.mjOBJ_SITE)
        out[is_geom] = self._geom_labels[obj[is_geom]]
        out[is_site] = self._site_labels[obj[is_site]]
        return out

    def close(self) -> None:
        """Free the renderer's GL context and the env. Safe to call twice."""
        if getattr(self, '_renderer', None) is not None:
            self._renderer.close()
            self._renderer = None
        if getattr(self, '_env', None) is not None:
            if self._owns_env:
                self._env.close()
            self._env = None

    def __enter__(self) -> 'FetchPickPlaceScene':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
