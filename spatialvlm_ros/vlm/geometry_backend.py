"""The depth-grounded answerer: the same questions, answered from measured geometry.

It reads a templated question (:func:`~spatialvlm_ros.vlm.prompts.interpret_question`), finds
the two objects in the RGB-D frame with the core :class:`SpatialPipeline` (grounding and
lifting), and answers in words as a SpatialVLM-style model would ("The red block is 23.4
centimeters from the blue target."). Every kind is measured and phrased by the core vocabulary
(:mod:`spatialvlm_ros.core.vocabulary`), in the gravity-aligned frame the pipeline estimated
(the camera's view when it has none). So geometry is one more backend: evaluation, the reward
node and the question interface can swap it for a VLM, and a VLM can be checked against it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..core import vocabulary as vocab
from ..core.errors import SpatialError
from ..core.facts import FactsConfig
from ..core.grounding import ObjectQuery
from ..core.lifting import LiftConfig
from ..core.options import option
from ..core.pipeline import PipelineConfig, SpatialPipeline
from ..core.types import Frame
from .base import Request, check_requests, register_backend
from .errors import VLMError
from .prompts import interpret_question

__all__ = ['GeometryConfig', 'GeometryBackend']

logger = logging.getLogger(__name__)

_UNITS = ('cm', 'm', 'mm')  # of vocab.UNITS


@dataclass(frozen=True)
class GeometryConfig:
    """Options of :class:`GeometryBackend`."""

    objects: tuple = option(('yellow gripper', 'red block', 'blue target'),
                            'Object descriptions the questions use; each is also its grounding prompt.')
    grounder: str = option('color', 'Grounder kind (core.grounding.GROUNDERS) that finds the objects.')
    # The next two are no options (a mapping and a dataclass are no parameter or flag): set them
    # from Python; grounder_config also with eval's --option grounder_config='{"min_pixels": 20}'.
    # Keyword options of that grounder (its config dataclass fields).
    grounder_config: dict = field(default_factory=dict)
    # Lifting options (erosion, depth range, centre mode).
    lift: LiftConfig = field(default_factory=LiftConfig)
    flat_objects: tuple = option(('blue target',), 'Descriptions of flat objects (discs, markers): centre from a '
                                                   'plane fit.')
    margin_m: float = option(0.02, 'Qualitative answers need a difference larger than this along the axis (metres).')
    size_margin: float = option(FactsConfig.size_margin, 'Size comparisons need sizes whose ratio differs from 1 by '
                                                         'more than this.')
    unit: str = option('cm', "Unit of distance answers: 'cm', 'm' or 'mm'.")

    def __post_init__(self) -> None:
        objs = tuple(self.objects)
        if len(objs) < 2 or not all(isinstance(o, str) and o.strip() for o in objs):
            raise VLMError(f'GeometryConfig.objects: expected at least two object descriptions, got {self.objects!r}',
                           kind='config')
        object.__setattr__(self, 'objects', objs)
        object.__setattr__(self, 'flat_objects', tuple(self.flat_objects))
        unknown = sorted(set(self.flat_objects) - set(objs))
        if unknown:
            raise VLMError(f'GeometryConfig.flat_objects: {unknown} are not in objects {list(objs)}', kind='config')
        if self.unit not in _UNITS:
            raise VLMError(f'GeometryConfig.unit: expected one of {sorted(_UNITS)}, got {self.unit!r}', kind='config')
        if not isinstance(self.margin_m, (int, float)) or not math.isfinite(self.margin_m) or self.margin_m < 0:
            raise VLMError(f'GeometryConfig.margin_m: expected metres >= 0, got {self.margin_m!r}', kind='config')


@register_backend('geometry')
class GeometryBackend:
    """Answers from an RGB-D :class:`~spatialvlm_ros.core.Frame` (the only image it accepts)."""

    config_type = GeometryConfig
    takes_images = False  # it needs RGB-D frames: depth is what it answers from

    def __init__(self, config: GeometryConfig) -> None:
        import dataclasses

        self.config = config
        try:
            self.pipeline = SpatialPipeline(PipelineConfig(
                queries=tuple(ObjectQuery(name=o, prompt=o) for o in config.objects),
                grounder=config.grounder,
                grounder_config=dict(config.grounder_config),
                lift=config.lift,
                lift_overrides={o: dataclasses.replace(config.lift, center_mode='flat') for o in config.flat_objects},
            ))
        except SpatialError as err:
            raise VLMError(f'cannot build the geometric answerer: {err}', kind='config') from err
        self._lock = threading.Lock()

    def _measure(self, frame: Frame, a: str, b: str) -> vocab.PairMeasure:
        """The pair (a, b) measured in ``frame`` (gravity-aligned when the pipeline estimated up)."""
        queries = [q for q in self.pipeline.config.queries if q.name in (a, b)]
        try:
            with self._lock:
                self.pipeline.reset()  # questions come in any order: each frame is measured on its own
                result = self.pipeline.process(frame, queries)
        except SpatialError as err:
            raise VLMError(f'cannot measure the frame: {err}', kind='input') from err
        missing = [n for n in (a, b) if result.objects.get(n) is None]
        if missing:
            raise VLMError(f'{" and ".join(missing)} not found in frame {frame.stamp_ns}', kind='not_found')
        up = vocab.CAMERA_UP if result.gravity is None else result.gravity.up
        return vocab.measure_pair(result.objects[a].center, result.objects[b].center, up,
                                  result.sizes.get(a), result.sizes.get(b))

    def ask(self, images: Sequence, question: str) -> str:
        check_requests([(images, question)])
        frames = [im for im in images if isinstance(im, Frame)]
        if len(frames) != 1 or len(images) != 1:
            raise VLMError('the geometric answerer needs exactly one RGB-D core Frame as its image', kind='input')
        kind, a, b = interpret_question(question, self.config.objects)
        return self.answer_measured(kind, a, b, self._measure(frames[0], a, b))

    def answer(self, kind: str, a: str, b: str, ca: np.ndarray, cb: np.ndarray, up=vocab.CAMERA_UP) -> str:
        """The answer text for question ``kind`` given the centres ((3,) metres, optical frame) and
        up ((3,) unit vector, optical frame; the camera's -y by default)."""
        return self.answer_measured(kind, a, b, vocab.measure_pair(ca, cb, up))

    def answer_measured(self, kind: str, a: str, b: str, m: vocab.PairMeasure) -> str:
        """The answer text for question ``kind`` about the measured pair ``m``."""
        rel = vocab.REGISTRY[kind]
        unit = self.config.unit
        if rel.answer_type in ('distance', 'value'):
            value = vocab.value(rel, m)
            said = vocab.say(value, unit, decimals=1)[0] if rel.answer_type == 'distance' else f'{value:g}'
            return vocab.answer(rel, m, a, b, said=said)
        holds = vocab.decide(rel, m, self.config.margin_m, self.config.size_margin)
        if rel.answer_type == 'choice' and holds is None:
            return vocab.LEVEL.format(a=a, b=b, v=vocab.say(self.config.margin_m, unit, decimals=0)[0])
        return vocab.answer(rel, m, a, b, holds=bool(holds))

    def ask_batch(self, requests: Sequence[Request]) -> list[str]:
        check_requests(requests)
        return [self.ask(imgs, q) for imgs, q in requests]

    def close(self) -> None:
        pass
