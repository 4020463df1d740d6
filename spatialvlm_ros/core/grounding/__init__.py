"""Grounding: from a frame and object descriptions to one HxW bool mask per object.

Backends (registered in :data:`GROUNDERS`): ``'color'`` (:class:`ColorGrounder`),
``'mask'`` (:class:`MaskGrounder`) and the open-vocabulary ``'owlv2'`` (:class:`Owlv2Grounder`) and
``'grounding_dino'`` (:class:`GroundingDinoGrounder`), which import torch and transformers only
when built. Build one by name with :func:`make_grounder`.
"""

from .base import GROUNDERS, Grounder, ObjectQuery, make_grounder, register_grounder
from .color import ColorGrounder, ColorGrounderConfig, parse_color
from .grounding_dino import GroundingDinoGrounder, GroundingDinoGrounderConfig
from .mask import MaskGrounder, MaskGrounderConfig
from .open_vocab import OPEN_VOCAB_KINDS, OpenVocabConfig
from .owlv2 import Owlv2Grounder, Owlv2GrounderConfig

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
    'OPEN_VOCAB_KINDS',
    'OpenVocabConfig',
    'Owlv2Grounder',
    'Owlv2GrounderConfig',
    'GroundingDinoGrounder',
    'GroundingDinoGrounderConfig',
]
