"""Spatial vision-language models behind one interface (ROS-free).

- :class:`VLMBackend`: ``ask(images, question) -> answer text``, ``ask_batch``, ``close``;
  backends in :data:`BACKENDS` (local transformers models, any OpenAI-compatible server, and
  the depth-grounded geometric answerer), built with :func:`make_backend`; their options come
  from :func:`backend_options`. Heavy dependencies load inside the backends.
- :func:`parse_distance`: answer text -> metres or None; :func:`parse_yes_no`,
  :func:`parse_choice`, :func:`parse_side` for qualitative answers.
- :mod:`.prompts`: SpatialVLM-style question templates and depth-grounded prompting.
- :mod:`.worker`: the latest-frame worker and stamp rate limit of the VLM reward node.
"""

from .base import (BACKENDS, VLMBackend, backend_class, backend_options, image_backends, make_backend,
                   merged_backend_options, register_backend)
from .errors import VLMError
from .parse import parse_choice, parse_distance, parse_side, parse_yes_no
from .prompts import TEMPLATES, SpatialQuestion, interpret_question, make_question

__all__ = [
    'BACKENDS',
    'SpatialQuestion',
    'TEMPLATES',
    'VLMBackend',
    'VLMError',
    'backend_class',
    'backend_options',
    'image_backends',
    'interpret_question',
    'make_backend',
    'make_question',
    'merged_backend_options',
    'parse_choice',
    'parse_distance',
    'parse_side',
    'parse_yes_no',
    'register_backend',
]

# Register the backends (their heavy dependencies load only when one is built).
from . import geometry_backend, openai_backend, transformers_backend  # noqa: E402,F401
