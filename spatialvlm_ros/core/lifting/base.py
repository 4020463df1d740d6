"""The centre-mode registry of :mod:`spatialvlm_ros.core.lifting` and what its entries share.

A centre mode turns the cleaned point cloud of one object (:class:`~.cloud.Cloud`) into its centre
and extent. Each mode lives in its own module, which declares the mode's options as a frozen config
dataclass (fields declared with :func:`spatialvlm_ros.core.options.option`) and registers its
estimator here:

>>> @register_center_mode('middle', MiddleConfig)          # doctest: +SKIP
... def _middle(cloud: Cloud, config: LiftConfig) -> Estimate:
...     opts = config.modes['middle']                      # a MiddleConfig
...     return Estimate(cloud.points.mean(axis=0, dtype=np.float64), cloud.extent)

:class:`~.cloud.LiftConfig` then holds one config per registered mode (``LiftConfig.modes``,
filled with each mode's defaults), node parameters reach them by option name
(:func:`~spatialvlm_ros.core.lifting.lift_config_from_params`), and ``center_mode`` accepts the
new name: adding a mode touches its module (imported by the package ``__init__``) and its test.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional

import numpy as np

from ..errors import GroundingError
from ..options import check_int as _check_int, check_number as _check_number

__all__ = ['CENTER_MODES', 'CenterMode', 'Estimate', 'ModeConfigs', 'register_center_mode',
           'check_int', 'check_number']


class Estimate(NamedTuple):
    """What a centre mode returns (float64 metres, optical frame)."""

    center: np.ndarray  # (3,)
    extent: np.ndarray  # (3,) axis-aligned box
    size: Optional[np.ndarray] = None  # (3,) gravity-aligned (width, height, depth), from modes that measure it
    visible: float = 1.0  # share of the object in view, from modes that complete a hidden part


class CenterMode(NamedTuple):
    """One registered centre mode.

    estimate(cloud, config) -> Estimate: ``cloud`` a :class:`~.cloud.Cloud`, ``config`` the whole
        :class:`~.cloud.LiftConfig` (common cleaning options, and this mode's own config under
        ``config.modes[name]``; modes that fall back to another mode pass it on unchanged).
    config_type: the mode's frozen config dataclass (default-constructible).
    """

    name: str
    config_type: type
    estimate: Callable[..., Estimate]


# center_mode -> CenterMode, filled by the mode modules as the package imports them.
CENTER_MODES: dict[str, CenterMode] = {}


def register_center_mode(name: str, config_type: type) -> Callable[[Callable[..., Estimate]], Callable[..., Estimate]]:
    """Decorator registering ``estimate(cloud, config) -> Estimate`` as centre mode ``name``."""

    def register(estimate: Callable[..., Estimate]) -> Callable[..., Estimate]:
        if name in CENTER_MODES:
            raise GroundingError(f'centre mode {name!r} is registered twice', kind='config')
        CENTER_MODES[name] = CenterMode(name, config_type, estimate)
        return estimate

    return register


class ModeConfigs(Mapping[str, Any]):
    """Immutable mode name -> mode config mapping (hashable and picklable, as a frozen
    dataclass field must be to keep :class:`~.cloud.LiftConfig` so)."""

    __slots__ = ('_items',)

    def __init__(self, items: Mapping[str, Any] = ()) -> None:
        self._items = tuple(sorted(dict(items).items()))

    def __getitem__(self, name: str) -> Any:
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __reduce__(self):
        return ModeConfigs, (dict(self._items),)

    def __repr__(self) -> str:
        return f'ModeConfigs({dict(self._items)!r})'


def check_int(config: object, name: str, lo: int) -> None:
    """:func:`~spatialvlm_ros.core.options.check_int` raising GroundingError (a lifting config)."""
    _check_int(config, name, lo, GroundingError)


def check_number(config: object, name: str, allow_zero: bool = False) -> None:
    """:func:`~spatialvlm_ros.core.options.check_number` raising GroundingError (a lifting config)."""
    _check_number(config, name, allow_zero, GroundingError)
