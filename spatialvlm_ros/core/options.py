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
import math
import typing
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import SpatialError

__all__ = ['parse_key_values', 'check_int', 'check_number', 'Option', 'option', 'options_of', 'option_values', 'config_from_options', 'merge_options', 'check_known']

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
    if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
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


def option_values(config_type: type, values: Mapping[str, Any]) -> dict:
    """The entries of ``values`` named like the options of ``config_type``, coerced to their types
    (others are ignored: one flat parameter set feeds several configs)."""
    return {o.name: _coerce(o, values[o.name]) for o in options_of(config_type) if o.name in values}


def config_from_options(config_type: type, values: Mapping[str, Any], **fixed: Any) -> Any:
    """Build ``config_type`` from :func:`option_values` of ``values``, plus ``fixed`` keyword fields."""
    kwargs = option_values(config_type, values)
    kwargs.update(fixed)
    return config_type(**kwargs)


def check_known(config_type: type, given: Mapping[str, Any], what: str, error: type = SpatialError) -> None:
    """Raise ``error`` when ``given`` names a field ``config_type`` does not have, listing its
    declared options (the names a user can set)."""
    fields = {f.name for f in dataclasses.fields(config_type) if f.init}
    unknown = sorted(set(given) - fields)
    if unknown:
        known = [o.name for o in options_of(config_type)]
        raise error(f'unknown option(s) {unknown} for {what}; its options are {known}', kind='config')


def merge_options(per_kind: Mapping[str, type], error: type = SpatialError) -> dict[str, Option]:
    """The options of several config dataclasses (kind -> config type) as one set, by name.

    An option several kinds declare must have the same type everywhere (one name, one meaning).
    Its description says which kinds take it when not all do ("owlv2, grounding_dino: ..."), and
    gives each kind's own where they differ ("a: ...; b: ..."). Its default is None unless every
    kind declaring it agrees (a caller then has to choose one, e.g. in a node's YAML).
    """
    seen: dict[str, list[tuple[str, Option]]] = {}
    for kind, config_type in per_kind.items():
        for o in options_of(config_type):
            seen.setdefault(o.name, []).append((kind, o))
    out = {}
    for name, entries in seen.items():
        if len({repr(o.type) for _, o in entries}) > 1:
            got = ', '.join(f'{k}: {o.type!r}' for k, o in entries)
            raise error(f'option {name!r} has different types ({got}); one name must mean one thing: '
                        'rename one of them', kind='config')
        by_doc: dict[str, list[str]] = {}
        for k, o in entries:
            by_doc.setdefault(o.doc, []).append(k)
        if len(by_doc) == 1 and len(entries) == len(per_kind):
            doc = entries[0][1].doc
        else:
            doc = '; '.join(f'{", ".join(ks)}: {d.rstrip(".")}' for d, ks in by_doc.items()) + '.'
        defaults = [o.default for _, o in entries]
        default = defaults[0] if all(d == defaults[0] for d in defaults) else None
        out[name] = Option(name, entries[0][1].type, default, doc)
    return out


def _coerce(opt: Option, value: Any) -> Any:
    """ROS parameters arrive as lists and ints where the config wants tuples and floats."""
    origin = typing.get_origin(opt.type)
    if (opt.type is tuple or origin is tuple) and isinstance(value, list):
        return tuple(value)
    if opt.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check_int(config: object, name: str, lo: int, error: type = SpatialError) -> None:
    """Raise ``error`` unless ``config.<name>`` is an integer (not a bool) >= ``lo``."""
    v = getattr(config, name)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise error(f'{type(config).__name__}.{name}: expected an integer >= {lo}, got {v!r}', kind='config')


def check_number(config: object, name: str, allow_zero: bool = False, error: type = SpatialError,
                 upper: float = math.inf) -> None:
    """Raise ``error`` unless ``config.<name>`` is a finite number > 0 (>= 0 with ``allow_zero``),
    and <= ``upper``."""
    v = getattr(config, name)
    ok = (isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(v)
          and (v >= 0 if allow_zero else v > 0) and v <= upper)
    if not ok:
        bound = ('>= 0' if allow_zero else '> 0') + (f' and <= {upper:g}' if upper != math.inf else '')
        raise error(f'{type(config).__name__}.{name}: expected a finite number {bound}, got {v!r}', kind='config')


def parse_key_values(entries, flag: str, error: type = SpatialError, kind: str = 'config') -> dict:
    """``KEY=VALUE`` command-line entries -> options: each value read as JSON (numbers, booleans,
    lists), else kept as text. Raises ``error`` naming ``flag`` for an entry without ``=`` or key."""
    import json

    opts = {}
    for kv in entries or []:
        key, sep, value = kv.partition('=')
        if not sep or not key:
            raise error(f'{flag} expects KEY=VALUE, got {kv!r}', kind=kind)
        try:
            opts[key] = json.loads(value)
        except json.JSONDecodeError:
            opts[key] = value
    return opts
