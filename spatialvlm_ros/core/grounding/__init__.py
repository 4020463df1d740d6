"""Grounding: from a frame and object descriptions to one HxW bool mask per object.

Backends (registered in :data:`GROUNDERS`): ``'color'`` (:class:`ColorGrounder`) and
``'mask'`` (:class:`MaskGrounder`). Build one by name with :func:`make_grounder`.
"""

from .base import GROUNDERS, Grounder, ObjectQuery, make_grounder, register_grounder
from .color import ColorGrounder, ColorGrounderConfig, parse_color
from .mask import MaskGrounder, MaskGrounderConfig

__all__ = [
    'GROUNDERS',
    'Grounder',
    'ObjectQuery',
    'make_grounder',
    'register_grounder',
    'ColorGrounder',
    'ColorGrounderConfig',
    'parse_color',
    'MaskGrounder',
    'MaskGrounderConfig',
]
