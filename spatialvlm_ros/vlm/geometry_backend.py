"""The depth-grounded answerer: the same questions, answered from measured geometry.

It reads a templated question (:func:`~spatialvlm_ros.vlm.prompts.interpret_question`), finds
the two objects in the RGB-D frame with the core :class:`SpatialPipeline` (grounding and
lifting), and answers in words as a SpatialVLM-style model would ("The red block is 23.4
centimeters from the blue target."). So geometry is one more backend: evaluation, the reward
node and the question interface can swap it for a VLM, and a VLM can be checked against it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..core.errors import SpatialError
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

_UNITS = {'cm': (100.0, 'centimeters'), 'm': (1.0, 'meters'), 'mm': (1000.0, 'millimeters')}


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

    def _centres(self, frame: Frame, names: Sequence[str]) -> dict[str, np.ndarray]:
        queries = [q for q in self.pipeline.config.queries if q.name in names]
        try:
            with self._lock:
                result = self.pipeline.process(frame, queries)
        except SpatialError as err:
            raise VLMError(f'cannot measure the frame: {err}', kind='input') from err
        missing = [n for n in names if result.objects.get(n) is None]
        if missing:
            raise VLMError(f'{" and ".join(missing)} not found in frame {frame.stamp_ns}', kind='not_found')
        return {n: np.asarray(result.objects[n].center, dtype=np.float64) for n in names}

    def ask(self, images: Sequence, question: str) -> str:
        check_requests([(images, question)])
        frames = [im for im in images if isinstance(im, Frame)]
        if len(frames) != 1 or len(images) != 1:
            raise VLMError('the geometric answerer needs exactly one RGB-D core Frame as its image', kind='input')
        kind, a, b = interpret_question(question, self.config.objects)
        c = self._centres(frames[0], [a, b])
        return self.answer(kind, a, b, c[a], c[b])

    def answer(self, kind: str, a: str, b: str, ca: np.ndarray, cb: np.ndarray) -> str:
        """The answer text for question ``kind`` given the centres (optical frame, metres)."""
        d = ca - cb
        scale, unit_word = _UNITS[self.config.unit]
        if kind.endswith('distance'):
            value = {'distance': float(np.linalg.norm(d)), 'horizontal_distance': float(np.hypot(d[0], d[2])),
                     'vertical_distance': float(abs(d[1]))}[kind]
            what = {'distance': '', 'horizontal_distance': 'horizontally ', 'vertical_distance': 'vertically '}[kind]
            return f'The {a} is {value * scale:.1f} {unit_word} {what}from the {b}.'
        m = self.config.margin_m
        # (axis, sign): the relation holds when sign * (a - b) along axis > margin
        rel = {'left_of': (0, -1), 'right_of': (0, 1), 'above': (1, -1), 'below': (1, 1),
               'in_front_of': (2, -1), 'behind': (2, 1)}
        words = {'left_of': 'to the left of', 'right_of': 'to the right of', 'above': 'above', 'below': 'below',
                 'in_front_of': 'in front of', 'behind': 'behind'}
        if kind in rel:
            axis, sign = rel[kind]
            if sign * d[axis] > m:
                return f'Yes, the {a} is {words[kind]} the {b}.'
            return f'No, the {a} is not {words[kind]} the {b}.'
        axis, sign, word = {'which_left': (0, -1, 'more to the left'), 'which_closer': (2, -1, 'closer to the camera'),
                            'which_higher': (1, -1, 'higher')}[kind]
        if abs(d[axis]) <= m:
            return f'Neither: the {a} and the {b} are level within {m * scale:.0f} {unit_word}.'
        winner = a if sign * d[axis] > 0 else b
        return f'The {winner} is {word}.'

    def ask_batch(self, requests: Sequence[Request]) -> list[str]:
        check_requests(requests)
        return [self.ask(imgs, q) for imgs, q in requests]

    def close(self) -> None:
        pass
