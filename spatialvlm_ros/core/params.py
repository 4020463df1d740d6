"""The ``spatial_facts`` parameters (config/spatial_facts.yaml) -> a PipelineConfig.

One mapping for the live node and the offline labeller, so a labelled bag gets exactly the
objects, facts and rewards the robot would have published. Plain dict in, no ROS.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from .errors import SpatialError
from .facts import FactsConfig
from .grounding import OPEN_VOCAB_KINDS, ObjectQuery
from .lifting import lift_config_from_params
from .pipeline import PipelineConfig

__all__ = ['pipeline_config_from_params']


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
    grounder_config = {'min_pixels': int(p['min_pixels'])}
    if p['grounder'] == 'color':
        grounder_config.update(min_saturation=int(p['min_saturation']), min_value=int(p['min_value']))
    elif p['grounder'] in OPEN_VOCAB_KINDS:  # weights load only for the grounder selected
        grounder_config.update(model=str(p['detector_model']), segmenter_model=str(p['segmenter_model']),
                               device=str(p['model_device']), dtype=str(p['model_dtype']),
                               threshold=float(p['detection_threshold']))
    lift = lift_config_from_params(p)
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
