"""Grounding DINO grounder: free-text prompts -> boxes -> masks.

Uses transformers' ``AutoModelForZeroShotObjectDetection`` and ``AutoProcessor``. All prompts go
into one caption, "the blue bowl. red mug.", as Grounding DINO expects; a box's score for a
prompt is its best token probability over that prompt's tokens in the caption.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import GroundingError
from .base import register_grounder
from ..options import option
from .open_vocab import OpenVocabConfig, OpenVocabGrounder

__all__ = ['GroundingDinoGrounderConfig', 'GroundingDinoGrounder']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundingDinoGrounderConfig(OpenVocabConfig):
    """:class:`OpenVocabConfig` with Grounding DINO defaults."""

    detector_model: str = option('IDEA-Research/grounding-dino-tiny',
                                 'Grounding DINO detector checkpoint: Hugging Face id or local directory.')
    detection_threshold: float = option(0.3, 'Lowest detector score (0-1) of a box that counts as found; 0.3 is the '
                                             "box threshold Grounding DINO's authors use.")


def _caption(prompts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The caption "a. b." (lower case, as the model was trained) and each prompt's character span in it."""
    parts, spans, pos = [], [], 0
    for p in prompts:
        p = p.strip().lower().rstrip('.').strip()
        spans.append((pos, pos + len(p)))
        parts.append(p + '.')
        pos += len(p) + 2  # '.' and the joining space
    return ' '.join(parts), spans


@register_grounder('grounding_dino')
class GroundingDinoGrounder(OpenVocabGrounder):
    """Open-vocabulary grounding with Grounding DINO, optionally refined to outlines by SAM."""

    config_type = GroundingDinoGrounderConfig
    kind = 'grounding_dino'
    model_types = ('grounding-dino', 'mm-grounding-dino')

    processor_class = 'AutoProcessor'
    model_class = 'AutoModelForZeroShotObjectDetection'
    detector_name = 'Grounding DINO detector'

    def _prompt_tokens(self, caption: str, spans: list[tuple[int, int]], prompts: list[str], width: int):
        enc = self.processor.tokenizer(caption)
        if not getattr(enc, 'is_fast', False):
            raise GroundingError('the Grounding DINO tokenizer must be a fast tokenizer (it maps prompts to tokens)')
        out = []
        for prompt, (a, b) in zip(prompts, spans):
            tokens = sorted({t for c in range(a, b) if (t := enc.char_to_token(0, c)) is not None})
            tokens = [t for t in tokens if t < width]
            if not tokens:
                raise GroundingError(
                    f'prompt {prompt!r} falls outside the {width} text tokens Grounding DINO reads; '
                    'use fewer or shorter prompts'
                )
            out.append(tokens)
        return out

    def _detect(self, rgb: np.ndarray, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        torch = self._torch
        caption, spans = _caption(prompts)
        inputs = self.processor(images=rgb, text=caption, return_tensors='pt')
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model(**inputs)
        probs = torch.sigmoid(out.logits[0].float()).cpu().numpy()  # (boxes, text tokens)
        # centre-size in [0, 1] of the image -> XYXY pixels (what post_process_grounded_object_detection does,
        # without decoding a label string for each of the boxes)
        cx, cy, w, h = out.pred_boxes[0].float().cpu().numpy().T
        height, width = rgb.shape[:2]
        boxes = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height],
                         axis=1)
        tokens = self._prompt_tokens(caption, spans, prompts, probs.shape[1])
        return [(probs[:, t].max(axis=1), boxes) for t in tokens]
