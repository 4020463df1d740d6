"""What every grounder shares: the query type, the ``Grounder`` protocol and the registry.

A grounder turns a frame and a list of object queries into one HxW bool mask per query.
Backends register themselves in :data:`GROUNDERS` with :func:`register_grounder`; callers
build one by name with :func:`make_grounder`, so adding a backend touches one module only.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import GroundingError
from ..types import Frame

__all__ = [
    'ObjectQuery',
    'Grounder',
    'GROUNDERS',
    'register_grounder',
    'make_grounder',
    'check_unique_names',
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectQuery:
    """One object to find.

    name: the key the result is stored under and the name the task uses ("block").
    prompt: how the backend should find it ("red block" for the colour grounder, "3" for a
        label id in an instance mask, free text for an open-vocabulary model).
    """

    name: str
    prompt: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise GroundingError(f'query name must be a non-empty string, got {self.name!r}')
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise GroundingError(
                f'query {self.name!r} has an empty prompt; give a description such as "red block" '
                'or, for the mask grounder, a label id such as "3"'
            )


@runtime_checkable
class Grounder(Protocol):
    """Finds objects in a frame.

    ``ground`` returns, for every query name, an HxW bool mask (H, W = ``frame.shape``) or
    None when the object was not found (e.g. fewer than the backend's ``min_pixels``).
    It raises :class:`GroundingError` only for queries it can never answer (an unknown
    colour word, a missing mask source), not for an object that is merely absent.
    """

    def ground(self, frame: Frame, queries: Sequence[ObjectQuery]) -> dict[str, Optional[np.ndarray]]: ...


# kind -> grounder class. Each class has a ``config_type`` (its config dataclass) and an
# ``__init__(config)``; filled by the backend modules through ``register_grounder``.
GROUNDERS: dict[str, type] = {}


def register_grounder(kind: str) -> Callable[[type], type]:
    """Class decorator adding a grounder backend to :data:`GROUNDERS` under ``kind``."""

    def _register(cls: type) -> type:
        if kind in GROUNDERS and GROUNDERS[kind] is not cls:
            msg = f'grounder kind {kind!r} is registered twice ({GROUNDERS[kind].__name__}, {cls.__name__})'
            raise GroundingError(msg)
        if not dataclasses.is_dataclass(getattr(cls, 'config_type', None)):
            raise GroundingError(f'grounder {cls.__name__} must define config_type as its config dataclass')
        GROUNDERS[kind] = cls
        return cls

    return _register


def make_grounder(kind: str, **config) -> Grounder:
    """Build the grounder registered as ``kind`` with its config fields as keyword arguments.

    >>> make_grounder('color', min_pixels=50)   # doctest: +SKIP
    """
    cls = GROUNDERS.get(kind)
    if cls is None:
        raise GroundingError(f'unknown grounder kind {kind!r}; known kinds: {sorted(GROUNDERS)}')
    fields = [f.name for f in dataclasses.fields(cls.config_type)]
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise GroundingError(f'unknown option(s) {unknown} for grounder {kind!r}; its options are {fields}')
    return cls(cls.config_type(**config))


def check_unique_names(queries: Sequence[ObjectQuery]) -> None:
    """Raise when two queries share a name (their masks would overwrite each other)."""
    names = [q.name for q in queries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GroundingError(
            f'query names must be unique, {dupes} appear more than once; give each object its own name'
        )
