"""What every grounder shares: the query type, the ``Grounder`` protocol and the registry.

A grounder turns a frame and a list of object queries into one HxW bool mask per query.
Backends register themselves in :data:`GROUNDERS` with :func:`register_grounder`; callers
build one by name with :func:`make_grounder`, so adding a backend touches one module only. A
backend's config dataclass declares its options (:func:`~spatialvlm_ros.core.options.option`);
:func:`grounder_options` is their union, the parameters a node or tool exposes, and the class
says whether it loads a model (``loads_model``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import GroundingError
from ..registry import registrar
from ..options import Option, check_known, merge_options, option_values
from ..types import Frame

__all__ = [
    'ObjectQuery',
    'Grounder',
    'GROUNDERS',
    'register_grounder',
    'grounder_class',
    'grounder_options',
    'grounder_config_from',
    'make_grounder',
    'check_unique_names',
    'MIN_PIXELS_DOC',
]

# One description of the option every grounder has (one name, one meaning).
MIN_PIXELS_DOC = 'Fewest mask pixels for an object to count as found.'

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


# kind -> grounder class. Each class has ``config_type`` (its config dataclass, options declared
# with ``option``), ``loads_model`` (True when building it loads weights: callers warn, free GPU
# memory, report the model) and ``__init__(config)``; optionally ``needs_masks`` (True when the masks
# come from outside the frame, through ``set_masks``); filled by ``register_grounder``.
GROUNDERS: dict[str, type] = {}


# Class decorator adding a grounder backend to GROUNDERS under a kind.
register_grounder = registrar(GROUNDERS, 'grounder', GroundingError,
                              flags={'loads_model': 'whether building it loads model weights'})


def grounder_class(kind: str) -> type:
    """The grounder class registered as ``kind``; GroundingError listing the known kinds otherwise."""
    cls = GROUNDERS.get(kind)
    if cls is None:
        raise GroundingError(f'unknown grounder kind {kind!r}; known kinds: {sorted(GROUNDERS)}', kind='config')
    return cls


def grounder_options() -> dict[str, Option]:
    """The options of every registered grounder, by name (the parameters a node exposes).

    A name several grounders declare has one type everywhere (GroundingError otherwise); its
    default is None where the grounders' defaults differ.
    """
    return merge_options({k: c.config_type for k, c in GROUNDERS.items()}, GroundingError)


def grounder_config_from(kind: str, values: Mapping) -> dict:
    """The options of grounder ``kind`` found in a flat parameter set (every grounder's parameters
    side by side), coerced to their types: the keyword arguments of :func:`make_grounder`. The
    other grounders' options are left out, so weights load only for the grounder selected."""
    return option_values(grounder_class(kind).config_type, values)


def make_grounder(kind: str, **config) -> Grounder:
    """Build the grounder registered as ``kind`` with its config fields as keyword arguments.

    >>> make_grounder('color', min_pixels=50)   # doctest: +SKIP
    """
    cls = grounder_class(kind)
    check_known(cls.config_type, config, f'grounder {kind!r}', GroundingError)
    return cls(cls.config_type(**config))


def check_unique_names(queries: Sequence[ObjectQuery]) -> None:
    """Raise when two queries share a name (their masks would overwrite each other)."""
    names = [q.name for q in queries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GroundingError(
            f'query names must be unique, {dupes} appear more than once; give each object its own name'
        )
