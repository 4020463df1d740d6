"""Frame -> grounded masks -> 3D objects -> facts: the one function the nodes and tools call."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .errors import GroundingError
from .facts import FactsConfig, compute_facts
from .grounding import ObjectQuery, make_grounder
from .lifting import LiftConfig, lift_objects
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

    def __post_init__(self) -> None:
        if not self.queries:
            raise GroundingError('no objects to find: give at least one object name and prompt')
        names = [q.name for q in self.queries]
        if len(set(names)) != len(names):
            raise GroundingError(f'object names must be unique, got {names}')
        unknown = sorted(set(self.lift_overrides) - set(names))
        if unknown:
            raise GroundingError(f'lift overrides for unknown objects {unknown}; the objects are {names}')


@dataclass(frozen=True)
class PipelineResult:
    objects: dict  # name -> ObjectObservation | None (None: not found or too few valid points)
    facts: tuple[SpatialFact, ...]

    @property
    def missing(self) -> list[str]:
        return [n for n, o in self.objects.items() if o is None]


class SpatialPipeline:
    """Stateful only in its grounder (models load once); ``process`` is safe to call per frame."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.grounder = make_grounder(config.grounder, **config.grounder_config)

    def process(self, frame: Frame, queries: Optional[Sequence[ObjectQuery]] = None) -> PipelineResult:
        queries = tuple(queries) if queries is not None else self.config.queries
        masks = self.grounder.ground(frame, queries)
        objects: dict[str, Optional[ObjectObservation]] = lift_objects(
            frame, masks, self.config.lift, per_object=self.config.lift_overrides
        )
        found = {n: o for n, o in objects.items() if o is not None}
        facts = tuple(compute_facts(found, self.config.facts))
        return PipelineResult(objects={q.name: objects.get(q.name) for q in queries}, facts=facts)
