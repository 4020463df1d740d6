"""Promptable segmentation: SAM or SAM 2 (transformers ``SamModel`` / ``Sam2Model``) turns boxes into masks.

Used by the open-vocabulary grounders to replace each detected box by the object's outline. The
checkpoint's ``model_type`` picks the segmenter (:data:`SEGMENTERS`, filled by :func:`register_segmenter`);
its options are :class:`SegmenterConfig`. SAM runs with its own
``SamProcessor``. SAM 2's image processor in transformers needs torchvision, which this package
does not depend on (its wheels are tied to one torch build); :class:`Sam2Segmenter` therefore does
that processor's documented steps itself, in torch: resize to the model's square input
(``prompt_encoder_config.image_size``, bilinear), scale to [0, 1], normalise with the checkpoint's
``image_mean``/``image_std`` (``preprocessor_config.json``; ImageNet's when it has none), boxes
scaled to the resized image, low-resolution mask logits resized to the image and cut at 0.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GroundingError
from ..registry import registrar
from ..options import option
from .hf import (check_model_options, checkpoint_type, import_torch, load_pretrained, release, resolve_device,
                 torch_dtype)

__all__ = ['SegmenterConfig', 'SamSegmenter', 'Sam2Segmenter', 'SEGMENTERS', 'register_segmenter', 'make_segmenter']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmenterConfig:
    """Options of a box-prompted segmenter (the names are the spatial_facts node's parameters)."""

    segmenter_model: str = option('', "SAM or SAM 2 checkpoint (Hugging Face id or local directory) turning each box "
                                      "into the object's outline; '' = the box is the mask.")
    model_device: str = option('auto', "Device of the weights: 'auto' (CUDA when available, else CPU), 'cuda' "
                                       "or 'cpu'.")
    model_dtype: str = option('float32', "Weight dtype: 'float32', 'float16' (CUDA only) or 'bfloat16'.")
    trust_remote_code: bool = option(False, 'Run code shipped with a checkpoint (only custom architectures need it; '
                                            'keep it off otherwise).')

    def __post_init__(self) -> None:
        check_model_options(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SegmenterConfig)})


class _Segmenter:
    """What both segmenters share: torch, device and dtype, the weights (``MODEL_CLASS``) loaded once
    in the constructor, and :meth:`close`.

    config: a :class:`SegmenterConfig` with a non-empty ``segmenter_model``; kind: the grounder it serves
    (named in install hints).
    """

    MODEL_CLASS = ''  # the transformers model class name
    example = ''  # a checkpoint of this family, named in error messages

    def __init__(self, config: SegmenterConfig, kind: str = 'segmenter') -> None:
        model, trust_remote_code = config.segmenter_model, config.trust_remote_code
        torch, transformers = import_torch(kind)
        self._torch = torch
        self.device = resolve_device(torch, config.model_device)
        self.dtype = torch_dtype(torch, config.model_dtype, self.device)
        self._setup(transformers, model, trust_remote_code)
        net = load_pretrained(getattr(transformers, self.MODEL_CLASS), model, 'segmenter model', dtype=self.dtype,
                              trust_remote_code=trust_remote_code)
        self.model = net.to(self.device).eval()
        self._configure(net)
        logger.info('segmenter %s (%s) loaded on %s (%s)', model, self.MODEL_CLASS, self.device, config.model_dtype)

    def _setup(self, transformers, model: str, trust_remote_code: bool) -> None:
        """Before the weights: what else the checkpoint brings (a processor)."""

    def _configure(self, net) -> None:
        """After the weights: what the loaded model's config decides."""

    def close(self) -> None:
        """Drop the weights (and processor) and return their GPU memory."""
        self.model = None
        self.processor = None
        release(self._torch, self.device)


# checkpoint model_type -> segmenter class; filled by register_segmenter
SEGMENTERS: dict[str, type] = {}


# Class decorator adding a segmenter for checkpoints of a model_type to SEGMENTERS.
register_segmenter = registrar(SEGMENTERS, 'segmenter', GroundingError, config=False,
                               texts={'example': 'an example checkpoint'})


@register_segmenter('sam')
class SamSegmenter(_Segmenter):
    """Box-prompted instance masks from a SAM checkpoint ("facebook/sam-vit-base"), with its SamProcessor."""

    MODEL_CLASS = 'SamModel'
    example = 'facebook/sam-vit-base'

    def _setup(self, transformers, model: str, trust_remote_code: bool) -> None:
        self.processor = load_pretrained(transformers.SamProcessor, model, 'segmenter model',
                                         trust_remote_code=trust_remote_code)

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


@register_segmenter('sam2')
class Sam2Segmenter(_Segmenter):
    """Box-prompted instance masks from a SAM 2 checkpoint ("facebook/sam2.1-hiera-small"); weights
    load once, in the constructor. Arguments as :class:`SamSegmenter`; preprocessing: module doc."""

    # transformers' Sam2ImageProcessor defaults (IMAGENET_DEFAULT_MEAN / _STD)
    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    MODEL_CLASS = 'Sam2Model'
    example = 'facebook/sam2.1-hiera-small'

    def _setup(self, transformers, model: str, trust_remote_code: bool) -> None:
        self.processor = None  # transformers' needs torchvision: the steps are done here (module doc)
        self._mean_std = _normalisation(model, self.MEAN, self.STD)

    def _configure(self, net) -> None:
        torch = self._torch
        self.size = int(net.config.prompt_encoder_config.image_size)
        mean, std = self._mean_std
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def masks(self, rgb: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """One HxW bool mask per box (as :meth:`SamSegmenter.masks`)."""
        if self.model is None:
            raise GroundingError('the segmenter was closed; build a new grounder', kind='closed')
        torch = self._torch
        F = torch.nn.functional
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        h, w = rgb.shape[:2]
        img = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device).permute(2, 0, 1)[None].float()
        img = F.interpolate(img, size=(self.size, self.size), mode='bilinear', align_corners=False,
                            antialias=self.size < max(h, w))
        pixel_values = ((img / 255.0 - self._mean) / self._std).to(self.dtype)
        scale = np.array([self.size / w, self.size / h, self.size / w, self.size / h])
        input_boxes = torch.tensor((boxes * scale)[None], dtype=self.dtype, device=self.device)
        with torch.inference_mode():
            out = self.model(pixel_values=pixel_values, input_boxes=input_boxes, multimask_output=False)
        logits = out.pred_masks[0].float()  # (boxes, 1, h', w') low-resolution logits
        full = F.interpolate(logits, size=(h, w), mode='bilinear', align_corners=False)
        return [m[0].cpu().numpy() > 0.0 for m in full]


def _normalisation(model: str, mean: tuple, std: tuple) -> tuple[tuple, tuple]:
    """(image_mean, image_std) of the checkpoint's preprocessor_config.json, else the given defaults."""
    import json

    try:  # a local directory, or a hub id (fetched like the weights, or from the cache when offline)
        from transformers.utils import cached_file

        path = cached_file(model, 'preprocessor_config.json', _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False)
    except Exception:  # noqa: BLE001 - no such file anywhere: the defaults, as transformers' processor
        path = None
    if path:
        doc = json.loads(Path(path).read_text())
        mean, std = tuple(doc.get('image_mean', mean)), tuple(doc.get('image_std', std))
    if len(mean) != 3 or len(std) != 3 or not all(v > 0 for v in std):
        raise GroundingError(f'segmenter model {model!r}: image_mean/image_std must be 3 numbers each (std > 0), '
                             f'got {mean} / {std}', kind='model_load')
    return mean, std


def make_segmenter(config: SegmenterConfig, kind: str):
    """The segmenter of ``config.segmenter_model`` (by its checkpoint's model_type), or None when
    that is '' (boxes stand in for masks)."""
    model = config.segmenter_model
    if not model.strip():
        return None
    _, transformers = import_torch(kind)
    model_type = checkpoint_type(transformers, model, 'segmenter model', config.trust_remote_code)
    if model_type not in SEGMENTERS:
        examples = ', '.join(c.example for c in SEGMENTERS.values())
        raise GroundingError(
            f'segmenter model {model!r} is a {model_type!r} checkpoint but the segmenter needs one of '
            f'{sorted(SEGMENTERS)} (e.g. {examples})', kind='model_load')
    return SEGMENTERS[model_type](config, kind=kind)
