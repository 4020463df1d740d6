"""Shared plumbing of the transformers-backed grounders: imports, devices, dtypes, loading, boxes.

Nothing here imports torch or transformers at module level; :func:`import_torch` does it on
demand, with an install hint, so the rest of the core stays importable without them.
"""

from __future__ import annotations

import gc
import logging
import math
from typing import Any

import numpy as np

from ..errors import GroundingError

__all__ = [
    'DEVICES',
    'DTYPES',
    'check_model_options',
    'import_torch',
    'resolve_device',
    'torch_dtype',
    'load_pretrained',
    'checkpoint_type',
    'clip_boxes',
    'box_mask',
    'release',
]

logger = logging.getLogger(__name__)

# Accepted ``model_device`` values: 'auto' = CUDA when available, else CPU.
DEVICES: tuple[str, ...] = ('auto', 'cuda', 'cpu')
# Accepted ``model_dtype`` values (the dtype the weights are loaded in).
DTYPES: tuple[str, ...] = ('float32', 'float16', 'bfloat16')


def check_model_options(**options: Any) -> None:
    """Validate the options every model-backed config shares; raise GroundingError naming the field.

    Known keys: detector_model (non-empty str), segmenter_model (str, '' = none), model_device,
    model_dtype, detection_threshold (finite number), max_detections (int >= 1), min_pixels (int >= 1),
    trust_remote_code (bool).
    """
    for name in ('detector_model', 'segmenter_model'):
        if name in options:
            v = options[name]
            if not isinstance(v, str) or (name == 'detector_model' and not v.strip()):
                what = 'a non-empty' if name == 'detector_model' else 'a'
                msg = f'{name}: expected {what} Hugging Face model id or local directory (str), got {v!r}'
                raise GroundingError(msg)
    if 'model_device' in options and options['model_device'] not in DEVICES:
        raise GroundingError(f'model_device: expected one of {list(DEVICES)}, got {options["model_device"]!r}')
    if 'model_dtype' in options and options['model_dtype'] not in DTYPES:
        raise GroundingError(f'model_dtype: expected one of {list(DTYPES)}, got {options["model_dtype"]!r}')
    if 'detection_threshold' in options:
        v = options['detection_threshold']
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GroundingError(f'detection_threshold: expected a finite number (a score in [0, 1]), got {v!r}')
    for name in ('max_detections', 'min_pixels'):
        if name in options:
            v = options[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise GroundingError(f'{name}: expected an integer >= 1, got {v!r}')
    if 'trust_remote_code' in options and not isinstance(options['trust_remote_code'], bool):
        raise GroundingError(f'trust_remote_code: expected a bool, got {options["trust_remote_code"]!r}')


def import_torch(kind: str):
    """(torch, transformers), or GroundingError with an install hint naming the grounder ``kind``."""
    try:
        import torch
        import transformers
    except ImportError as err:
        msg = (
            f'torch and transformers are required for grounder {kind!r} ({err}); install them with '
            '`pip install torch "transformers>=5"` or pick the color or mask grounder'
        )
        raise GroundingError(msg, kind='missing_dependency') from err
    return torch, transformers


def resolve_device(torch, device: str):
    """The torch.device for a config's ``model_device`` ('auto' -> CUDA when available)."""
    cuda = torch.cuda.is_available()
    if device == 'cuda' and not cuda:
        raise GroundingError(
            "model_device 'cuda' was asked for but torch sees no CUDA device; use model_device 'cpu' or 'auto', "
            'or install a CUDA build of torch',
            kind='device',
        )
    if device == 'auto':
        device = 'cuda' if cuda else 'cpu'
    return torch.device(device)


def torch_dtype(torch, dtype: str, device) -> Any:
    """The torch dtype for a config's ``model_dtype``; float16 only on CUDA (CPU kernels lack it)."""
    if dtype == 'float16' and device.type != 'cuda':
        raise GroundingError("model_dtype 'float16' needs a CUDA device; use 'float32' or 'bfloat16' on the CPU")
    return getattr(torch, dtype)


def checkpoint_type(transformers, model: str, what: str, trust_remote_code: bool) -> str:
    """The ``model_type`` in the config of checkpoint ``model`` ('owlv2', 'sam', ...)."""
    config = load_pretrained(transformers.AutoConfig, model, what, trust_remote_code=trust_remote_code)
    return str(getattr(config, 'model_type', ''))


def load_pretrained(cls, model: str, what: str, **kwargs):
    """``cls.from_pretrained(model, **kwargs)`` with load failures raised as GroundingError."""
    try:
        return cls.from_pretrained(model, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as err:
        msg = (
            f'cannot load the {what} {model!r} ({type(err).__name__}: {err}); give a local directory written by '
            'save_pretrained() or a Hugging Face model id (download it beforehand with `hf download '
            f'{model}` when the machine is offline)'
        )
        raise GroundingError(msg, kind='model_load') from err


def clip_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Clip Nx4 XYXY pixel boxes to an HxW image; returns (clipped boxes, N bool: box covers image area)."""
    h, w = shape
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    clipped = np.stack(
        [np.clip(boxes[:, 0], 0, w), np.clip(boxes[:, 1], 0, h), np.clip(boxes[:, 2], 0, w), np.clip(boxes[:, 3], 0, h)],
        axis=1,
    )
    inside = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    return clipped, inside


def box_mask(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """HxW bool mask of the pixels a clipped XYXY box (continuous pixel coordinates) touches."""
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    c0, r0 = min(int(math.floor(x0)), w), min(int(math.floor(y0)), h)
    c1, r1 = max(int(math.ceil(x1)), c0), max(int(math.ceil(y1)), r0)
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def release(torch, device) -> None:
    """Collect garbage and return cached CUDA memory after models were dropped."""
    gc.collect()
    if torch is not None and device is not None and device.type == 'cuda':
        torch.cuda.empty_cache()
