"""OWLv2 grounder: free-text prompts ("the blue bowl") -> boxes -> masks.

Uses transformers' ``Owlv2ForObjectDetection`` and ``Owlv2Processor``; every query prompt is
one text query of a single forward pass. Box coordinates come from the processor's
``post_process_grounded_object_detection`` (which undoes OWLv2's square padding).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .base import register_grounder
from ..options import option
from .open_vocab import OpenVocabConfig, OpenVocabGrounder

__all__ = ['Owlv2GrounderConfig', 'Owlv2Grounder']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owlv2GrounderConfig(OpenVocabConfig):
    """:class:`OpenVocabConfig` with OWLv2 defaults."""

    detector_model: str = option('google/owlv2-base-patch16-ensemble',
                                 'OWLv2 detector checkpoint: Hugging Face id or local directory.')
    detection_threshold: float = option(0.1, 'Lowest detector score (0-1) of a box that counts as found; OWLv2 '
                                             "scores are low (0.1-0.4 for clear hits), 0.1 is its authors' value.")


@register_grounder('owlv2')
class Owlv2Grounder(OpenVocabGrounder):
    """Open-vocabulary grounding with OWLv2, optionally refined to outlines by SAM."""

    config_type = Owlv2GrounderConfig
    kind = 'owlv2'
    model_types = ('owlv2',)

    processor_class = 'Owlv2Processor'
    model_class = 'Owlv2ForObjectDetection'
    detector_name = 'OWLv2 detector'

    def _detect(self, rgb: np.ndarray, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        torch = self._torch
        # padding to the tokenizer's length (16 for OWLv2) is what the text encoder was trained with
        inputs = self.processor(text=[prompts], images=rgb, return_tensors='pt', padding='max_length',
                                truncation=True)
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model(**inputs)
        out.logits = out.logits.float()
        out.pred_boxes = out.pred_boxes.float()
        # threshold -inf keeps every box in order; the per-prompt scores are taken from the logits below
        boxes = self.processor.post_process_grounded_object_detection(
            out, threshold=float('-inf'), target_sizes=[tuple(rgb.shape[:2])]
        )[0]['boxes'].cpu().numpy()
        scores = torch.sigmoid(out.logits[0]).cpu().numpy()  # (boxes, prompts)
        return [(scores[:, j], boxes) for j in range(len(prompts))]
