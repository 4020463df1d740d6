"""What the open-vocabulary grounders share: the config, box selection and box -> mask.

A backend (``owlv2.py``, ``grounding_dino.py``) only loads its detector and implements
``_detect(rgb, prompts)``: for each prompt, one score per candidate box and the boxes in
pixels. This module picks, per query, the best boxes above the threshold and turns them into
one HxW bool mask: the SAM outline when a segmenter is configured, else the filled box.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import GroundingError
from ..options import option, option_values
from ..types import Frame
from .base import MIN_PIXELS_DOC, ObjectQuery, check_unique_names
from .hf import checkpoint_type, load_pretrained, box_mask, check_model_options, clip_boxes, import_torch, release, resolve_device, torch_dtype
from .segmenter import SegmenterConfig, make_segmenter

__all__ = ['OpenVocabConfig', 'OpenVocabGrounder']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenVocabConfig(SegmenterConfig):
    """Options of a text-prompted detector with an optional segmenter (:class:`SegmenterConfig`);
    backends override the defaults. The names are the spatial_facts node's parameters."""

    detector_model: str = option('', 'Detector checkpoint: Hugging Face id or local directory written by '
                                     'save_pretrained().')
    detection_threshold: float = option(0.1, 'Lowest detector score (0-1) of a box that counts as found; <= 0 keeps '
                                             'every box inside the image.')
    max_detections: int = option(1, 'Best boxes per query merged into its mask (1 = only the best one).')
    min_pixels: int = option(30, MIN_PIXELS_DOC)

    def __post_init__(self) -> None:
        check_model_options(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})


class OpenVocabGrounder:
    """Base of the text-prompted grounders; ``ground(frame, queries)`` -> {name: HxW bool mask or None}.

    Subclasses set ``kind``, ``model_types`` (accepted checkpoint ``model_type`` values) and
    implement ``_load(transformers)`` and ``_detect(rgb, prompts)``.
    """

    kind = ''
    model_types: tuple[str, ...] = ()
    loads_model = True  # weights load in the constructor (the registry tells callers so)

    def __init__(self, config: OpenVocabConfig) -> None:
        self.config = config
        torch, transformers = import_torch(self.kind)
        self._torch = torch
        self.device = resolve_device(torch, config.model_device)
        self.dtype = torch_dtype(torch, config.model_dtype, self.device)
        self.model = None
        self.processor = None
        self.segmenter = None
        try:
            self._load(transformers)
            # the segmenter sees only its own options (a plain SegmenterConfig, not the detector's)
            segmenter = SegmenterConfig(**option_values(SegmenterConfig, dataclasses.asdict(config)))
            self.segmenter = make_segmenter(segmenter, self.kind)
        except BaseException:
            self.close()  # a half-built grounder must not keep GPU memory
            raise
        logger.info('%s grounder: detector %s on %s (%s), segmenter %s', self.kind, config.detector_model, self.device,
                    config.model_dtype, config.segmenter_model or 'none (box masks)')

    def _check_model_type(self, model_type: str) -> None:
        if model_type not in self.model_types:
            raise GroundingError(
                f'detector model {self.config.detector_model!r} is a {model_type!r} checkpoint but grounder '
                f'{self.kind!r} needs one of {list(self.model_types)}; set detector_model to a matching checkpoint '
                'or change the grounder',
                kind='model_load',
            )

    # Set by each backend: the transformers classes of its processor and detector, and what to call it.
    processor_class = ''
    model_class = ''
    detector_name = ''

    def _load(self, transformers) -> None:
        """Check the checkpoint's model_type, then load processor and detector (``processor_class``,
        ``model_class``) in the configured dtype onto the device."""
        c, what = self.config, self.detector_name
        self._check_model_type(checkpoint_type(transformers, c.detector_model, what, c.trust_remote_code))
        self.processor = load_pretrained(getattr(transformers, self.processor_class), c.detector_model, what,
                                         trust_remote_code=c.trust_remote_code)
        net = load_pretrained(getattr(transformers, self.model_class), c.detector_model, what, dtype=self.dtype,
                              trust_remote_code=c.trust_remote_code)
        self.model = net.to(self.device).eval()

    def _detect(self, rgb: np.ndarray, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per prompt: (N scores in [0, 1], Nx4 float XYXY boxes in pixels of ``rgb``)."""
        raise NotImplementedError

    def _select(self, scores: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The clipped boxes (best first, at most max_detections) scoring above the threshold."""
        clipped, inside = clip_boxes(boxes, shape)
        keep = np.flatnonzero((np.asarray(scores) > self.config.detection_threshold) & inside)
        best = keep[np.argsort(-np.asarray(scores)[keep], kind='stable')][: self.config.max_detections]
        return clipped[best]

    def ground(self, frame: Frame, queries: Sequence[ObjectQuery]) -> dict[str, Optional[np.ndarray]]:
        """{query name: HxW bool mask of its best box(es) above the threshold, or None}."""
        check_unique_names(queries)
        if self.model is None:
            raise GroundingError(f'the {self.kind} grounder was closed; build a new one', kind='closed')
        if not queries:
            return {}
        detections = self._detect(frame.rgb, [q.prompt.strip() for q in queries])
        picked = [self._select(scores, boxes, frame.shape) for scores, boxes in detections]
        if self.segmenter is not None and any(len(b) for b in picked):
            flat = self.segmenter.masks(frame.rgb, np.concatenate([b for b in picked if len(b)]))
        else:
            flat = [box_mask(b, frame.shape) for bs in picked for b in bs]
        out: dict[str, Optional[np.ndarray]] = {}
        i = 0
        for q, boxes in zip(queries, picked):
            mask = None
            for m in flat[i:i + len(boxes)]:
                mask = m.copy() if mask is None else mask | m
            i += len(boxes)
            if mask is None or int(np.count_nonzero(mask)) < self.config.min_pixels:
                logger.debug('%s grounder: %r not found (%d boxes above %.3g)', self.kind, q.name, len(boxes),
                             self.config.detection_threshold)
                mask = None
            out[q.name] = mask
        return out

    def close(self) -> None:
        """Drop detector and segmenter weights and return their GPU memory; ``ground`` then raises."""
        if self.segmenter is not None:
            self.segmenter.close()
        self.segmenter = None
        self.model = None
        self.processor = None
        release(self._torch, self.device)
