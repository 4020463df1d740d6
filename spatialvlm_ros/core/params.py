"""The ``spatial_facts`` parameters (config/spatial_facts.yaml) -> a PipelineConfig.

One mapping for the live node and the offline labeller, so a labelled bag gets exactly the
objects, facts and rewards the robot would have published. Plain dict in, no ROS.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping

from .errors import SpatialError
from .facts import FactsConfig
from .grounding import ObjectQuery, grounder_config_from
from .lifting import LiftConfig
from .pipeline import PipelineConfig

__all__ = ['config_dir', 'load_defaults', 'pipeline_config_from_params']


def config_dir() -> Path:
    """``share/spatialvlm_ros/config`` of an installed package, else the source tree's ``config/``."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            share = Path(get_package_share_directory('spatialvlm_ros')) / 'config'
            if share.is_dir():
                return share
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset (no sourced install)
            pass
    except ImportError:
        pass
    src = Path(__file__).resolve().parents[2] / 'config'
    if src.is_dir():
        return src
    msg = 'cannot find the spatialvlm_ros config directory; build with colcon or run from the source tree'
    raise FileNotFoundError(msg)


def load_defaults(file_name: str, node_name: str) -> dict:
    """The ``ros__parameters`` of ``node_name`` in ``config/<file_name>``."""
    path = config_dir() / file_name
    import yaml

    doc = yaml.safe_load(path.read_text())
    try:
        return dict(doc[node_name]['ros__parameters'])
    except (KeyError, TypeError) as err:
        raise KeyError(f'{path} has no {node_name}: ros__parameters: section') from err


def _names(entries) -> list[str]:
    """A string-array parameter without its empty entries ([''] is how launch files say "none")."""
    return [e for e in entries if e]


def pipeline_config_from_params(p: Mapping) -> PipelineConfig:
    """Raises SpatialError(kind='params') naming the parameter that is wrong."""
    names, prompts = list(p['object_names']), list(p['object_prompts'])
    if len(names) != len(prompts):
        raise SpatialError(
            f'object_names has {len(names)} entries but object_prompts has {len(prompts)}; give one prompt per name',
            kind='params',
        )
    # the selected grounder's own options only (weights load only for the grounder selected)
    grounder_config = grounder_config_from(p['grounder'], p)
    lift = LiftConfig(
        erode_px=int(p['erode_px']),
        min_depth_m=float(p['min_depth_m']),
        max_depth_m=float(p['max_depth_m']),
        min_points=int(p['min_points']),
        center_mode=str(p['center_mode']),
        grip_height_m=float(p.get('grip_height_m', LiftConfig.grip_height_m)),
        grip_depth_m=float(p.get('grip_depth_m', LiftConfig.grip_depth_m)),
        grip_palm_m=float(p.get('grip_palm_m', LiftConfig.grip_palm_m)),
    )
    flat = _names(p['flat_objects'])
    unknown = sorted(set(flat) - set(names))
    if unknown:
        raise SpatialError(f'flat_objects names {unknown} that are not in object_names {names}', kind='params')
    entries = _names(p.get('object_center_modes', []))
    modes = dict(e.split('=', 1) for e in entries if '=' in e)
    bad = [e for e in entries if '=' not in e] + sorted(set(modes) - set(names))
    if bad:
        raise SpatialError(f'object_center_modes: expected name=mode with names from {names}, got {bad}',
                           kind='params')
    up = list(p.get('up_rotation', []))
    return PipelineConfig(
        queries=tuple(ObjectQuery(name=n, prompt=pr) for n, pr in zip(names, prompts)),
        grounder=p['grounder'],
        grounder_config=grounder_config,
        lift=lift,
        lift_overrides={**{n: dataclasses.replace(lift, center_mode=m) for n, m in modes.items()},
                        **{n: dataclasses.replace(lift, center_mode='flat') for n in flat}},
        base_rotation=tuple(float(v) for v in up) if len(up) == 9 else None,
        facts=FactsConfig(margin_m=float(p['fact_margin_m'])),
    )
