"""The one way a backend family keeps its registry: a class decorator that checks what each entry
must declare, so a new backend is one module (plus its test) and the registry is the only list.

Grounders (``core.grounding``), segmenters, VLM backends (``vlm``) and labellers (``offline``) use
:func:`registrar`; centre modes register functions the same way (``core.lifting``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

__all__ = ['registrar']


def registrar(registry: dict, family: str, error: type, flags: Mapping[str, str] = {},
              config: bool = True, texts: Mapping[str, str] = {}) -> Callable[[str], Callable[[type], type]]:
    """``register(name)``: a class decorator adding the class to ``registry`` under ``name``.

    family: how messages name an entry ('grounder', 'VLM backend', ...).
    error: the family's error class (raised with kind 'config').
    flags: attribute -> what it says; each entry must declare it as True or False.
    config: entries must define ``config_type``, their options dataclass (``core.options``).
    texts: attribute -> what it says; each entry must declare it as a non-empty string.
    """

    def register(name: str) -> Callable[[type], type]:
        def _register(cls: type) -> type:
            if name in registry and registry[name] is not cls:
                raise error(f'{family} {name!r} is registered twice ({registry[name].__name__}, {cls.__name__})',
                            kind='config')
            if config and not dataclasses.is_dataclass(getattr(cls, 'config_type', None)):
                raise error(f'{family} {cls.__name__} must define config_type as its config dataclass', kind='config')
            for attr, says in flags.items():
                if not isinstance(getattr(cls, attr, None), bool):
                    raise error(f'{family} {cls.__name__} must declare {attr} = True or False ({says})', kind='config')
            for attr, says in texts.items():
                if not getattr(cls, attr, ''):
                    raise error(f'{family} {cls.__name__} must name {says} ({attr} = ...)', kind='config')
            registry[name] = cls
            return cls

        return _register

    return register
