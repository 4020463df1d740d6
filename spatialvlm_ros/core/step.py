"""The one per-frame step: frame + known objects + optional transform -> objects, sizes, facts, reward.

The live nodes and the offline labeller both call :class:`FrameStep`, so a labelled bag gets exactly
what the robot would have published. A node converts its messages, calls the step and publishes;
nothing of the per-frame science lives in a node.

1. :meth:`FrameStep.perceive`: ground and lift the task's objects in the camera frame
   (:class:`~.pipeline.SpatialPipeline`), add the known ones (the robot's gripper from its forward
   kinematics), measure every object's gravity-aligned size once, express the objects in the
   output frame, and evaluate the task's reward. A node publishes these objects at once, so what
   needs only the objects (the reward node) does not wait for the facts.
2. :meth:`FrameStep.relate`: the spatial facts between the found objects, from the sizes of step 1.

The reward is computed from the centres as the objects document publishes them (rounded to the
micrometre, :func:`~.types.published`), which is what the ``reward`` node reads: live, replayed and
offline-labelled frames get bit-identical rewards.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional

import numpy as np

from .facts import compute_facts
from .gravity import Gravity
from .pipeline import PipelineConfig, SpatialPipeline
from .reward import compute_reward
from .task import TaskSpec
from .transform import RigidTransform, TransformError, kinematic_observation, transform_observation
from .types import Frame, ObjectObservation, RewardSample, SpatialFact, published

__all__ = ['KnownPosition', 'FrameResult', 'FrameStep']


@dataclass(frozen=True)
class KnownPosition:
    """A position the robot knows at this frame's stamp (its gripper's grasp point from forward
    kinematics): ``point`` (3,) metres in ``frame_id`` ('' = the camera frame)."""

    point: tuple
    frame_id: str = ''


@dataclass(frozen=True)
class FrameResult:
    """What one frame gives.

    objects: name -> observation in ``frame_id`` (the output frame), None when not found, in the
        task's order. camera_objects: the same in the camera frame (``camera_frame``).
    sizes: name -> (3,) float64 gravity-aligned [width, height, depth] metres of each found object,
        measured once in the camera frame (the documents' ``extent_m``, the size facts).
    facts: empty after :meth:`FrameStep.perceive`, filled by :meth:`FrameStep.relate`.
    reward: the task's reward for the frame (None without a task).
    """

    stamp_ns: int
    frame_id: str
    camera_frame: str
    objects: dict
    camera_objects: dict
    sizes: dict
    gravity: Optional[Gravity] = None
    facts: tuple[SpatialFact, ...] = ()
    reward: Optional[RewardSample] = None
    masks: dict = field(default_factory=dict, repr=False)
    # gravity up (3,) in the output frame (None without a gravity estimate)
    up: Optional[np.ndarray] = None

    @property
    def missing(self) -> list[str]:
        return [n for n, o in self.objects.items() if o is None]


class FrameStep:
    """The per-frame step of a pipeline configuration and (optionally) a task; models load once,
    in the pipeline's grounder. ``close()`` frees them."""

    def __init__(self, config: PipelineConfig, task: Optional[TaskSpec] = None) -> None:
        self.pipeline = SpatialPipeline(config)
        self.task = task

    @property
    def config(self) -> PipelineConfig:
        return self.pipeline.config

    def perceive(
        self, frame: Frame, known: Optional[Mapping[str, Optional[KnownPosition]]] = None,
        transform: Optional[RigidTransform] = None, base_rotation=None, label_image: Optional[np.ndarray] = None,
    ) -> FrameResult:
        """Objects, sizes and reward of ``frame`` (no facts yet: :meth:`relate` adds them).

        known: name -> the robot's own position of that object at this stamp (None: it should be
            known but is not available for this frame, so the object counts as missing).
        transform: camera optical frame -> output frame (``transform.child`` must be the frame's);
            None keeps the camera frame. Known positions may be given in its parent frame.
        base_rotation: 3x3 camera-to-base rotation of this frame (gravity), overriding the config's.
        label_image: HxW integer instance ids of this frame (a segmentation node's output), for a
            grounder that takes its masks from outside (``needs_masks``: the 'mask' grounder).
        Raises SpatialError subclasses (FrameError, TransformError, ...) for unusable inputs.
        """
        # The up first: the recent frames' ups then hold every frame that got this far, as
        # :meth:`warm` gives them to an offline chunk's lead frames.
        gravity = self.pipeline.gravity(frame, base_rotation)
        if label_image is not None:
            self.pipeline.grounder.set_masks(label_image=label_image)
        kinematic = {n: _known_observation(n, k, frame, transform) for n, k in (known or {}).items()}
        perceived = self.pipeline.perceive(frame, base_rotation=base_rotation, known=kinematic, gravity=gravity)
        camera_objects = perceived.objects
        # Gravity-aligned sizes, measured once by the pipeline in the camera frame (where gravity is defined).
        sizes = {n: s for n, s in perceived.sizes.items() if camera_objects.get(n) is not None}
        objects, out_frame = camera_objects, frame.frame_id
        if transform is not None:
            objects = {n: (None if o is None else transform_observation(o, transform)) for n, o in objects.items()}
            out_frame = transform.parent
        reward = None
        if self.task is not None:
            positions = {n: (None if o is None else np.asarray(published(o.center), np.float64))
                         for n, o in objects.items()}
            reward = compute_reward(self.task, positions, frame.stamp_ns)
        up = None if perceived.gravity is None else np.asarray(perceived.gravity.up, np.float64)
        if up is not None and transform is not None:
            up = transform.rotation @ up
        return FrameResult(stamp_ns=frame.stamp_ns, frame_id=out_frame, camera_frame=frame.frame_id, objects=objects,
                           camera_objects=camera_objects, sizes=sizes, gravity=perceived.gravity, reward=reward, up=up)

    def relate(self, perceived: FrameResult) -> FrameResult:
        """``perceived`` with the facts between its found objects (camera frame; gravity-aligned)."""
        found = {n: o for n, o in perceived.camera_objects.items() if o is not None}
        facts = tuple(compute_facts(found, self.config.facts, gravity=perceived.gravity, sizes=perceived.sizes))
        return replace(perceived, facts=facts)

    def __call__(self, frame: Frame, known: Optional[Mapping[str, Optional[KnownPosition]]] = None,
                 transform: Optional[RigidTransform] = None, base_rotation=None,
                 label_image: Optional[np.ndarray] = None) -> FrameResult:
        """:meth:`relate` of :meth:`perceive`."""
        return self.relate(self.perceive(frame, known, transform, base_rotation, label_image))

    def warm(self, frame: Frame, base_rotation=None) -> None:
        """Take ``frame`` into the recent frames the up is steadied over, without labelling it: the
        frames before an offline chunk (``PipelineConfig.lead_frames``), so its first frames get the
        up the live stream gave them."""
        self.pipeline.gravity(frame, base_rotation)

    def reset(self) -> None:
        """Forget the recent frames (a new stream or chunk follows)."""
        self.pipeline.reset()

    def close(self) -> None:
        """Free the grounder's model (GPU memory); the step cannot be used afterwards."""
        close = getattr(self.pipeline.grounder, 'close', None)
        if close is not None:
            close()


def _known_observation(name: str, known: Optional[KnownPosition], frame: Frame,
                       transform: Optional[RigidTransform]) -> Optional[ObjectObservation]:
    """A known position as an observation in the camera frame (None stays None: not available)."""
    if known is None:
        return None
    if known.frame_id in ('', frame.frame_id):
        point = known.point
    elif transform is not None and known.frame_id == transform.parent:
        point = transform.inverse().apply(known.point)
    else:
        raise TransformError(
            f'{name} position is in {known.frame_id!r} but no transform {known.frame_id!r} <- {frame.frame_id!r} is '
            f'configured; set target_frame: {known.frame_id} and a transform_source', kind='transform')
    return kinematic_observation(name, point, frame.frame_id, frame.stamp_ns)
