"""VLM as the reward source: distances from answers -> the task's staged reward, and the
cross-check of a VLM distance against the depth measurement of the same frame.

The stage rule is the one of :mod:`spatialvlm_ros.core.reward` (active = the last stage whose
``active_when`` holds, the last stage once ``success`` holds), applied to distances the VLM
stated instead of distances between measured centres.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

from ..core.reward import TaskSpec, pair_key
from ..core.types import RewardSample
from .prompts import make_question

__all__ = ['task_questions', 'reward_from_distances', 'disagreement']


def task_questions(task: TaskSpec, template: int = 0) -> dict[str, str]:
    """pair key ("gripper-block") -> the distance question about the two objects' descriptions."""
    return {
        pair_key(a, b): make_question('distance', task.objects[a], task.objects[b], template=template).text
        for a, b in task.pairs()
    }


def reward_from_distances(task: TaskSpec, distances: Mapping[str, Optional[float]], stamp_ns: int = 0) -> RewardSample:
    """The staged reward from distances keyed by :func:`pair_key` (metres; None = not stated).

    An undecidable stage or a missing active distance gives ``valid=False`` and a NaN reward,
    ``missing`` naming the pairs without a distance: never a made-up reward.
    """
    dist = {pair_key(*p): (None if distances.get(pair_key(*p)) is None else float(distances[pair_key(*p)]))
            for p in task.pairs()}
    missing = tuple(k for k, v in dist.items() if v is None)

    def holds(cond) -> Optional[bool]:
        if cond is None:
            return None
        d = dist[pair_key(*cond.pair)]
        return None if d is None else d < cond.below_m

    success = holds(task.success)
    active, undecidable = 0, success is None and task.success is not None
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
                            success=False, distances=dist, terms={}, valid=False, missing=missing)
    terms = {'offset': stage.offset, 'distance': -stage.weight * d_active}
    if task.success_bonus:
        terms['success_bonus'] = task.success_bonus if success else 0.0
    return RewardSample(stamp_ns=int(stamp_ns), reward=float(sum(terms.values())), stage=active, stage_name=stage.name,
                        success=bool(success), distances=dist, terms=terms, valid=True, missing=missing)


def disagreement(vlm_m: Optional[float], depth_m: Optional[float]) -> dict:
    """{'abs_m': |vlm - depth|, 'rel': |vlm - depth| / depth}; None entries when either is missing
    (rel also when the depth distance is 0)."""
    if vlm_m is None or depth_m is None:
        return {'abs_m': None, 'rel': None}
    diff = abs(float(vlm_m) - float(depth_m))
    return {'abs_m': round(diff, 6), 'rel': round(diff / depth_m, 6) if depth_m > 0 else None}
