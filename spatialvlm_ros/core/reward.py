"""Dense, staged reward from measured object positions, driven by a task (:mod:`.task`).

The active stage is decided per frame from the geometry alone (no hidden state), so the same
frame always gets the same reward live, in bag replay and in offline labelling:

    active = the last stage whose ``active_when`` condition holds (the first stage has none);
             when ``success`` holds, the last stage.

and the task's ``reward.form`` turns the active stage's distance d into the reward:

    staged_distance  (default)  reward = offset[active] - weight[active] * d + success_bonus * success
    stacked_progress            reward = active + (1 - w) * scale / (scale + max(0, d - exit))
                                         + w * hold + success_bonus * success

with, for stage k, ``scale`` its ``scale_m`` (else the task's ``reward.scale_m``), ``exit`` the
distance at which it is complete (:meth:`~.task.TaskSpec.stage_exit`: the ``below_m`` of the
condition that ends it, the next stage's ``active_when`` or, for the last stage, ``success``, when
that condition is on the stage's own pair; else 0), ``w`` its ``hold_weight`` (default 0) and

    hold = clip(1 - d_when / below_m, 0, 1)   (1 when success holds)

how far inside its own ``active_when`` condition (``d_when < below_m``) the frame is: 0 at the
switch, 1 at d_when = 0. ``stacked_progress`` gives stage k the band (k, k + 1]: its progress is
1 once d reaches the exit, 1/2 at ``scale`` beyond it and tends to 0 far away, so whatever the
distance at a stage switch, the next stage starts above where the previous one ended (by
``(1 - w) * progress > 0``, with w < 1): completing a stage never lowers the reward, and a frame
where success holds gets the top of the last band (n_stages, plus the bonus), whatever
sub-tolerance jitter the measurement has. ``hold_weight`` keeps a stage's band rising while what
entered it continues: the gripper closing from 5 cm to the block while its distance to the target
does not change yet (descending onto it, closing the fingers), which with w = 0 is a plateau of
ties. It is a function of the frame alone (Markov in the scene state: no distance-at-entry to
remember), which is what a value function can learn, and what keeps live, replayed and labelled
frames identical.

``done`` is the per-frame terminal flag: the task's success holds (RLDS ``is_terminal``, lerobot
``next.done``); truncation (a time limit, the end of a bag) is the caller's to add.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np

from .task import Condition, TaskSpec, pair_key
from .types import ObjectObservation, RewardSample

__all__ = ['compute_reward', 'hold_depth', 'reward_from_distances', 'reward_from_observations', 'reward_terms',
           'term_names']


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
    when = stage.active_when
    terms = reward_terms(task, active, d_active, None if when is None else dist[pair_key(*when.pair)],
                         bool(success))
    if task.success_bonus:
        terms['success_bonus'] = task.success_bonus if success else 0.0
    return RewardSample(stamp_ns=int(stamp_ns), reward=float(sum(terms.values())), stage=active,
                        stage_name=stage.name, success=bool(success), distances=dist, terms=terms, valid=True,
                        missing=missing, done=bool(success), form=task.reward.form)


def term_names(task: TaskSpec) -> list[str]:
    """The names of the additive terms of ``task``'s reward (the ``terms`` of its samples)."""
    names = ['offset', 'distance'] if task.reward.form == 'staged_distance' else ['stage', 'progress']
    if task.holds:
        names.append('hold')
    return names + (['success_bonus'] if task.success_bonus else [])


def hold_depth(task: TaskSpec, active: int, d_when: Optional[float], success: bool = False) -> float:
    """How far inside its ``active_when`` condition stage ``active`` is: ``clip(1 - d_when /
    below_m, 0, 1)`` (1 when success holds; 0 for a stage without a condition or without d_when)."""
    when = task.stages[active].active_when
    if success:
        return 1.0
    if when is None or d_when is None:
        return 0.0
    return min(1.0, max(0.0, 1.0 - float(d_when) / when.below_m))


def reward_terms(task: TaskSpec, active: int, d: float, d_when: Optional[float] = None,
                 success: bool = False) -> dict:
    """The form's terms (without the success bonus) of stage ``active`` at distance ``d`` metres;
    ``d_when``: the distance of its ``active_when`` pair (the ``hold`` term of a task with
    ``hold_weight``s); ``success``: whether the task's success holds (a full ``hold``)."""
    stage = task.stages[active]
    if task.reward.form == 'staged_distance':
        return {'offset': stage.offset, 'distance': -stage.weight * d}
    scale = task.stage_scale(active)
    beyond = max(0.0, d - task.stage_exit(active))
    progress = scale / (scale + beyond)
    if not task.holds:
        return {'stage': float(active), 'progress': progress}
    w = stage.hold_weight
    return {'stage': float(active), 'progress': (1.0 - w) * progress,
            'hold': w * hold_depth(task, active, d_when, success) if w else 0.0}


def reward_from_observations(
    task: TaskSpec, objects: Mapping[str, Optional[ObjectObservation]], stamp_ns: int = 0
) -> RewardSample:
    """:func:`compute_reward` on the centres of lifted objects."""
    positions = {name: (None if obs is None else obs.center) for name, obs in objects.items()}
    return compute_reward(task, positions, stamp_ns)
