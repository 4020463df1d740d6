"""Scripted pick-and-place policy for the Fetch env, and an episode rollout that renders it.

The policy is a proportional controller on the env's action space
``(dx, dy, dz, gripper)`` in [-1, 1], where dx..dz move the end-effector mocap by up to
5 cm per env step and gripper > 0 opens, < 0 closes. It reads the observation dict:
``observation[0:3]`` grip position and ``observation[3:6]`` block position (world, metres)
and ``desired_goal`` (world, metres).

Phases: approach (above the block) -> descend -> grasp -> lift -> carry (to the target) ->
release -> retreat -> done. When the target is in the air (PickAndPlace puts it up to
0.45 m above the table half of the time) releasing would drop the block, so the policy
instead keeps holding it at the target ('hold').
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .scene import FetchPickPlaceScene, SimFrame
from .errors import SimError

__all__ = ['PHASES', 'PolicyGains', 'ScriptedPickPlacePolicy', 'iter_episode']

logger = logging.getLogger(__name__)

PHASES = ('approach', 'descend', 'grasp', 'lift', 'carry', 'release', 'retreat', 'hold', 'done')

# The env moves the mocap by action * 5 cm per step.
_METRES_PER_ACTION = 0.05


@dataclass(frozen=True)
class PolicyGains:
    """Tuning of :class:`ScriptedPickPlacePolicy` (metres, env steps).

    gain: action per metre of error; 1/0.05 = 20 would close the error in one step,
        half of that gives smooth, non-overshooting motion through the welded mocap.
    max_action: cap on |dx|, |dy|, |dz| (0.3 = 1.5 cm per step, about 0.4 m/s of sim time;
        slow enough that consecutive frames overlap well).
    approach_height: hover height of the grip site above the block centre.
    carry_clearance: minimum block-centre height above its resting height while carrying.
    tolerance: position error that ends a move phase.
    grasp_steps, release_steps: steps spent closing / opening the fingers.
    """

    gain: float = 10.0
    max_action: float = 0.3
    approach_height: float = 0.06
    carry_clearance: float = 0.06
    tolerance: float = 0.01
    grasp_steps: int = 5
    release_steps: int = 4
    retreat_height: float = 0.08


class ScriptedPickPlacePolicy:
    """Finite-state pick-and-place controller; call :meth:`act` once per env step.

    ``phase`` is the phase the last returned action belongs to.
    """

    def __init__(self, gains: PolicyGains | None = None) -> None:
        self.gains = gains or PolicyGains()
        self.phase = 'approach'
        self._phase_steps = 0
        self._rest_z: float | None = None
        self._hold_point: np.ndarray | None = None

    def reset(self) -> None:
        self.phase = 'approach'
        self._phase_steps = 0
        self._rest_z = None
        self._hold_point = None

    def _enter(self, phase: str) -> None:
        logger.debug('phase %s -> %s', self.phase, phase)
        self.phase = phase
        self._phase_steps = 0

    def _move(self, error: np.ndarray, gripper: float) -> np.ndarray:
        g = self.gains
        delta = np.clip(g.gain * np.asarray(error, dtype=np.float64), -g.max_action, g.max_action)
        return np.array([delta[0], delta[1], delta[2], gripper], dtype=np.float32)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Action (4,) float32 for the observation dict of the current step."""
        o = np.asarray(obs['observation'], dtype=np.float64)
        grip, block = o[0:3], o[3:6]
        goal = np.asarray(obs['desired_goal'], dtype=np.float64)
        g = self.gains
        if self._rest_z is None:
            # The block starts resting on the table: its height there is the floor of the task.
            self._rest_z = float(block[2])
        goal_on_table = goal[2] < self._rest_z + 0.01
        carry_z = max(goal[2], self._rest_z + g.carry_clearance)

        # Each branch either acts or falls through to the next phase in the same step, so no
        # step is wasted on a transition.
        if self.phase == 'approach':
            err = block + np.array([0.0, 0.0, g.approach_height]) - grip
            if np.linalg.norm(err[:2]) < g.tolerance and abs(err[2]) < 1.5 * g.tolerance:
                self._enter('descend')
            else:
                return self._move(err, 1.0)
        if self.phase == 'descend':
            err = block - grip
            if np.linalg.norm(err) < g.tolerance:
                self._enter('grasp')
            else:
                return self._move(err, 1.0)
        if self.phase == 'grasp':
            if self._phase_steps >= g.grasp_steps:
                self._enter('lift')
            else:
                self._phase_steps += 1
                return self._move(block - grip, -1.0)
        if self.phase == 'lift':
            err = np.array([0.0, 0.0, carry_z - block[2]])
            if abs(err[2]) < g.tolerance:
                self._enter('carry')
            else:
                return self._move(err, -1.0)
        if self.phase == 'carry':
            # Travel at carry height, then go straight to the goal once above (or at) it, so
            # the block never drags over the table.
            above = np.array([goal[0], goal[1], carry_z])
            aim = goal if np.linalg.norm(goal[:2] - block[:2]) < 2.0 * g.tolerance else above
            err = aim - block
            if np.linalg.norm(goal - block) < g.tolerance:
                self._hold_point = grip.copy()
                self._enter('release' if goal_on_table else 'hold')
            else:
                return self._move(err, -1.0)
        if self.phase == 'hold':
            # Target in the air: keep the block there.
            return self._move(goal - block, -1.0)
        if self.phase == 'release':
            if self._phase_steps >= g.release_steps:
                self._enter('retreat')
            else:
                self._phase_steps += 1
                assert self._hold_point is not None
                return self._move(self._hold_point - grip, 1.0)
        if self.phase == 'retreat':
            assert self._hold_point is not None
            err = self._hold_point + np.array([0.0, 0.0, g.retreat_height]) - grip
            if np.linalg.norm(err) < g.tolerance:
                self._enter('done')
            else:
                return self._move(err, 1.0)
        # done: stay put with the gripper open.
        assert self._hold_point is not None
        return self._move(self._hold_point + np.array([0.0, 0.0, g.retreat_height]) - grip, 1.0)


def iter_episode(
    seed: int = 0,
    frames: int = 150,
    width: int = 640,
    height: int = 480,
    *,
    segmentation: bool = False,
    policy: ScriptedPickPlacePolicy | None = None,
) -> Iterator[SimFrame]:
    """Run the scripted policy and yield one rendered frame per env step.

    Frame 0 is the state right after reset; frame i is the state after i env steps
    (0.04 s of physics each) and carries the phase of the action taken from it. Frames
    are stamped at 30 Hz (see :class:`~spatialvlm_ros.sim.scene.FetchPickPlaceScene`).
    If ``frames`` is too small for the whole task, the later phases simply do not happen.
    """
    if int(frames) < 1:
        raise SimError(f'expected frames >= 1, got {frames}')
    policy = policy or ScriptedPickPlacePolicy()
    policy.reset()
    with FetchPickPlaceScene(seed, width, height, segmentation=segmentation) as scene:
        obs = scene.observation
        for i in range(int(frames)):
            action = policy.act(obs)
            yield scene.render(i, phase=policy.phase)
            if i + 1 < frames:
                obs = scene.step(action)
