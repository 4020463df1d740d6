"""A Gymnasium wrapper that replaces a MuJoCo Fetch env's reward by the spatial reward (ROS-free).

:class:`SpatialReward` renders colour and metric depth from a named camera after every
``reset`` and ``step`` (``mujoco.Renderer``, ``MUJOCO_GL=egl`` headless), runs the same per-frame
step as the live nodes and the labeller (:class:`~spatialvlm_ros.core.step.FrameStep`) and returns
the task's reward; ``info['spatial']`` carries the distances, stage, success, done and, with
``facts=True``, the spatial facts. The gripper is known to the robot (its grip site, in the
camera frame), as the demo's kinematic gripper; the other objects are measured from RGB-D.

    import gymnasium as gym
    from spatialvlm_ros.sim.gym_reward import SpatialReward, make_fetch_env

    env = SpatialReward(make_fetch_env(), 'pick_and_place')
    envs = gym.vector.SyncVectorEnv([lambda: SpatialReward(make_fetch_env(), 'pick_and_place')] * 4)

The env's model is recoloured once (block red, target a blue disc, fingers yellow, the rest grey:
:class:`~.scene.FetchPickPlaceScene`), so the colour grounder finds the task's objects; the
policy's observations are the env's own and unchanged. A frame whose objects are not all found
gets ``missing_reward`` (the reward is undefined there; ``info['spatial']['valid']`` is False).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from ..core.config_files import load_defaults
from ..core.params import pipeline_config_from_params
from ..core.reward import compute_reward
from ..core.step import FrameStep, KnownPosition
from ..core.task import TaskSpec, load_task, task_path
from ..core.types import Frame
from .errors import SimError
from .scene import CAMERA_NAME, ENV_ID, FRAME_ID, FetchPickPlaceScene, import_sim_deps

__all__ = ['SpatialReward', 'make_fetch_env']


def make_fetch_env(env_id: str = ENV_ID, max_episode_steps: int = 100, **kwargs: Any):
    """``gymnasium.make`` of a Fetch env (gymnasium-robotics registered), ``max_episode_steps`` long."""
    _, gym = import_sim_deps()
    return gym.make(env_id, max_episode_steps=max_episode_steps, disable_env_checker=True, **kwargs)


def _import_gym():
    _, gym = import_sim_deps()
    return gym


class SpatialReward(_import_gym().Wrapper):
    """``env`` with the spatial reward of ``task`` (a TaskSpec, a YAML path or a package task name).

    camera: the MuJoCo camera rendered (its optical frame is the frame of the measurements).
    width, height: the rendered image size (pixels).
    params: ``spatial_facts`` parameters over ``config/spatial_facts.yaml``'s defaults (grounder,
        centre modes, ...).
    known: objects the robot knows -> the MuJoCo site giving its position (default: the Fetch
        grip site as the gripper); the rest are grounded and measured from the image.
    facts: also compute the spatial facts each step (``info['spatial']['facts']``; slower).
    missing_reward: the reward of a frame where the reward is undefined (an object not found).
    terminate_on_success: end the episode (``terminated``) on the first frame where ``done`` holds.
    privileged: add ``info['spatial']['privileged_reward']``, the same task on the simulator's
        true positions (for checking the wrapper; a real robot has no such thing).
    """

    def __init__(self, env, task: TaskSpec | str = 'pick_and_place', camera: str = CAMERA_NAME,
                 width: int = 320, height: int = 240, params: Optional[Mapping] = None,
                 known: Optional[Mapping[str, str]] = None, facts: bool = False, missing_reward: float = 0.0,
                 terminate_on_success: bool = False, privileged: bool = True) -> None:
        super().__init__(env)
        self.task = task if isinstance(task, TaskSpec) else load_task(task_path(task))
        self.known = dict({'gripper': 'robot0:grip'} if known is None else known)
        unknown = sorted(set(self.known) - set(self.task.objects))
        if unknown:
            raise SimError(f'known objects {unknown} are not among the task objects {sorted(self.task.objects)}')
        p = load_defaults('spatial_facts.yaml', 'spatial_facts')
        p.update(params or {})
        self.step_fn = FrameStep(pipeline_config_from_params(p, self.task), self.task)
        self.scene = FetchPickPlaceScene(0, width, height, segmentation=False, env=env, camera=camera)
        self._sites = {n: self._site_id(s) for n, s in self.known.items()}
        self.facts = bool(facts)
        self.missing_reward = float(missing_reward)
        self.terminate_on_success = bool(terminate_on_success)
        self.privileged = bool(privileged)
        self._t = 0

    def _site_id(self, name: str) -> int:
        mujoco = self.scene._mj
        idx = mujoco.mj_name2id(self.scene.model, mujoco.mjtObj.mjOBJ_SITE, name)
        if idx < 0:
            raise SimError(f'the env has no MuJoCo site {name!r} (known positions are sites)')
        return idx

    def _spatial(self, env_reward: Optional[float]) -> tuple[float, dict]:
        """Render the current state, run the per-frame step: (reward, info['spatial'])."""
        sim = self.scene.render(self._t)
        self._t += 1
        frame = Frame(rgb=sim.rgb, depth=sim.depth, intrinsics=sim.intrinsics, stamp_ns=sim.stamp_ns,
                      frame_id=FRAME_ID)
        cam_pos, cam_rot = sim.camera_position_world, sim.camera_rotation_world
        known = {n: KnownPosition(tuple(cam_rot.T @ (self.scene.data.site_xpos[i] - cam_pos)))
                 for n, i in self._sites.items()}
        result = self.step_fn.perceive(frame, known)
        if self.facts:
            result = self.step_fn.relate(result)
        sample = result.reward
        detail = sample.to_dict()
        detail['env_reward'] = env_reward
        if self.facts:
            detail['facts'] = [f.to_dict() for f in result.facts]
        if self.privileged:
            truth = compute_reward(self.task, {'gripper': sim.gripper, 'block': sim.block, 'target': sim.target},
                                   sim.stamp_ns)
            detail['privileged_reward'] = truth.reward if truth.valid else None
        reward = float(sample.reward) if sample.valid and math.isfinite(sample.reward) else self.missing_reward
        return reward, detail

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.scene.place_target()
        self._t = 0
        _, info['spatial'] = self._spatial(None)
        return obs, info

    def step(self, action):
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        reward, info['spatial'] = self._spatial(float(env_reward))
        if self.terminate_on_success and info['spatial']['done']:
            terminated = True
        return obs, reward, terminated, truncated, info

    def close(self):
        self.scene.close()
        self.step_fn.close()
        super().close()
