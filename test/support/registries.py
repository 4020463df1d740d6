"""``check_declared``: every field of a registry entry's config is a declared option (grounders, VLM backends)."""
import dataclasses
import typing
from spatialvlm_ros.core.options import options_of


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


def declared_type_ok(t) -> bool:
    """bool, int, float, str, or a tuple (of one of them)."""
    if t in SCALARS or t is tuple:
        return True
    return typing.get_origin(t) is tuple and all(a in SCALARS or a is Ellipsis for a in typing.get_args(t))


SCALARS = (bool, int, float, str)
