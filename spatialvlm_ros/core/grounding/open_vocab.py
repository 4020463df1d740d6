"""What the open-vocabulary grounders share: the config, box selection and box -> mask.

A backend (``owlv2.py``, ``grounding_dino.py``) only loads its detector and implements
``_detect(rgb, prompts)``: for each prompt, one score per candidate box and the boxes in
pixels. This module picks, per query, the best boxes above the threshold and turns them into
one HxW bool mask: the SAM outline when a segmenter is configured, else the filled box.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import GroundingError
from ..types import Frame
from .base import ObjectQuery, check_unique_names
from .hf import box_mask, check_model_options, clip_boxes, import_torch, release, resolve_device, torch_dtype
from .segmenter import make_segmenter

__all__ = ['OpenVocabConfig', 'OpenVocabGrounder', 'OPEN_VOCAB_KINDS']

logger = logging.getLogger(__name__)

# Grounder kinds that take the model options below (the node passes them only to these).
OPEN_VOCAB_KINDS: tuple[str, ...] = ('owlv2', 'grounding_dino')


@dataclass(frozen=True)
class OpenVocabConfig:
    """Options of a text-prompted detector with an optional SAM segmenter (backends override defaults)."""

    # Detector checkpoint: a Hugging Face model id or a local directory written by save_pretrained().
    model: str = ''
    # SAM checkpoint (id or directory) that turns each box into the object's outline; '' = the box is the mask.
    segmenter_model: str = ''
    # 'auto' (CUDA when available, else CPU), 'cuda' or 'cpu'.
    device: str = 'auto'
    # Weight dtype: 'float32', 'float16' (CUDA only) or 'bfloat16'.
    dtype: str = 'float32'
    # A box counts for a query when its score (in [0, 1]) is above this; <= 0 keeps every box inside the image.
    threshold: float = 0.1
    # Best boxes per query merged into its mask (1 = only the best one).
    max_detections: int = 1
    # Fewer mask pixels than this -> not found (None).
    min_pixels: int = 30
    # Run code shipped with a checkpoint (needed only by custom architectures; keep False otherwise).
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        check_model_options(
            model=self.model, segmenter_model=self.segmenter_model, device=self.device, dtype=self.dtype,
            threshold=self.threshold, max_detections=self.max_detections, min_pixels=self.min_pixels,
            trust_remote_code=self.trust_remote_code,
        )


class OpenVocabGrounder:
    """Base of the text-prompted grounders; ``ground(frame, queries)`` -> {name: HxW bool mask or None}.

    Subclasses set ``kind``, ``model_types`` (accepted checkpoint ``model_type`` values) and
    implement ``_load(transformers)`` and ``_detect(rgb, prompts)``.
    """

    kind = ''
    model_types: tuple[str, ...] = ()

    def __init__(self, config: OpenVocabConfig) -> None:
        self.config = config
        torch, transformers = import_torch(self.kind)
        self._torch = torch
        self.device = resolve_device(torch, config.device)
        self.dtype = torch_dtype(torch, config.dtype, self.device)
        self.model = None
        self.processor = None
        self.segmenter = None
        try:
            self._load(transformers)
            self.segmenter = make_segmenter(config.segmenter_model, config.device, config.dtype,
                                            config.trust_remote_code, self.kind)
        except BaseException:
            self.close()  # a half-built grounder must not keep GPU memory
            raise
        logger.info('%s grounder: detector %s on %s (%s), segmenter %s', self.kind, config.model, self.device,
                    config.dtype, config.segmenter_model or 'none (box masks)')

    def _check_model_type(self, model_type: str) -> None:
        if model_type not in self.model_types:
            raise GroundingError(
                f'detector model {self.config.model!r} is a {model_type!r} checkpoint but grounder {self.kind!r} '
                f'needs one of {list(self.model_types)}; set the model to a matching checkpoint or change the grounder',
                kind='model_load',
            )

    def _load(self, transformers) -> None:
        raise NotImplementedError

    def _detect(self, rgb: np.ndarray, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per prompt: (N scores in [0, 1], Nx4 float XYXY boxes in pixels of ``rgb``)."""
        raise NotImplementedError

    def _select(self, scores: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The clipped boxes (best first, at most max_detections) scoring above the threshold."""
        clipped, inside = clip_boxes(boxes, shape)
        keep = np.flatnonzero((np.asarray(scores) > self.config.threshold) & inside)
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
                             self.config.threshold)
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
