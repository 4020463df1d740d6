"""Promptable segmentation: SAM (transformers ``SamModel`` + ``SamProcessor``) turns boxes into masks.

Used by the open-vocabulary grounders to replace each detected box by the object's outline.
SAM 2 checkpoints (``Sam2Model``) are refused with a clear message for now: their image
processor needs torchvision, which this package does not depend on.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ..errors import GroundingError
from .hf import checkpoint_type, import_torch, load_pretrained, release, resolve_device, torch_dtype

__all__ = ['SamSegmenter']

logger = logging.getLogger(__name__)


class SamSegmenter:
    """Box-prompted instance masks from a SAM checkpoint; weights load once, in the constructor.

    model: Hugging Face id or local directory of a SAM checkpoint ("facebook/sam-vit-base").
    device: 'auto', 'cuda' or 'cpu'; dtype: 'float32', 'float16' or 'bfloat16'.
    """

    def __init__(self, model: str, device: str = 'auto', dtype: str = 'float32', trust_remote_code: bool = False,
                 kind: str = 'segmenter') -> None:
        torch, transformers = import_torch(kind)
        self._torch = torch
        self.device = resolve_device(torch, device)
        self.dtype = torch_dtype(torch, dtype, self.device)
        what = 'segmenter model'
        model_type = checkpoint_type(transformers, model, what, trust_remote_code)
        if model_type != 'sam':
            raise GroundingError(
                f'segmenter model {model!r} is a {model_type!r} checkpoint but the segmenter needs a SAM one '
                "(model_type 'sam', e.g. facebook/sam-vit-base); SAM 2 is not supported yet",
                kind='model_load',
            )
        self.processor = load_pretrained(transformers.SamProcessor, model, what, trust_remote_code=trust_remote_code)
        net = load_pretrained(transformers.SamModel, model, what, dtype=self.dtype, trust_remote_code=trust_remote_code)
        self.model = net.to(self.device).eval()
        logger.info('segmenter %s loaded on %s (%s)', model, self.device, dtype)

    def masks(self, rgb: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """One HxW bool mask per box.

        rgb: HxWx3 uint8, RGB order. boxes: Nx4 float XYXY pixels of ``rgb`` (N >= 1).
        The image is encoded once for all boxes.
        """
        if self.model is None:
            raise GroundingError('the segmenter was closed; build a new grounder', kind='closed')
        torch = self._torch
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        inputs = self.processor(images=rgb, input_boxes=[boxes.tolist()], return_tensors='pt')
        pixel_values = inputs['pixel_values'].to(self.device, self.dtype)
        with torch.inference_mode():
            out = self.model(pixel_values=pixel_values, input_boxes=inputs['input_boxes'].to(self.device, self.dtype),
                             multimask_output=False)
        # (boxes, 1, H, W) bool, padding removed and upscaled to the original size
        masks = self.processor.post_process_masks(
            out.pred_masks.float().cpu(), inputs['original_sizes'], inputs['reshaped_input_sizes']
        )[0]
        return [m[0].numpy().astype(bool, copy=False) for m in masks]

    def close(self) -> None:
        """Drop the weights and return their GPU memory."""
        self.model = None
        self.processor = None
        release(self._torch, self.device)


def make_segmenter(model: str, device: str, dtype: str, trust_remote_code: bool, kind: str) -> Optional[SamSegmenter]:
    """The segmenter of ``model``, or None when ``model`` is '' (boxes stand in for masks)."""
    if not model.strip():
        return None
    return SamSegmenter(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code, kind=kind)
