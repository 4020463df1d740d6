"""Configuration of the offline labeller: the live node's parameters, the task, the job options.

The perception settings come from the same place the live ``spatial_facts`` node reads them
(``config/spatial_facts.yaml``, optionally overridden by a params file of the same shape), and
are turned into a :class:`PipelineConfig` exactly as the node does, so a labelled bag gets the
same objects, facts and rewards the robot would have published. Objects and prompts come from
the task, as in the demo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from ..core.errors import SpatialError
from ..core.params import pipeline_config_from_params as core_pipeline_config
from ..core.pipeline import PipelineConfig
from ..core.task import TaskSpec, load_task, task_path
from .errors import OfflineError

__all__ = [
    'DEFAULT_TASK',
    'OUTPUT_TOPICS',
    'LabelConfig',
    'default_params',
    'load_params',
    'pipeline_config_from_params',
    'resolve_task',
]

# The demo's task.
DEFAULT_TASK = 'pick_and_place'
# Where the outputs go in the labelled bag: the live nodes' topic names.
OUTPUT_TOPICS = {
    'objects': '/spatial_facts/objects',
    'facts': '/spatial_facts/facts',
    'markers': '/spatial_facts/markers',
    'reward': '/reward/reward',
    'detail': '/reward/detail',
}
# Node parameters that change nothing offline (transport, timers, live-only outputs).
_LIVE_ONLY = {'qos_reliability', 'qos_depth', 'publish_debug_image', 'input_timeout_s', 'diagnostics_period_s',
              'transform_timeout_s'}


def default_params() -> dict:
    """The ``spatial_facts`` node's parameter defaults (``config/spatial_facts.yaml``)."""
    from ..core.config_files import load_defaults

    return load_defaults('spatial_facts.yaml', 'spatial_facts')


def load_params(path: Optional[Path]) -> dict:
    """Defaults overridden by a ROS params file (``spatial_facts: ros__parameters: {...}``)."""
    import yaml

    params = default_params()
    if path is None:
        return params
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise OfflineError(f'cannot read params file {path}: {err}', kind='params') from err
    try:
        given = dict(doc['spatial_facts']['ros__parameters'])
    except (KeyError, TypeError) as err:
        raise OfflineError(
            f'{path} has no spatial_facts: ros__parameters: section (the shape of config/spatial_facts.yaml)',
            kind='params',
        ) from err
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise OfflineError(f'{path}: unknown parameters {unknown}; expected some of {sorted(params)}', kind='params')
    params.update(given)
    return params


def pipeline_config_from_params(p: Mapping, task: Optional[TaskSpec] = None) -> PipelineConfig:
    """``spatial_facts`` parameters and the task -> PipelineConfig: the live node's own mapping
    (core.params), with its errors as OfflineError."""
    try:
        return core_pipeline_config(p, task)
    except SpatialError as err:
        raise OfflineError(f'bad perception parameters: {err}', kind='params') from err


def resolve_task(task: str | Path | None) -> tuple[Path, TaskSpec]:
    """A task YAML path, or a name in the package's ``config/tasks/``; default: the demo's."""
    try:
        path = task_path(DEFAULT_TASK if task is None else task)
        return path, load_task(path)
    except SpatialError as err:
        raise OfflineError(str(err), kind='task') from err


@dataclass(frozen=True)
class LabelConfig:
    """Everything one labelling job needs; picklable (it travels to pool and Ray workers)."""

    # The task (objects, prompts, reward stages), already validated.
    task: TaskSpec
    # The spatial_facts node parameters (config/spatial_facts.yaml plus overrides).
    params: dict = field(default_factory=default_params)
    # Input topics; None = auto-detect from the message types (and image encodings).
    color_topic: Optional[str] = None
    depth_topic: Optional[str] = None
    info_topic: Optional[str] = None
    # Instance-label images (sensor_msgs/Image ids) for a grounder that takes its masks from outside ('mask').
    mask_topic: Optional[str] = None
    # How frames are labelled: a name in offline.labellers.LABELLERS.
    labeller: str = 'geometric'
    # The labeller's options (its config_type's fields; the VLM labeller also takes its backend's),
    # as ``--labeller-option KEY=VALUE`` gives them.
    labeller_options: dict = field(default_factory=dict)
    # Matched frames per chunk: the unit of parallel work, checkpointing and output bag files.
    chunk_frames: int = 64
    # Write the labelled bag (the original topics plus the outputs); False: only the table, the
    # plot and the summary (what an RL pipeline reads; no second copy of the images on disk).
    bag: bool = True
    # zstd-compress the labelled bag's MCAP chunks (smaller, ~3x slower to write).
    compress: bool = False
    # Write RViz markers (visualization_msgs/MarkerArray) like the live node's publish_markers.
    markers: bool = True
    # Objects whose position the robot knows: ((name, geometry_msgs/PointStamped topic), ...), the
    # offline form of the node's kinematic_objects with their ``<name>/position`` remaps.
    kinematic: tuple = ()

    def __post_init__(self) -> None:
        from .labellers import LABELLERS, labeller_config

        if self.labeller not in LABELLERS:
            raise OfflineError(f'unknown labeller {self.labeller!r}; expected one of {sorted(LABELLERS)}',
                               kind='params')
        labeller_config(self.labeller, dict(self.labeller_options))  # refuses unknown or bad options now
        if isinstance(self.chunk_frames, bool) or not isinstance(self.chunk_frames, int) or self.chunk_frames < 1:
            raise OfflineError(f'chunk_frames: expected an integer >= 1, got {self.chunk_frames!r}', kind='params')
        source = self.params.get('transform_source', 'none')
        if source not in ('none', 'static'):
            raise OfflineError(
                f"transform_source {source!r} is not supported offline; use 'none' or 'static' with static_transform",
                kind='params',
            )
        for entry in self.kinematic:
            if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in self.task.objects):
                raise OfflineError(f'kinematic: expected (object name of the task, PointStamped topic), got {entry!r}',
                                   kind='params')
        given = [n for n in self.params.get('kinematic_objects', []) if n]
        if given and sorted(given) != sorted(n for n, _ in self.kinematic):
            raise OfflineError(f'kinematic_objects {given} need their position topics offline: pass '
                               f'--kinematic NAME=TOPIC for each', kind='params')
        from ..core.grounding import GROUNDERS

        needs = getattr(GROUNDERS.get(self.params.get('grounder')), 'needs_masks', False)
        if needs and not self.mask_topic:
            raise OfflineError(f"grounder {self.params.get('grounder')!r} takes its masks from a segmentation: give "
                               'the bag topic of its instance-label images with --mask-topic', kind='params')
        if self.mask_topic and not needs:
            raise OfflineError(f'--mask-topic {self.mask_topic} is only used by a grounder that takes masks (mask), '
                               f"not {self.params.get('grounder')!r}; set grounder: mask in --params", kind='params')
        rate = float(self.params.get('max_rate_hz', 0.0))
        if not math.isfinite(rate) or rate < 0:
            raise OfflineError(f'max_rate_hz: expected a number >= 0, got {rate}', kind='params')

    def node_params(self) -> dict:
        """The node parameters as the live node would hold them (its kinematic objects from ``kinematic``)."""
        return {**self.params, 'kinematic_objects': [n for n, _ in self.kinematic]}

    def pipeline_config(self) -> PipelineConfig:
        """The perception of the live node for these parameters and this task (``core.params``)."""
        return pipeline_config_from_params(self.node_params(), self.task)

    def fingerprint(self) -> str:
        """Hash of everything that changes the outputs (resume refuses to mix two configs)."""
        relevant = {k: v for k, v in self.node_params().items() if k not in _LIVE_ONLY}
        doc = {
            'task': dataclasses.asdict(self.task),
            'params': relevant,
            'topics': [self.color_topic, self.depth_topic, self.info_topic, self.mask_topic],
            'labeller': self.labeller,
            'chunk_frames': self.chunk_frames,
            'bag': self.bag,
            'compress': self.compress,
            'markers': self.markers,
            'kinematic': [list(k) for k in self.kinematic],
        }
        if self.labeller_options:  # absent when empty: the fingerprints of runs before the option stay valid
            doc['labeller_options'] = dict(self.labeller_options)
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]
