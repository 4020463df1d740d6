"""Mask grounder: objects come from an external segmentation of the frame.

Two sources, set per frame with :meth:`MaskGrounder.set_masks` before :meth:`ground`
(the SAM-style ``set_image`` then ``predict`` pattern):

- an instance/label image (HxW integer, one id per object): a query's label is
  ``config.labels[name]`` if given, else its prompt parsed as an integer ("3");
- per-object binary masks keyed by query name (HxW bool, or any dtype with nonzero = object).

A per-object mask wins over the label image for the same name.
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from ..errors import GroundingError
from ..types import Frame
from ..options import option
from .base import MIN_PIXELS_DOC, ObjectQuery, check_unique_names, register_grounder

__all__ = ['MaskGrounderConfig', 'MaskGrounder']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaskGrounderConfig:
    """Options of :class:`MaskGrounder`."""

    # Query name -> label id in the label image; names not listed use their prompt as the id.
    # Not an option (a mapping is no node parameter or flag): set it from Python.
    labels: Mapping[str, int] = field(default_factory=dict)
    # Lower than the colour grounder's: a given segmentation has no speckle to reject.
    min_pixels: int = option(20, MIN_PIXELS_DOC)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Mapping):
            got = type(self.labels).__name__
            raise GroundingError(f'labels: expected a mapping name -> integer label id, got {got}')
        for name, label in self.labels.items():
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
                raise GroundingError(f'labels[{name!r}]: expected an integer label id, got {label!r}')
        # read-only copy, so the frozen config cannot change under a running grounder
        object.__setattr__(self, 'labels', types.MappingProxyType({str(k): int(v) for k, v in self.labels.items()}))
        mp = self.min_pixels
        if isinstance(mp, bool) or not isinstance(mp, (int, np.integer)) or mp < 1:
            raise GroundingError(f'min_pixels: expected an integer >= 1, got {self.min_pixels!r}')


def _check_size(what: str, array: np.ndarray, frame: Frame) -> None:
    if array.ndim != 2 or array.shape != frame.shape:
        got = 'x'.join(str(s) for s in array.shape[::-1])
        raise GroundingError(
            f'{what} is {got} (WxH) but the frame is {frame.shape[1]}x{frame.shape[0]}; the mask must come from '
            'the same (registered) colour image, resize it with nearest-neighbour interpolation if needed',
            kind='size_mismatch',
        )


@register_grounder('mask')
class MaskGrounder:
    """Grounds queries in an externally computed instance segmentation.

    Call ``set_masks(label_image=..., masks=...)`` with the segmentation of each new frame,
    then ``ground(frame, queries)`` -> {name: HxW bool mask or None}.
    """

    config_type = MaskGrounderConfig
    loads_model = False
    # Masks come from outside the frame (set_masks before each ground): a caller must have a source.
    needs_masks = True

    def __init__(self, config: Optional[MaskGrounderConfig] = None) -> None:
        self.config = config or MaskGrounderConfig()
        self._label_image: Optional[np.ndarray] = None
        self._masks: dict[str, np.ndarray] = {}

    def set_masks(
        self,
        label_image: Optional[np.ndarray] = None,
        masks: Optional[Mapping[str, np.ndarray]] = None,
    ) -> None:
        """Set the segmentation of the next frame(s), replacing the previous one.

        label_image: HxW integer label ids (0 is usually background).
        masks: query name -> HxW mask, nonzero = object.
        """
        if label_image is not None:
            label_image = np.asarray(label_image)
            if label_image.dtype.kind not in 'iu':
                raise GroundingError(
                    f'label_image must be an integer image of label ids, got dtype {label_image.dtype}; '
                    'pass binary masks through masks={name: mask} instead'
                )
        self._label_image = label_image
        self._masks = {str(k): np.asarray(v) for k, v in (masks or {}).items()}

    def _label_of(self, query: ObjectQuery) -> int:
        if query.name in self.config.labels:
            return self.config.labels[query.name]
        try:
            return int(query.prompt.strip())
        except ValueError as err:
            raise GroundingError(
                f'query {query.name!r}: the mask grounder needs a label id, but the prompt is {query.prompt!r}; '
                f'give the id as the prompt ("3") or in MaskGrounderConfig(labels={{{query.name!r}: 3}})'
            ) from err

    def ground(self, frame: Frame, queries: Sequence[ObjectQuery]) -> dict[str, Optional[np.ndarray]]:
        """{query name: HxW bool mask, or None when it has fewer than ``min_pixels`` pixels}."""
        check_unique_names(queries)
        if self._label_image is None and not self._masks:
            raise GroundingError(
                'the mask grounder has no segmentation for this frame; call set_masks(label_image=...) '
                'or set_masks(masks={name: mask}) before ground()'
            )
        if self._label_image is not None:
            _check_size('label_image', self._label_image, frame)
        out: dict[str, Optional[np.ndarray]] = {}
        for q in queries:
            if q.name in self._masks:
                _check_size(f'mask of {q.name!r}', self._masks[q.name], frame)
                mask = self._masks[q.name].astype(bool, copy=False)
            elif self._label_image is not None:
                mask = self._label_image == self._label_of(q)
            else:
                raise GroundingError(
                    f'no mask for query {q.name!r}: masks were given for {sorted(self._masks)} and no label image; '
                    'add its mask or pass a label_image'
                )
            if int(np.count_nonzero(mask)) < self.config.min_pixels:
                logger.debug('mask grounder: %r has fewer than %d px', q.name, self.config.min_pixels)
                out[q.name] = None
            else:
                out[q.name] = mask
        return out
