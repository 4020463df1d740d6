"""Lifting: a 2D object mask plus registered depth -> a cleaned 3D point set, centre and extent.

:func:`lift_mask` cleans the mask's points (:mod:`.cloud`: erosion, depth range, MAD and optional
statistical outlier removal, robust extent) and hands them to the centre mode
``LiftConfig.center_mode``: an entry of :data:`CENTER_MODES`, registered by its own module of this
package with its own config (:mod:`.base`; each module's docstring has its measurements).
:func:`lift_config_from_params` builds the whole :class:`LiftConfig` from flat node parameters.

Modes that complete a hidden part ('flat', 'grip', 'support') also estimate the share of the
object in view (``ObjectObservation.visible_fraction``), which scales the object's evidence and
so the confidence of its facts.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from ..errors import GroundingError
from ..options import config_from_options
from ..types import Frame, ObjectObservation
from .base import CENTER_MODES, CenterMode, Estimate, register_center_mode
from .cloud import Cloud, LiftConfig, clean_cloud

# The centre modes register themselves on import (the order is that of CENTER_MODES).
from .centroid import CentroidConfig  # noqa: E402
from .amodal import AmodalConfig  # noqa: E402
from .flat import FlatConfig  # noqa: E402
from .support import SupportConfig  # noqa: E402
from .grip import GripConfig  # noqa: E402

__all__ = ['LiftConfig', 'lift_options', 'CENTER_MODES', 'CenterMode', 'Cloud', 'Estimate', 'register_center_mode',
           'lift_mask', 'lift_objects', 'lift_config_from_params',
           'AmodalConfig', 'CentroidConfig', 'FlatConfig', 'GripConfig', 'SupportConfig']


def lift_options() -> dict:
    """name -> :class:`~spatialvlm_ros.core.options.Option` of every lifting option: the common
    ones of :class:`LiftConfig` and each registered centre mode's own (the parameters a node exposes)."""
    from ..options import options_of

    out = {o.name: o for o in options_of(LiftConfig)}
    for mode in CENTER_MODES.values():
        out.update({o.name: o for o in options_of(mode.config_type)})
    return out


def lift_config_from_params(params: Mapping) -> LiftConfig:
    """LiftConfig and every registered centre mode's config from flat ROS-style parameters,
    matched by option name (``grip_palm_m`` -> ``modes['grip'].grip_palm_m``); names that are
    missing keep their defaults, names of no option are ignored. Ints for float options and
    lists for tuple options are converted (how ROS parameters arrive)."""
    modes = {name: config_from_options(mode.config_type, params) for name, mode in CENTER_MODES.items()}
    return config_from_options(LiftConfig, params, modes=modes)


def lift_mask(
    frame: Frame, mask: np.ndarray, name: str, config: LiftConfig = LiftConfig(), gravity=None
) -> Optional[ObjectObservation]:
    """Lift one object mask to 3D.

    frame: the registered RGB-D frame (depth HxW float32 metres, NaN = invalid).
    mask: HxW bool (or nonzero = object), same size as the frame.
    name: the object's name, copied to the observation.
    gravity: :class:`~spatialvlm_ros.core.gravity.Gravity` of the frame; the gravity-aligned
        centre modes ('support', 'grip') need it (without it, they fall back to 'amodal').

    Returns an :class:`ObjectObservation` in ``frame.frame_id`` with ``points`` Nx3 float32,
    ``center`` and ``extent`` (3,) float64 metres, ``pixel_count`` = mask pixels; or None when
    fewer than ``config.min_points`` points survive the cleaning (the measurement failed).
    The x/y extent includes the border the erosion removed; in 'amodal' mode the z extent is at
    least the estimated thickness, in 'centroid' mode it is the visible depth spread only.
    If erosion leaves fewer than ``min_points`` valid pixels (a thin or tiny object), the
    uneroded mask is used and the depth filter alone has to remove flying pixels.
    """
    mask = np.asarray(mask)
    if mask.shape != frame.shape:
        raise GroundingError(
            f'mask of {name!r} has shape {mask.shape} but the frame is {frame.shape} (HxW); '
            'ground on the same registered colour image the depth belongs to',
            kind='size_mismatch',
        )
    cleaned = clean_cloud(frame, mask, name, config, gravity)
    if cleaned is None:
        return None
    cloud, pixel_count = cleaned
    est = CENTER_MODES[config.center_mode].estimate(cloud, config)
    return ObjectObservation(
        name=name,
        center=np.asarray(est.center, dtype=np.float64),
        extent=np.asarray(est.extent, dtype=np.float64),
        points=cloud.points,
        pixel_count=pixel_count,
        frame_id=frame.frame_id,
        stamp_ns=frame.stamp_ns,
        mask=mask,
        size=None if est.size is None else np.asarray(est.size, dtype=np.float64),
        border_m=float(cloud.border_m),
        visible_fraction=float(est.visible),
    )


def lift_objects(
    frame: Frame,
    masks: Mapping[str, Optional[np.ndarray]],
    config: LiftConfig = LiftConfig(),
    per_object: Optional[Mapping[str, LiftConfig]] = None,
    gravity=None,
) -> dict[str, Optional[ObjectObservation]]:
    """:func:`lift_mask` for every {name: mask}; a None mask (not grounded) stays None.

    per_object: name -> config overriding ``config`` for that object (e.g. 'flat' mode for a
        flat object, which 'amodal' would push back by half its width;
        ``dataclasses.replace(config, center_mode='flat')`` keeps the mode configs).
    """
    per_object = per_object or {}
    return {
        name: (None if m is None else lift_mask(frame, m, name, per_object.get(name, config), gravity))
        for name, m in masks.items()
    }
