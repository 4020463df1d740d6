"""Dense, staged reward from measured object positions, driven by a task spec (YAML).

A task is a list of stages, each minimising one distance between two named objects. The
active stage is decided per frame from the geometry alone (no hidden state), so the same
frame always gets the same reward live, in bag replay and in offline labelling:

    active = the last stage whose ``active_when`` condition holds (the first stage has none);
             when ``success`` holds, the last stage.
    reward = offset[active] - weight[active] * distance[active] + success_bonus * success

Example (``config/tasks/pick_and_place.yaml``)::

    name: pick_and_place
    objects: {gripper: yellow gripper, block: red block, target: blue target}
    stages:
      - {name: reach, distance: [gripper, block]}
      - {name: carry, distance: [block, target], active_when: {distance: [gripper, block], below_m: 0.05}}
    success: {distance: [block, target], below_m: 0.05}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from .errors import TaskSpecError
from .types import ObjectObservation, RewardSample

__all__ = [
    'Condition', 'Stage', 'TaskSpec', 'load_task', 'pair_key', 'compute_reward', 'reward_from_distances',
    'reward_from_observations',
]


def _pair(value, where: str) -> tuple[str, str]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise TaskSpecError(f'{where}: expected a pair of object names like [gripper, block], got {value!r}')
    if value[0] == value[1]:
        raise TaskSpecError(f'{where}: the two objects must differ, got {value!r}')
    return value[0], value[1]


def pair_key(a: str, b: str) -> str:
    """The key a distance between ``a`` and ``b`` is reported under."""
    return f'{a}-{b}'


@dataclass(frozen=True)
class Condition:
    """``distance(a, b) < below_m``."""

    pair: tuple[str, str]
    below_m: float

    @classmethod
    def parse(cls, raw, where: str) -> 'Condition':
        if not isinstance(raw, Mapping):
            raise TaskSpecError(f'{where}: expected a mapping {{distance: [a, b], below_m: 0.05}}, got {raw!r}')
        unknown = set(raw) - {'distance', 'below_m'}
        if unknown:
            raise TaskSpecError(f'{where}: unknown keys {sorted(unknown)}; expected distance and below_m')
        try:
            below = float(raw['below_m'])
        except (KeyError, TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: below_m must be a number of metres, got {raw.get("below_m")!r}') from err
        if not below > 0:
            raise TaskSpecError(f'{where}: below_m must be > 0 m, got {below}')
        return cls(pair=_pair(raw.get('distance'), f'{where}.distance'), below_m=below)


@dataclass(frozen=True)
class Stage:
    """One stage: minimise ``distance(pair)``."""

    name: str
    pair: tuple[str, str]
    weight: float = 1.0
    offset: float = 0.0
    active_when: Optional[Condition] = None


@dataclass(frozen=True)
class TaskSpec:
    """A staged task. ``objects`` maps object names to grounding prompts."""

    name: str
    objects: dict
    stages: tuple[Stage, ...]
    success: Optional[Condition] = None
    success_bonus: float = 0.0

    def __post_init__(self) -> None:
        if not self.stages:
            raise TaskSpecError(f'task {self.name!r} has no stages; give at least one {{name, distance: [a, b]}}')
        if self.stages[0].active_when is not None:
            raise TaskSpecError(f'task {self.name!r}: the first stage is the default and takes no active_when')
        for pair in self.pairs():
            for obj in pair:
                if obj not in self.objects:
                    raise TaskSpecError(
                        f'task {self.name!r} uses object {obj!r} that is not in its objects {sorted(self.objects)}'
                    )

    def pairs(self) -> list[tuple[str, str]]:
        """Every object pair whose distance the task needs, in first-use order."""
        out: list[tuple[str, str]] = []
        conds = [s.active_when for s in self.stages] + [self.success]
        for p in [s.pair for s in self.stages] + [c.pair for c in conds if c is not None]:
            if p not in out:
                out.append(p)
        return out


def load_task(path: str | Path) -> TaskSpec:
    """Read and validate a task YAML. Raises TaskSpecError naming the file and the problem."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise TaskSpecError(f'cannot read task file {path}: {err.strerror}') from err
    except yaml.YAMLError as err:
        raise TaskSpecError(f'task file {path} is not valid YAML: {err}') from err
    try:
        return parse_task(raw)
    except TaskSpecError as err:
        raise TaskSpecError(f'{path}: {err}') from err


def parse_task(raw) -> TaskSpec:
    """Validate a task given as a plain dict (the parsed YAML)."""
    if not isinstance(raw, Mapping):
        raise TaskSpecError(f'a task must be a mapping with name, objects and stages, got {type(raw).__name__}')
    unknown = set(raw) - {'name', 'description', 'objects', 'stages', 'success', 'success_bonus'}
    if unknown:
        raise TaskSpecError(f'unknown task keys {sorted(unknown)}')
    objects = raw.get('objects')
    if not isinstance(objects, Mapping) or not objects:
        raise TaskSpecError('objects: expected a mapping of object name -> grounding prompt, e.g. {block: red block}')
    stages_raw = raw.get('stages')
    if not isinstance(stages_raw, list) or not stages_raw:
        raise TaskSpecError('stages: expected a non-empty list of {name, distance: [a, b]}')
    stages = []
    for i, st in enumerate(stages_raw):
        where = f'stages[{i}]'
        if not isinstance(st, Mapping):
            raise TaskSpecError(f'{where}: expected a mapping, got {st!r}')
        unknown = set(st) - {'name', 'distance', 'weight', 'offset', 'active_when'}
        if unknown:
            raise TaskSpecError(f'{where}: unknown keys {sorted(unknown)}')
        try:
            weight, offset = float(st.get('weight', 1.0)), float(st.get('offset', 0.0))
        except (TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: weight and offset must be numbers') from err
        if not weight > 0:
            raise TaskSpecError(f'{where}: weight must be > 0, got {weight}')
        cond = st.get('active_when')
        stages.append(
            Stage(
                name=str(st.get('name', f'stage{i}')),
                pair=_pair(st.get('distance'), f'{where}.distance'),
                weight=weight,
                offset=offset,
                active_when=None if cond is None else Condition.parse(cond, f'{where}.active_when'),
            )
        )
    success = raw.get('success')
    return TaskSpec(
        name=str(raw.get('name', 'task')),
        objects={str(k): str(v) for k, v in objects.items()},
        stages=tuple(stages),
        success=None if success is None else Condition.parse(success, 'success'),
        success_bonus=float(raw.get('success_bonus', 0.0)),
    )


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
                            success=False, distances=dist, terms={}, valid=False, missing=missing)
    terms = {'offset': stage.offset, 'distance': -stage.weight * d_active}
    if task.success_bonus:
        terms['success_bonus'] = task.success_bonus if success else 0.0
    return RewardSample(stamp_ns=int(stamp_ns), reward=float(sum(terms.values())), stage=active,
                        stage_name=stage.name, success=bool(success), distances=dist, terms=terms, valid=True,
                        missing=missing)


def reward_from_observations(
    task: TaskSpec, objects: Mapping[str, Optional[ObjectObservation]], stamp_ns: int = 0
) -> RewardSample:
    """:func:`compute_reward` on the centres of lifted objects."""
    positions = {name: (None if obs is None else obs.center) for name, obs in objects.items()}
    return compute_reward(task, positions, stamp_ns)
