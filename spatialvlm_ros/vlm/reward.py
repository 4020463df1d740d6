"""VLM as the reward source: distances from answers -> the task's staged reward, and the
cross-check of a VLM distance against the depth measurement of the same frame.

The stage rule is :func:`spatialvlm_ros.core.reward.reward_from_distances` itself (re-exported
here), applied to distances the VLM stated instead of distances between measured centres.
"""

from __future__ import annotations

from typing import Optional

from ..core.task import TaskSpec, pair_key

from ..core.reward import reward_from_distances
from .prompts import make_question

__all__ = ['task_questions', 'reward_from_distances', 'disagreement']


def task_questions(task: TaskSpec, template: int = 0) -> dict[str, str]:
    """pair key ("gripper-block") -> the distance question about the two objects' descriptions."""
    return {
        pair_key(a, b): make_question('distance', task.objects[a], task.objects[b], template=template).text
        for a, b in task.pairs()
    }


def disagreement(vlm_m: Optional[float], depth_m: Optional[float]) -> dict:
    """{'abs_m': |vlm - depth|, 'rel': |vlm - depth| / depth}; None entries when either is missing
    (rel also when the depth distance is 0)."""
    if vlm_m is None or depth_m is None:
        return {'abs_m': None, 'rel': None}
    diff = abs(float(vlm_m) - float(depth_m))
    return {'abs_m': round(diff, 6), 'rel': round(diff / depth_m, 6) if depth_m > 0 else None}
