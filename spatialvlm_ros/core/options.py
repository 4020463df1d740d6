"""Options declared once: a backend's config dataclass is the one place its options live.

Every registry entry (grounder, segmenter, centre mode, VLM backend, labeller) has a frozen config
dataclass whose fields are declared with :func:`option`: name, type (the annotation), default and a
one-line description. Node parameters, CLI flags and validation are derived from these with
:func:`options_of`, so adding a backend means writing its config class, and nothing else lists
its options.

>>> @dataclass(frozen=True)
... class ColorConfig:
...     min_pixels: int = option(30, 'Fewest mask pixels for an object to count as found.')
>>> [o.name for o in options_of(ColorConfig)]
['min_pixels']
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import SpatialError

__all__ = ['Option', 'option', 'options_of', 'config_from_options']

_DOC = 'doc'


def option(default: Any, doc: str, **kwargs: Any) -> Any:
    """A dataclass field with its description (``default`` is copied for mutable values)."""
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={_DOC: doc}, **kwargs)
    return dataclasses.field(default=default, metadata={_DOC: doc}, **kwargs)


@dataclass(frozen=True)
class Option:
    """One declared option: ``name`` (the field, the node parameter and the CLI flag
    ``--name-with-dashes``), ``type`` (bool, int, float, str or a tuple/list of one of them),
    ``default`` and ``doc``."""

    name: str
    type: Any
    default: Any
    doc: str

    @property
    def flag(self) -> str:
        return '--' + self.name.replace('_', '-')


def options_of(config_type: type) -> list[Option]:
    """The declared options of a config dataclass, in field order (fields without a description
    are internal: not exposed as parameters or flags)."""
    if not dataclasses.is_dataclass(config_type):
        raise SpatialError(f'{config_type!r} is not a config dataclass', kind='config')
    hints = typing.get_type_hints(config_type)
    out = []
    for f in dataclasses.fields(config_type):
        if _DOC not in f.metadata or not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        out.append(Option(f.name, hints.get(f.name, type(default)), default, f.metadata[_DOC]))
    return out


def config_from_options(config_type: type, values: Mapping[str, Any], **fixed: Any) -> Any:
    """Build ``config_type`` from the entries of ``values`` named like its options (others are
    ignored: one flat parameter set feeds several configs), plus ``fixed`` keyword fields."""
    kwargs = {o.name: _coerce(o, values[o.name]) for o in options_of(config_type) if o.name in values}
    kwargs.update(fixed)
    return config_type(**kwargs)


def _coerce(opt: Option, value: Any) -> Any:
    """ROS parameters arrive as lists and ints where the config wants tuples and floats."""
    origin = typing.get_origin(opt.type)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if opt.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
