"""The ``spatial_facts`` parameters (config/spatial_facts.yaml) and the task -> a PipelineConfig.

One mapping for the live node and the offline labeller, so a labelled bag gets exactly the
objects, facts and rewards the robot would have published. Plain dict in, no ROS.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional

from .config_files import config_dir, load_defaults  # noqa: F401 - the parameters' defaults live there
from .errors import SpatialError
from .facts import FactsConfig
from .gravity import GravityConfig
from .grounding import ObjectQuery, grounder_config_from
from .lifting import lift_config_from_params
from .pipeline import PipelineConfig
from .task import TaskSpec

__all__ = ['config_dir', 'load_defaults', 'task_objects', 'pipeline_config_from_params']


def _names(entries) -> list[str]:
    """A string-array parameter without its empty entries ([''] is how launch files say "none")."""
    return [e for e in entries if e]


def task_objects(p: Mapping, task: Optional[TaskSpec] = None) -> tuple[tuple[ObjectQuery, ...], dict[str, str]]:
    """The objects to find and their per-object centre modes: (queries in report order, name -> mode).

    The task is the one definition of the objects: its names, prompts and centre modes. The
    ``object_names``/``object_prompts`` parameters name objects without a task (``ros2 run`` with
    a cup); given together with a task they must include every object the task names.
    ``object_center_modes`` (name=mode) and ``flat_objects`` override the task's centre modes.
    Raises SpatialError(kind='params') saying which parameter to change.
    """
    names, prompts = _names(p.get('object_names', [])), _names(p.get('object_prompts', []))
    if len(names) != len(prompts):
        raise SpatialError(
            f'object_names has {len(names)} entries but object_prompts has {len(prompts)}; give one prompt per name',
            kind='params',
        )
    modes: dict[str, str] = {}
    if names and task is not None:
        lacking = [n for n in task.objects if n not in names]
        if lacking:
            raise SpatialError(
                f'task {task.name!r} needs the objects {lacking}, which object_names {names} lacks; add them to '
                'object_names and object_prompts, or leave object_names empty to find the task\'s objects',
                kind='params')
    if not names:
        if task is None:
            raise SpatialError('no objects to find: set the task parameter (a task YAML or a name in config/tasks/), '
                               'or object_names and object_prompts', kind='params')
        names, prompts = list(task.objects), [task.objects[n] for n in task.objects]
    if task is not None:
        modes.update({n: m for n, m in task.center_modes.items() if n in names})
    entries = _names(p.get('object_center_modes', []))
    given = dict(e.split('=', 1) for e in entries if '=' in e)
    bad = [e for e in entries if '=' not in e] + sorted(set(given) - set(names))
    if bad:
        raise SpatialError(f'object_center_modes: expected name=mode with names from {names}, got {bad}',
                           kind='params')
    flat = _names(p.get('flat_objects', []))
    unknown = sorted(set(flat) - set(names))
    if unknown:
        raise SpatialError(f'flat_objects names {unknown} that are not among the objects {names}; fix flat_objects '
                           'or the objects (task or object_names)', kind='params')
    modes.update(given)
    modes.update({n: 'flat' for n in flat})
    return tuple(ObjectQuery(name=n, prompt=pr) for n, pr in zip(names, prompts)), modes


def pipeline_config_from_params(p: Mapping, task: Optional[TaskSpec] = None) -> PipelineConfig:
    """Raises SpatialError(kind='params') naming the parameter that is wrong."""
    queries, modes = task_objects(p, task)
    # the selected grounder's own options only (weights load only for the grounder selected)
    grounder_config = grounder_config_from(p['grounder'], p)
    lift = lift_config_from_params(p)
    up = list(p.get('up_rotation', []))
    window = p.get('up_window_frames', GravityConfig.window_frames)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise SpatialError(f'up_window_frames: expected an integer >= 1, got {window!r}', kind='params')
    return PipelineConfig(
        queries=queries,
        grounder=p['grounder'],
        grounder_config=grounder_config,
        lift=lift,
        lift_overrides={n: dataclasses.replace(lift, center_mode=m) for n, m in modes.items()},
        base_rotation=tuple(float(v) for v in up) if len(up) == 9 else None,
        facts=FactsConfig(margin_m=float(p['fact_margin_m'])),
        gravity=GravityConfig(window_frames=window),
    )
