"""The grounder registry as the one source of a grounder's options: every config declares its
options, a grounder registered here (and removed after) shows up everywhere without another edit,
and unknown options or kinds are refused naming the known ones."""
import dataclasses
import typing
from dataclasses import dataclass
import pytest
from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import (
    GROUNDERS,
    SEGMENTERS,
    SegmenterConfig,
    grounder_config_from,
    grounder_options,
    make_grounder,
    register_grounder,
)
from spatialvlm_ros.core.options import option, options_of
from spatialvlm_ros.core.params import load_defaults, pipeline_config_from_params


def check_declared(config_type) -> None:
    """Every field of a scalar or tuple type is a declared option with a description; a field left
    undeclared is one no parameter or flag can carry (a mapping, a nested config)."""
    declared = {o.name: o for o in options_of(config_type)}
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        if f.name in declared:
            o = declared[f.name]
            assert declared_type_ok(o.type), f'{config_type.__name__}.{f.name}: type {o.type!r}'
            assert isinstance(o.doc, str) and len(o.doc) > 15 and '\n' not in o.doc, f'{f.name}: {o.doc!r}'
            assert isinstance(o.default, bool) == (o.type is bool), f'{f.name}: default {o.default!r}'
        else:
            assert not declared_type_ok(hints[f.name]), f'{config_type.__name__}.{f.name} is not declared with option()'
