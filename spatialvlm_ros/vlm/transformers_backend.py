"""Local Hugging Face transformers backends: the Qwen2.5-VL and LLaVA families.

- ``'qwen2_5_vl'``: SpaceQwen2.5-VL-3B-Instruct (remyxai), SpaceThinker-Qwen2.5VL-3B, plain
  Qwen/Qwen2.5-VL-*-Instruct.
- ``'llava'``: SpaceLLaVA (llava-1.5 style), llava-hf/llava-1.5-*-hf.

Both load once in the constructor (``AutoProcessor`` + the family's model class), build the
prompt with the processor's chat template, generate greedily and decode only the new tokens.
``ask_batch`` runs several questions in one padded forward pass. ``close`` drops the model
and empties the CUDA cache.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ..core.options import option
from .base import Request, check_requests, register_backend, to_rgb
from .errors import VLMError

__all__ = ['QwenVLConfig', 'LlavaConfig', 'TransformersVLM', 'QwenVLBackend', 'LlavaBackend', 'DTYPES', 'DEVICES']

logger = logging.getLogger(__name__)

DTYPES = ('bf16', 'fp16', 'fp32')
DEVICES = ('auto', 'cuda', 'cpu')
_INSTALL = 'install it with: pip install "transformers>=4.50" torch pillow'


@dataclass(frozen=True)
class _TransformersConfig:
    model: str = option('', 'Hugging Face model id or local directory of the checkpoint.')
    device: str = option('auto', "'auto' (cuda when available, else cpu), 'cuda', 'cuda:N' or 'cpu'.")
    # fp32 on the CPU is the safe choice.
    dtype: str = option('bf16', "Weights dtype: 'bf16', 'fp16' or 'fp32'.")
    # SpatialVLM-style answers need ~30; chain-of-thought models more.
    max_new_tokens: int = option(64, 'Most tokens generated per answer.')
    trust_remote_code: bool = option(False, 'Run code shipped with the model repository (off unless you trust it).')
    revision: str = option('', "Git revision (branch, tag or commit) of a Hub model; '' = the default branch.")
    local_files_only: bool = option(False, 'Never download: load from the local cache only.')
    system_prompt: str = option('', "System prompt put before every question ('' for none).")

    model_class: ClassVar[str] = 'AutoModelForImageTextToText'

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise VLMError(f'{type(self).__name__}.model: expected a Hugging Face id or a local path, got {self.model!r}',
                           kind='config')
        if not (self.device in DEVICES or self.device.startswith('cuda:')):
            raise VLMError(f'{type(self).__name__}.device: expected one of {DEVICES} or cuda:N, got {self.device!r}',
                           kind='config')
        if self.dtype not in DTYPES:
            raise VLMError(f'{type(self).__name__}.dtype: expected one of {DTYPES}, got {self.dtype!r}', kind='config')
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise VLMError(f'{type(self).__name__}.max_new_tokens: expected an integer >= 1, got {self.max_new_tokens!r}',
                           kind='config')
        for name in ('min_image_pixels', 'max_image_pixels'):
            v = getattr(self, name, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise VLMError(f"{type(self).__name__}.{name}: expected an integer >= 0 (0 = the model's), got {v!r}",
                               kind='config')


@dataclass(frozen=True)
class QwenVLConfig(_TransformersConfig):
    """Qwen2.5-VL family (SpaceQwen2.5-VL-3B-Instruct, SpaceThinker, Qwen2.5-VL-Instruct)."""

    model: str = option('remyxai/SpaceQwen2.5-VL-3B-Instruct',
                        'Hugging Face id or local directory of a Qwen2.5-VL checkpoint.')
    # Qwen's dynamic resolution; named apart from the grounders' min_pixels (a mask size, not an image's).
    min_image_pixels: int = option(0, "Fewest image pixels the processor resizes to; 0 = the model's.")
    max_image_pixels: int = option(640 * 28 * 28, "Most image pixels the processor resizes to; 0 = the model's.")

    model_class: ClassVar[str] = 'Qwen2_5_VLForConditionalGeneration'


@dataclass(frozen=True)
class LlavaConfig(_TransformersConfig):
    """LLaVA family (SpaceLLaVA, llava-1.5-*-hf)."""

    model: str = option('llava-hf/llava-1.5-7b-hf',
                        'Hugging Face id or local directory of a llava-1.5 style checkpoint in transformers format.')

    model_class: ClassVar[str] = 'LlavaForConditionalGeneration'


def _torch():
    try:
        import torch
    except ImportError as err:
        raise VLMError(f'PyTorch is required for the transformers VLM backends; {_INSTALL}', kind='dependency') from err
    return torch


class TransformersVLM:
    """A local vision-language model. Thread-safe: calls are serialised (one model, one GPU).

    config: a :class:`QwenVLConfig` or :class:`LlavaConfig`.
    processor: an already built processor to use instead of ``AutoProcessor.from_pretrained``
        (custom preprocessing; the weights still load from ``config.model``).
    """

    def __init__(self, config: _TransformersConfig, processor: Any = None) -> None:
        self.config = config
        torch = _torch()
        try:
            import transformers
        except ImportError as err:
            raise VLMError(f'transformers is required for backend {config.model_class}; {_INSTALL}',
                           kind='dependency') from err
        self._lock = threading.Lock()
        self.device = self._device(torch)
        dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}[config.dtype]
        kw = dict(trust_remote_code=config.trust_remote_code, revision=config.revision or None,
                  local_files_only=config.local_files_only)
        where = f'{config.model!r}' + (' (a local directory)' if Path(config.model).expanduser().exists() else '')
        if processor is None:
            pkw = dict(kw)
            for name in ('min_pixels', 'max_pixels'):  # the processor's names for min/max_image_pixels
                value = getattr(config, name.replace('_pixels', '_image_pixels'), 0)
                if value:
                    pkw[name] = value
            try:
                processor = transformers.AutoProcessor.from_pretrained(config.model, **pkw)
            except ImportError as err:
                raise VLMError(f'the processor of {where} needs a package that is missing ({err}); '
                               'Qwen2.5-VL processors need torchvision: pip install torchvision', kind='dependency') from err
            except (OSError, ValueError, KeyError, AttributeError) as err:
                raise VLMError(f'cannot load the processor of {where}: {err}; check the id or path, '
                               'or download the model first (huggingface-cli download)', kind='load') from err
        if getattr(processor, 'image_processor', None) is None:
            import importlib.util

            hint = ('; Qwen2.5-VL processors need torchvision: pip install torchvision'
                    if importlib.util.find_spec('torchvision') is None else '')
            raise VLMError(f'the processor loaded for {where} is a {type(processor).__name__} without an image '
                           f'processor, so it cannot read images{hint}', kind='dependency')
        self.processor = processor
        tok = getattr(processor, 'tokenizer', None)
        if tok is not None:
            tok.padding_side = 'left'  # decoder-only batching: new tokens follow every prompt directly
        try:
            model_cls = getattr(transformers, config.model_class)
            self.model = model_cls.from_pretrained(config.model, dtype=dtype, **kw).to(self.device).eval()
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise VLMError(f'cannot load {config.model_class} weights from {where}: {err}', kind='load') from err
        logger.info('loaded %s from %s on %s (%s)', config.model_class, config.model, self.device, config.dtype)

    def _device(self, torch) -> str:
        dev = self.config.device
        if dev == 'auto':
            return 'cuda' if torch.cuda.is_available() else 'cpu'
        if dev.startswith('cuda') and not torch.cuda.is_available():
            raise VLMError(f'device {dev!r} asked for but CUDA is not available; use device=cpu or auto', kind='config')
        return dev

    def _messages(self, n_images: int, question: str) -> list[dict]:
        content = [{'type': 'image'} for _ in range(n_images)] + [{'type': 'text', 'text': question}]
        msgs = [{'role': 'user', 'content': content}]
        if self.config.system_prompt:
            msgs.insert(0, {'role': 'system', 'content': [{'type': 'text', 'text': self.config.system_prompt}]})
        return msgs

    def ask(self, images: Sequence, question: str) -> str:
        return self.ask_batch([(images, question)])[0]

    def ask_batch(self, requests: Sequence[Request]) -> list[str]:
        """One padded forward pass for all requests (greedy decoding: same input, same answer)."""
        check_requests(requests)
        if not requests:
            return []
        from PIL import Image

        texts, images = [], []
        for imgs, question in requests:
            rgbs = [Image.fromarray(to_rgb(im)) for im in imgs]
            texts.append(self.processor.apply_chat_template(self._messages(len(rgbs), question),
                                                            add_generation_prompt=True, tokenize=False))
            images.extend(rgbs)
        torch = _torch()
        with self._lock:
            if self.model is None:
                raise VLMError('this backend was closed; build a new one', kind='config')
            inputs = self.processor(text=texts, images=images or None, return_tensors='pt', padding=True)
            inputs = inputs.to(self.device)
            if 'pixel_values' in inputs and self.model.dtype != torch.float32:
                inputs['pixel_values'] = inputs['pixel_values'].to(self.model.dtype)
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.config.max_new_tokens, do_sample=False)
        new = out[:, inputs['input_ids'].shape[1]:]
        return [s.strip() for s in self.processor.batch_decode(new, skip_special_tokens=True)]

    def close(self) -> None:
        """Drop the model and release its GPU memory; later calls raise VLMError."""
        with self._lock:
            if getattr(self, 'model', None) is None:
                return
            self.model = None
        gc.collect()
        torch = _torch()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@register_backend('qwen2_5_vl')
class QwenVLBackend(TransformersVLM):
    """Qwen2.5-VL family; see :class:`QwenVLConfig`."""

    config_type = QwenVLConfig
    takes_images = True


@register_backend('llava')
class LlavaBackend(TransformersVLM):
    """LLaVA family; see :class:`LlavaConfig`."""

    config_type = LlavaConfig
    takes_images = True
