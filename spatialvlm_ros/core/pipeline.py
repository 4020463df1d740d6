"""Frame -> grounded masks -> gravity -> 3D objects -> facts: the one function the nodes and tools call."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from .errors import GroundingError
from .facts import FactsConfig, compute_facts
from .gravity import Gravity, GravityConfig, estimate_gravity, up_from_rotation
from .up_window import UpWindow
from .grounding import ObjectQuery, make_grounder
from .lifting import LiftConfig, lift_objects
from .sizes import CAMERA_UP, object_sizes
from .types import Frame, ObjectObservation, SpatialFact

__all__ = ['PipelineConfig', 'PipelineResult', 'SpatialPipeline']

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the perception pipeline needs, built once from ROS parameters or CLI flags."""

    # The objects to find, in the order facts are reported.
    queries: tuple[ObjectQuery, ...]
    # Grounder kind from core.grounding.GROUNDERS ('color', 'mask').
    grounder: str = 'color'
    # Keyword config for that grounder (its config dataclass fields).
    grounder_config: dict = field(default_factory=dict)
    lift: LiftConfig = field(default_factory=LiftConfig)
    # Per-object overrides of ``lift`` (e.g. 'centroid' centres for flat objects), by name.
    lift_overrides: dict = field(default_factory=dict)
    facts: FactsConfig = field(default_factory=FactsConfig)
    # Gravity-aligned frame: RANSAC options for the dominant horizontal plane.
    gravity: GravityConfig = field(default_factory=GravityConfig)
    # Camera-to-base rotation (3x3 row-major, p_base = R p_optical, base z up) when known; None:
    # estimate up from the depth. A per-frame rotation passed to ``process`` overrides it.
    base_rotation: Optional[tuple] = None
    # Estimate the gravity frame at all (False: facts use the camera's -y as up, as before).
    use_gravity: bool = True

    def __post_init__(self) -> None:
        if not self.queries:
            raise GroundingError('no objects to find: give at least one object name and prompt')
        names = [q.name for q in self.queries]
        if len(set(names)) != len(names):
            raise GroundingError(f'object names must be unique, got {names}')
        unknown = sorted(set(self.lift_overrides) - set(names))
        if unknown:
            raise GroundingError(f'lift overrides for unknown objects {unknown}; the objects are {names}')
        if self.base_rotation is not None:
            rot = np.asarray(self.base_rotation, dtype=np.float64)
            if rot.size != 9:
                raise GroundingError(f'base_rotation: expected 9 numbers (3x3 row-major), got {rot.size}')
            up_from_rotation(rot.reshape(3, 3))  # validates

    @property
    def lead_frames(self) -> int:
        """Frames before a frame that its up depends on (:mod:`.up_window`): what an offline chunk
        must be given before its first frame to label it as the live stream does."""
        return self.gravity.window_frames - 1 if self.use_gravity else 0


@dataclass(frozen=True)
class PipelineResult:
    objects: dict  # name -> ObjectObservation | None (None: not found or too few valid points)
    facts: tuple[SpatialFact, ...]
    gravity: Optional[Gravity] = None  # the up direction used (None: use_gravity off)
    # name -> (3,) float64 gravity-aligned (width, height, depth) metres of every found object,
    # measured once per frame (core.sizes.object_sizes; the camera's -y as up without gravity)
    sizes: dict = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return [n for n, o in self.objects.items() if o is None]


class SpatialPipeline:
    """Stateful in its grounder (models load once) and in the up of the recent frames of its one
    camera stream (:mod:`.up_window`; a frame stamped no later than the last starts it over);
    ``process`` is called per frame, in stamp order."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.grounder = make_grounder(config.grounder, **config.grounder_config)
        self.up_window = UpWindow(config.gravity)

    def gravity(self, frame: Frame, base_rotation=None) -> Optional[Gravity]:
        """``frame``'s up (None with ``use_gravity`` off), taken into the recent frames: call once
        per frame, first (:meth:`perceive` does unless given it). Alone, for the lead frames of an
        offline chunk."""
        if not self.config.use_gravity:
            return None
        rot = base_rotation if base_rotation is not None else self.config.base_rotation
        rot = None if rot is None else np.asarray(rot, dtype=np.float64).reshape(3, 3)
        return self.up_window.push(frame.stamp_ns, estimate_gravity(frame, self.config.gravity, rot))

    def reset(self) -> None:
        """Forget the recent frames (the next frame starts a new stream)."""
        self.up_window.clear()

    def process(
        self, frame: Frame, queries: Optional[Sequence[ObjectQuery]] = None, base_rotation=None,
        known: Optional[Mapping[str, Optional[ObjectObservation]]] = None,
    ) -> PipelineResult:
        """Ground, lift and relate the queried objects in one frame: :meth:`relate` of :meth:`perceive`.

        base_rotation: 3x3 camera-to-base rotation for this frame (e.g. from TF); overrides
            ``config.base_rotation``.
        known: objects whose position comes from elsewhere (the robot's own gripper from
            kinematics), in ``frame.frame_id``; they are not grounded, but take part in the facts.
            None for a name means "should be known but is not available for this frame".
        """
        return self.relate(self.perceive(frame, queries, base_rotation, known))

    def perceive(
        self, frame: Frame, queries: Optional[Sequence[ObjectQuery]] = None, base_rotation=None,
        known: Optional[Mapping[str, Optional[ObjectObservation]]] = None, gravity: Optional[Gravity] = None,
    ) -> PipelineResult:
        """Ground and lift only (arguments as :meth:`process`); the result has no facts yet.
        ``gravity``: this frame's, from :meth:`gravity` (None: estimated here).

        A node publishes these objects before it relates them, so what depends on the objects
        alone (the reward) does not wait for the facts.
        """
        if gravity is None:
            gravity = self.gravity(frame, base_rotation)
        queries = tuple(queries) if queries is not None else self.config.queries
        known = dict(known or {})
        visual = tuple(q for q in queries if q.name not in known)
        masks = self.grounder.ground(frame, visual) if visual else {}
        objects: dict[str, Optional[ObjectObservation]] = lift_objects(
            frame, masks, self.config.lift, per_object=self.config.lift_overrides, gravity=gravity
        )
        objects.update(known)
        objects = {q.name: objects.get(q.name) for q in queries}
        sizes = object_sizes(objects, CAMERA_UP if gravity is None else gravity.up)
        return PipelineResult(objects=objects, facts=(), gravity=gravity, sizes=sizes)

    def relate(self, perceived: PipelineResult) -> PipelineResult:
        """``perceived`` (from :meth:`perceive`) with the facts between its found objects, in its order."""
        found = {n: o for n, o in perceived.objects.items() if o is not None}
        sizes = perceived.sizes or object_sizes(found, CAMERA_UP if perceived.gravity is None else perceived.gravity.up)
        facts = tuple(compute_facts(found, self.config.facts, gravity=perceived.gravity, sizes=sizes))
        return PipelineResult(objects=perceived.objects, facts=facts, gravity=perceived.gravity, sizes=sizes)
