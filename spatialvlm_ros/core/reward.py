"""Dense, staged reward from measured object positions, driven by a task (:mod:`.task`).

The active stage is decided per frame from the geometry alone (no hidden state), so the same
frame always gets the same reward live, in bag replay and in offline labelling:

    active = the last stage whose ``active_when`` condition holds (the first stage has none);
             when ``success`` holds, the last stage.

and the task's ``reward.form`` turns the active stage's distance d into the reward:

    staged_distance  (default)  reward = offset[active] - weight[active] * d + success_bonus * success
    stacked_progress            reward = active + scale / (scale + max(0, d - exit)) + success_bonus * success

with, for stage k, ``scale`` its ``scale_m`` (else the task's ``reward.scale_m``) and ``exit`` the
distance at which it is complete (:meth:`~.task.TaskSpec.stage_exit`: the ``below_m`` of the
condition that ends it, the next stage's ``active_when`` or, for the last stage, ``success``, when
that condition is on the stage's own pair; else 0). ``stacked_progress`` gives stage k the band
(k, k + 1]: its progress is 1 once d reaches the exit, 1/2 at ``scale`` beyond it and tends to 0
far away, so whatever the distance at a stage switch, the next stage starts above where the
previous one ended: completing a stage never lowers the reward, and a frame where success holds
gets the top of the last band (n_stages, plus the bonus), whatever sub-tolerance jitter the
measurement has. It is a function of the frame alone (Markov in the scene state: no
distance-at-entry to remember), which is what a value function can learn, and what keeps live,
replayed and labelled frames identical.

``done`` is the per-frame terminal flag: the task's success holds (RLDS ``is_terminal``, lerobot
``next.done``); truncation (a time limit, the end of a bag) is the caller's to add.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np

from .task import Condition, TaskSpec, pair_key
from .types import ObjectObservation, RewardSample

__all__ = ['compute_reward', 'reward_from_distances', 'reward_from_observations', 'reward_terms', 'term_names']


def _distance(positions: Mapping[str, Optional[np.ndarray]], pair: tuple[str, str]) -> Optional[float]:
    a, b = positions.get(pair[0]), positions.get(pair[1])
    if a is None or b is None:
        return None
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def compute_reward(task: TaskSpec, positions: Mapping[str, Optional[np.ndarray]], stamp_ns: int = 0) -> RewardSample:
    """Reward for one frame from object centres (metres, any common frame; None = not found).

    When an object the decision needs is missing the sample is ``valid=False`` with a NaN
    reward and ``missing`` naming the objects: a reward is never made up.
    """
    dist = {pair_key(*p): _distance(positions, p) for p in task.pairs()}
    missing = tuple(sorted({n for p in task.pairs() for n in p if positions.get(n) is None}))
    return reward_from_distances(task, dist, stamp_ns, missing)


def reward_from_distances(
    task: TaskSpec, distances: Mapping[str, Optional[float]], stamp_ns: int = 0, missing: tuple = ()
) -> RewardSample:
    """Reward for one frame from the task's distances keyed by :func:`pair_key` (metres; None or
    absent = not measured), however they were measured (depth, a VLM's answers)."""
    dist = {pair_key(*p): (None if distances.get(pair_key(*p)) is None else float(distances[pair_key(*p)]))
            for p in task.pairs()}
    if not missing:
        missing = tuple(k for k, v in dist.items() if v is None)

    def holds(cond: Optional[Condition]) -> Optional[bool]:
        if cond is None:
            return None
        d = dist[pair_key(*cond.pair)]
        return None if d is None else d < cond.below_m

    success = holds(task.success)
    active = 0
    undecidable = success is None and task.success is not None
    if success:
        active = len(task.stages) - 1
    else:
        for i in range(len(task.stages) - 1, 0, -1):
            h = holds(task.stages[i].active_when)
            if h is None:
                undecidable = True
                break
            if h:
                active = i
                break
    stage = task.stages[active]
    d_active = dist[pair_key(*stage.pair)]
    if d_active is None or (undecidable and not success):
        return RewardSample(stamp_ns=int(stamp_ns), reward=math.nan, stage=active, stage_name=stage.name,
                            success=False, distances=dist, terms={}, valid=False, missing=missing,
                            form=task.reward.form)
    terms = reward_terms(task, active, d_active)
    if task.success_bonus:
        terms['success_bonus'] = task.success_bonus if success else 0.0
    return RewardSample(stamp_ns=int(stamp_ns), reward=float(sum(terms.values())), stage=active,
                        stage_name=stage.name, success=bool(success), distances=dist, terms=terms, valid=True,
                        missing=missing, done=bool(success), form=task.reward.form)


def term_names(task: TaskSpec) -> list[str]:
    """The names of the additive terms of ``task``'s reward (the ``terms`` of its samples)."""
    names = ['offset', 'distance'] if task.reward.form == 'staged_distance' else ['stage', 'progress']
    return names + (['success_bonus'] if task.success_bonus else [])


def reward_terms(task: TaskSpec, active: int, d: float) -> dict:
    """The form's terms (without the success bonus) of stage ``active`` at distance ``d`` metres."""
    stage = task.stages[active]
    if task.reward.form == 'staged_distance':
        return {'offset': stage.offset, 'distance': -stage.weight * d}
    scale = task.stage_scale(active)
    beyond = max(0.0, d - task.stage_exit(active))
    return {'stage': float(active), 'progress': scale / (scale + beyond)}


def reward_from_observations(
    task: TaskSpec, objects: Mapping[str, Optional[ObjectObservation]], stamp_ns: int = 0
) -> RewardSample:
    """:func:`compute_reward` on the centres of lifted objects."""
    positions = {name: (None if obs is None else obs.center) for name, obs in objects.items()}
    return compute_reward(task, positions, stamp_ns)
