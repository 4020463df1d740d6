"""A task: the objects it is about (names, grounding prompts, centre modes) and its reward stages.

The task is the one definition of the objects for the live nodes and the offline tools: what
``spatial_facts`` finds, what the reward and the VLM questions refer to, and how each object's
centre is measured. A task is a list of stages, each minimising one distance between two named
objects (the reward rule is in :mod:`.reward`).

Example (``config/tasks/pick_and_place.yaml``)::

    name: pick_and_place
    objects:
      gripper: {prompt: yellow gripper, center_mode: grip}
      block: red block                       # a prompt alone: the perception's default centre mode
      target: {prompt: blue target, center_mode: flat}
    stages:
      - {name: reach, distance: [gripper, block]}
      - {name: carry, distance: [block, target], active_when: {distance: [gripper, block], below_m: 0.05}}
    success: {distance: [block, target], below_m: 0.05}
    reward: {form: stacked_progress, scale_m: 0.1}   # omitted: staged_distance, the original form

``reward.form`` picks the reward rule (:mod:`.reward`): ``staged_distance`` (the default, so task
files without the key keep their meaning) or ``stacked_progress`` (a stage switch never lowers
the reward). A ``stacked_progress`` stage with an ``active_when`` may set ``hold_weight`` (in
[0, 1), default 0): the share of its band earned by how far inside that condition the frame is
(the gripper closing in on the block it holds), the rest by its own distance::

      - {name: carry, distance: [block, target], hold_weight: 0.25,
         active_when: {distance: [gripper, block], below_m: 0.05}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from .config_files import config_dir
from .errors import TaskSpecError

__all__ = ['REWARD_FORMS', 'Condition', 'RewardForm', 'Stage', 'TaskSpec', 'load_task', 'parse_task', 'pair_key',
           'task_path']


def _check_keys(raw, allowed: tuple, where: str, example: str) -> None:
    """Raise TaskSpecError unless ``raw`` is a mapping whose keys are among ``allowed``."""
    if not isinstance(raw, Mapping):
        raise TaskSpecError(f'{where}: expected a mapping like {example}, got {raw!r}')
    unknown = set(raw) - set(allowed)
    if unknown:
        raise TaskSpecError(f'{where}: unknown keys {sorted(unknown)}; expected {" and ".join(allowed)}')


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
        _check_keys(raw, ('distance', 'below_m'), where, '{distance: [a, b], below_m: 0.05}')
        try:
            below = float(raw['below_m'])
        except (KeyError, TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: below_m must be a number of metres, got {raw.get("below_m")!r}') from err
        if not below > 0:
            raise TaskSpecError(f'{where}: below_m must be > 0 m, got {below}')
        return cls(pair=_pair(raw.get('distance'), f'{where}.distance'), below_m=below)


@dataclass(frozen=True)
class Stage:
    """One stage: minimise ``distance(pair)``.

    weight, offset: the ``staged_distance`` form's ``offset - weight * distance``.
    scale_m: the ``stacked_progress`` form's distance scale of this stage (metres; None: the
        task's ``reward.scale_m``).
    hold_weight: the ``stacked_progress`` share, in [0, 1), of the stage's band earned by how far
        inside its ``active_when`` condition the frame is (``1 - d_when / below_m``); 0: none.
    """

    name: str
    pair: tuple[str, str]
    weight: float = 1.0
    offset: float = 0.0
    active_when: Optional[Condition] = None
    scale_m: Optional[float] = None
    hold_weight: float = 0.0


# The reward rules a task can select (``reward: {form: ...}``); the first is the default.
REWARD_FORMS = ('staged_distance', 'stacked_progress')


@dataclass(frozen=True)
class RewardForm:
    """How a task turns its active stage's distance into the reward (see :mod:`.reward`).

    form: 'staged_distance' (``offset - weight * d``, the original rule and the default) or
        'stacked_progress' (``stage_index + scale / (scale + d)``: every stage lives in its own
        band [k, k + 1), so completing a stage never lowers the reward).
    scale_m: metres, the distance at which a stage's progress is one half ('stacked_progress').
    """

    form: str = 'staged_distance'
    scale_m: float = 0.1

    def __post_init__(self) -> None:
        if self.form not in REWARD_FORMS:
            raise TaskSpecError(f'reward.form: expected one of {list(REWARD_FORMS)}, got {self.form!r}')
        if not (isinstance(self.scale_m, (int, float)) and self.scale_m > 0):
            raise TaskSpecError(f'reward.scale_m: expected a distance > 0 m, got {self.scale_m!r}')

    @classmethod
    def parse(cls, raw) -> 'RewardForm':
        if raw is None:
            return cls()
        _check_keys(raw, ('form', 'scale_m'), 'reward', '{form: stacked_progress, scale_m: 0.1}')
        try:
            scale = float(raw.get('scale_m', cls.scale_m))
        except (TypeError, ValueError) as err:
            raise TaskSpecError(f'reward.scale_m: expected a number of metres, got {raw.get("scale_m")!r}') from err
        return cls(form=str(raw.get('form', cls.form)), scale_m=scale)


@dataclass(frozen=True)
class TaskSpec:
    """A staged task: the one definition of the objects it is about, and its reward stages.

    objects: name -> grounding prompt ("red block"), in the order facts are reported.
    center_modes: name -> centre mode of the objects that need another than the perception
        default (a gripper's 'grip', a target disc's 'flat'); see ``core.lifting``.
    """

    name: str
    objects: dict
    stages: tuple[Stage, ...]
    success: Optional[Condition] = None
    success_bonus: float = 0.0
    center_modes: dict = field(default_factory=dict)
    reward: RewardForm = field(default_factory=RewardForm)
    # How `spatialvlm label` labels this task's bags when no --labeller is given: {name: vlm, <its options>}
    # (None: geometric); checked against the labeller registry when a label job is configured.
    labeller: Optional[dict] = None

    def __post_init__(self) -> None:
        if not self.stages:
            raise TaskSpecError(f'task {self.name!r} has no stages; give at least one {{name, distance: [a, b]}}')
        if self.stages[0].active_when is not None:
            raise TaskSpecError(f'task {self.name!r}: the first stage is the default and takes no active_when')
        unknown = sorted(set(self.center_modes) - set(self.objects))
        if unknown:
            raise TaskSpecError(f'task {self.name!r}: center_mode given for {unknown}, which are not among its '
                                f'objects {sorted(self.objects)}')
        for pair in self.pairs():
            for obj in pair:
                if obj not in self.objects:
                    raise TaskSpecError(
                        f'task {self.name!r} uses object {obj!r} that is not in its objects {sorted(self.objects)}'
                    )
        for s in self.stages:
            w = s.hold_weight
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w < 1.0:
                raise TaskSpecError(f'task {self.name!r}: stage {s.name!r} hold_weight must be a number in [0, 1) '
                                    f'(the share of its band earned by holding its active_when), got {w!r}')
            if w and s.active_when is None:
                raise TaskSpecError(f'task {self.name!r}: stage {s.name!r} sets hold_weight but has no active_when; '
                                    'the weight rewards how far inside that condition a frame is')
        if self.reward.form == 'stacked_progress':
            shaped = [s.name for s in self.stages if s.weight != 1.0 or s.offset != 0.0]
            if shaped:
                raise TaskSpecError(f'task {self.name!r}: stages {shaped} set weight/offset, which only the '
                                    'staged_distance form uses; stacked_progress stacks the stages itself (set '
                                    'scale_m instead)')
        else:
            held = [s.name for s in self.stages if s.hold_weight]
            if held:
                raise TaskSpecError(f'task {self.name!r}: stages {held} set hold_weight, which only the '
                                    f'stacked_progress form uses (reward.form is {self.reward.form!r})')

    @property
    def holds(self) -> bool:
        """Whether a stage sets ``hold_weight`` (its samples then carry a ``hold`` term)."""
        return any(s.hold_weight for s in self.stages)

    def stage_scale(self, index: int) -> float:
        """The ``stacked_progress`` distance scale of stage ``index`` (metres)."""
        own = self.stages[index].scale_m
        return self.reward.scale_m if own is None else own

    def stage_exit(self, index: int) -> float:
        """The distance (metres) of stage ``index``'s pair at which the stage is complete: the
        ``below_m`` of the condition that ends it (the next stage's ``active_when``, or for the
        last stage ``success``) when that condition is on the same pair; else 0."""
        end = self.success if index == len(self.stages) - 1 else self.stages[index + 1].active_when
        pair = set(self.stages[index].pair)
        return end.below_m if end is not None and set(end.pair) == pair else 0.0

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


def _objects(raw) -> tuple[dict, dict]:
    """(name -> prompt, name -> centre mode) of a task's ``objects``: each value a prompt, or a
    mapping ``{prompt: ..., center_mode: ...}``."""
    if not isinstance(raw, Mapping) or not raw:
        raise TaskSpecError('objects: expected a mapping of object name -> grounding prompt, e.g. {block: red block}, '
                            'or name -> {prompt: red block, center_mode: support}')
    prompts, modes = {}, {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {'prompt', 'center_mode'})
            if unknown or not isinstance(value.get('prompt'), str):
                raise TaskSpecError(f'objects.{name}: expected {{prompt: <text>, center_mode: <mode>}} (center_mode '
                                    f'optional), got {dict(value)!r}')
            if value.get('center_mode') is not None:
                modes[str(name)] = str(value['center_mode'])
            value = value['prompt']
        prompts[str(name)] = str(value)
    return prompts, modes


def parse_task(raw) -> TaskSpec:
    """Validate a task given as a plain dict (the parsed YAML)."""
    if not isinstance(raw, Mapping):
        raise TaskSpecError(f'a task must be a mapping with name, objects and stages, got {type(raw).__name__}')
    unknown = set(raw) - {'name', 'description', 'objects', 'stages', 'success', 'success_bonus', 'reward',
                          'labeller'}
    if unknown:
        raise TaskSpecError(f'unknown task keys {sorted(unknown)}')
    objects, center_modes = _objects(raw.get('objects'))
    stages_raw = raw.get('stages')
    if not isinstance(stages_raw, list) or not stages_raw:
        raise TaskSpecError('stages: expected a non-empty list of {name, distance: [a, b]}')
    stages = []
    for i, st in enumerate(stages_raw):
        where = f'stages[{i}]'
        if not isinstance(st, Mapping):
            raise TaskSpecError(f'{where}: expected a mapping, got {st!r}')
        unknown = set(st) - {'name', 'distance', 'weight', 'offset', 'active_when', 'scale_m', 'hold_weight'}
        if unknown:
            raise TaskSpecError(f'{where}: unknown keys {sorted(unknown)}')
        try:
            weight, offset = float(st.get('weight', 1.0)), float(st.get('offset', 0.0))
        except (TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: weight and offset must be numbers') from err
        if not weight > 0:
            raise TaskSpecError(f'{where}: weight must be > 0, got {weight}')
        cond = st.get('active_when')
        scale = st.get('scale_m')
        try:
            scale = None if scale is None else float(scale)
        except (TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: scale_m must be a number of metres, got {scale!r}') from err
        if scale is not None and not scale > 0:
            raise TaskSpecError(f'{where}: scale_m must be > 0 m, got {scale}')
        hold = st.get('hold_weight', 0.0)
        try:
            hold = float(hold)
        except (TypeError, ValueError) as err:
            raise TaskSpecError(f'{where}: hold_weight must be a number in [0, 1), got {hold!r}') from err
        if not 0.0 <= hold < 1.0:
            raise TaskSpecError(f'{where}: hold_weight must be in [0, 1) (the share of the stage\'s band earned by '
                                f'holding its active_when), got {hold}')
        if hold and cond is None:
            raise TaskSpecError(f'{where}: hold_weight needs an active_when: it rewards how far inside that '
                                'condition a frame is')
        stages.append(
            Stage(
                name=str(st.get('name', f'stage{i}')),
                pair=_pair(st.get('distance'), f'{where}.distance'),
                weight=weight,
                offset=offset,
                active_when=None if cond is None else Condition.parse(cond, f'{where}.active_when'),
                scale_m=scale,
                hold_weight=hold,
            )
        )
    success = raw.get('success')
    return TaskSpec(
        name=str(raw.get('name', 'task')),
        objects=objects,
        center_modes=center_modes,
        stages=tuple(stages),
        success=None if success is None else Condition.parse(success, 'success'),
        success_bonus=float(raw.get('success_bonus', 0.0)),
        reward=RewardForm.parse(raw.get('reward')),
        labeller=_labeller(raw.get('labeller')),
    )


def _labeller(raw) -> Optional[dict]:
    """A task's ``labeller: {name: vlm, every_k: 10, ...}`` (or just a name) as a plain dict."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {'name': raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get('name'), str):
        raise TaskSpecError(f'labeller: expected a name or {{name: vlm, <its options>}}, got {raw!r}')
    return {str(k): v for k, v in raw.items()}


def task_path(task: str | Path) -> Path:
    """A task YAML path as given, else ``config/tasks/<task>.yaml`` of the package (a name such as
    ``pick_and_place``). Raises TaskSpecError when neither exists."""
    path = Path(task).expanduser()
    if not (path.suffix in ('.yaml', '.yml') or path.exists()):
        path = config_dir() / 'tasks' / f'{task}.yaml'
    if not path.exists():
        names = sorted(p.stem for p in (config_dir() / 'tasks').glob('*.yaml'))
        raise TaskSpecError(f'no task file {path}; give a task YAML path or one of the package tasks {names}')
    return path
