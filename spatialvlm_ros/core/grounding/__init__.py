"""Grounding: from a frame and object descriptions to one HxW bool mask per object.

Backends (registered in :data:`GROUNDERS`): ``'color'`` (:class:`ColorGrounder`),
``'mask'`` (:class:`MaskGrounder`) and the open-vocabulary ``'owlv2'`` (:class:`Owlv2Grounder`) and
``'grounding_dino'`` (:class:`GroundingDinoGrounder`), which import torch and transformers only
when built. Build one by name with :func:`make_grounder`; :func:`grounder_options` lists every
registered grounder's options (name, type, default, description), ``GROUNDERS[kind].loads_model``
says whether building it loads model weights.
"""

from .base import (GROUNDERS, Grounder, ObjectQuery, grounder_class, grounder_config_from, grounder_options,
                   make_grounder, register_grounder)
from .color import ColorGrounder, ColorGrounderConfig, parse_color
from .grounding_dino import GroundingDinoGrounder, GroundingDinoGrounderConfig
from .mask import MaskGrounder, MaskGrounderConfig
from .open_vocab import OpenVocabConfig
from .owlv2 import Owlv2Grounder, Owlv2GrounderConfig
from .segmenter import SEGMENTERS, SegmenterConfig, register_segmenter

__all__ = [
    'GROUNDERS',
    'Grounder',
    'ObjectQuery',
    'grounder_class',
    'grounder_config_from',
    'grounder_options',
    'make_grounder',
    'register_grounder',
    'ColorGrounder',
    'ColorGrounderConfig',
    'parse_color',
    'MaskGrounder',
    'MaskGrounderConfig',
    'OpenVocabConfig',
    'Owlv2Grounder',
    'Owlv2GrounderConfig',
    'GroundingDinoGrounder',
    'GroundingDinoGrounderConfig',
    'SEGMENTERS',
    'SegmenterConfig',
    'register_segmenter',
]
