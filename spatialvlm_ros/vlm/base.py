"""What every VLM backend shares: the ``VLMBackend`` protocol, the registry and image helpers.

A backend answers a spatial question about one or more images with text. Backends register
themselves in :data:`BACKENDS` with :func:`register_backend`; callers build one by name with
:func:`make_backend`, so adding a backend touches one module only. A backend's config dataclass
declares its options (:func:`~spatialvlm_ros.core.options.option`): :func:`backend_options` gives
them to the node parameters and CLI flags; the class says whether it takes plain images
(``takes_images``; the geometric backend needs RGB-D frames).

Images are HxWx3 uint8 RGB numpy arrays, or :class:`spatialvlm_ros.core.Frame` (RGB-D; image
backends use ``frame.rgb``, the geometric backend needs the depth).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from ..core.options import Option, check_known, merge_options, options_of
from ..core.types import Frame
from .errors import VLMError
from ..core.registry import registrar

__all__ = [
    'BACKENDS',
    'ImageLike',
    'Request',
    'VLMBackend',
    'backend_class',
    'backend_options',
    'image_backends',
    'merged_backend_options',
    'make_backend',
    'register_backend',
    'to_rgb',
]

logger = logging.getLogger(__name__)

ImageLike = Union[np.ndarray, Frame]
# One question about its images: (images, question text).
Request = tuple[Sequence[ImageLike], str]


@runtime_checkable
class VLMBackend(Protocol):
    """Answers spatial questions about images.

    ask(images, question): the answer text. Raises :class:`VLMError` (with a ``kind``) when the
        backend cannot answer (server down, timeout, unsupported question); never makes one up.
    ask_batch(requests): one answer per (images, question), in order; batched in one forward
        pass or one round of requests where the backend allows.
    close(): release what the backend holds (GPU memory, connections); idempotent.
    """

    def ask(self, images: Sequence[ImageLike], question: str) -> str: ...

    def ask_batch(self, requests: Sequence[Request]) -> list[str]: ...

    def close(self) -> None: ...


# kind -> backend class; each class has ``config_type`` (its frozen config dataclass, options
# declared with ``option``), ``takes_images`` (True when it answers about plain RGB images, so the
# reward node can use it) and ``__init__(config)``. Filled by ``register_backend``.
BACKENDS: dict[str, type] = {}


# Class decorator adding a backend to BACKENDS under a kind.
register_backend = registrar(BACKENDS, 'VLM backend', VLMError,
                             flags={'takes_images': 'whether it answers about plain RGB images'})


def backend_class(kind: str) -> type:
    """The backend class registered as ``kind``; VLMError listing the known backends otherwise."""
    if kind not in BACKENDS:
        raise VLMError(f'unknown VLM backend {kind!r}; known backends: {sorted(BACKENDS)}', kind='config')
    return BACKENDS[kind]


def backend_options(kind: str) -> list[Option]:
    """The declared options of backend ``kind`` (name, type, default, description), in field order."""
    return options_of(backend_class(kind).config_type)


def image_backends() -> list[str]:
    """The backends that answer about plain RGB images (``takes_images``), sorted."""
    return sorted(k for k, cls in BACKENDS.items() if cls.takes_images)


def merged_backend_options(kinds: Iterable[str]) -> dict[str, Option]:
    """The options of several backends as one set by name (one name has one type everywhere);
    see :func:`~spatialvlm_ros.core.options.merge_options` for descriptions and defaults."""
    return merge_options({k: backend_class(k).config_type for k in kinds}, VLMError)


def make_backend(kind: str, **config: Any) -> VLMBackend:
    """Build the backend registered as ``kind`` with its config fields as keyword arguments.

    >>> make_backend('openai', base_url='http://127.0.0.1:8000/v1', model='qwen')   # doctest: +SKIP
    """
    cls = backend_class(kind)
    check_known(cls.config_type, config, f'VLM backend {kind!r}', VLMError)
    return cls(cls.config_type(**config))


def to_rgb(image: ImageLike) -> np.ndarray:
    """HxWx3 uint8 RGB of an image-like input. Raises VLMError for anything else."""
    if isinstance(image, Frame):
        return image.rgb
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    shape = getattr(image, 'shape', None)
    dtype = getattr(image, 'dtype', type(image).__name__)
    raise VLMError(f'expected an HxWx3 uint8 RGB array or a core Frame, got shape {shape} dtype {dtype}', kind='input')


def check_requests(requests: Sequence[Request]) -> None:
    """Validate (images, question) pairs before any work is done."""
    for i, req in enumerate(requests):
        if not (isinstance(req, (tuple, list)) and len(req) == 2):
            raise VLMError(f'request {i}: expected (images, question), got {type(req).__name__}', kind='input')
        images, question = req
        if not isinstance(question, str) or not question.strip():
            raise VLMError(f'request {i}: the question must be non-empty text, got {question!r}', kind='input')
        if isinstance(images, (np.ndarray, Frame)):
            raise VLMError(f'request {i}: pass images as a list, e.g. [rgb], not a bare array', kind='input')
