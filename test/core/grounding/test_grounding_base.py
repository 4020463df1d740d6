"""The grounder registry as the one source of a grounder's options: every config declares its
options, a grounder registered here (and removed after) shows up everywhere without another edit,
and unknown options or kinds are refused naming the known ones."""

from dataclasses import dataclass

import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import (
    GROUNDERS,
    SEGMENTERS,
    SegmenterConfig,
    grounder_config_from,
    grounder_options,
    make_grounder,
    register_grounder,
)
from spatialvlm_ros.core.options import option, options_of
from spatialvlm_ros.core.params import load_defaults, pipeline_config_from_params
from support.registries import check_declared


@pytest.mark.parametrize('kind', sorted(GROUNDERS))
def test_every_grounder_declares_its_options(kind):
    cls = GROUNDERS[kind]
    check_declared(cls.config_type)
    assert isinstance(cls.loads_model, bool)


def test_segmenters_declare_their_options():
    check_declared(SegmenterConfig)
    assert {'sam', 'sam2'} <= set(SEGMENTERS) and all(c.example for c in SEGMENTERS.values())


def test_grounder_options_are_the_union_under_the_node_parameter_names():
    opts = grounder_options()
    node_params = {**load_defaults('spatial_facts.yaml', 'spatial_facts'), 'object_names': ['block'], 'object_prompts': ['red block']}
    # the spatial_facts parameter names are the grounders' option names (one name per option)
    for name in ('detector_model', 'segmenter_model', 'model_device', 'model_dtype', 'detection_threshold',
                 'min_saturation', 'min_value', 'min_pixels'):
        assert name in opts and name in node_params
        assert isinstance(node_params[name], opts[name].type)
    assert opts['model_device'].default == 'auto' and opts['min_pixels'].type is int
    assert opts['detector_model'].default is None  # owlv2 and grounding_dino disagree: the node's YAML decides
    threshold = opts['detection_threshold'].doc
    assert threshold.startswith('grounding_dino: ') and 'owlv2: ' in threshold
    assert opts['min_saturation'].doc.startswith('color: ')
    assert opts['min_pixels'].doc == 'Fewest mask pixels for an object to count as found.'  # every grounder has it
    assert sorted(k for k, c in GROUNDERS.items() if c.loads_model) == ['grounding_dino', 'owlv2']


@pytest.fixture
def throwaway():
    """A grounder registered for one test and removed after it."""

    @dataclass(frozen=True)
    class ThrowawayConfig:
        min_pixels: int = option(7, 'Fewest mask pixels for an object to count as found.')
        sharpness: float = option(0.5, 'How sharp the throwaway grounder looks (0-1).')

    class ThrowawayGrounder:
        config_type = ThrowawayConfig
        loads_model = False

        def __init__(self, config):
            self.config = config

        def ground(self, frame, queries):
            return {q.name: None for q in queries}

    register_grounder('throwaway')(ThrowawayGrounder)
    try:
        yield ThrowawayGrounder
    finally:
        del GROUNDERS['throwaway']


def test_a_new_grounder_shows_up_without_another_edit(throwaway):
    opts = grounder_options()
    assert opts['sharpness'].doc == 'throwaway: How sharp the throwaway grounder looks (0-1).'
    assert opts['sharpness'].default == 0.5
    params = {**{**load_defaults('spatial_facts.yaml', 'spatial_facts'), 'object_names': ['block'], 'object_prompts': ['red block']}, 'grounder': 'throwaway', 'sharpness': 1}
    # only its own options, coerced (a ROS integer for a float option)
    assert grounder_config_from('throwaway', params) == {'min_pixels': 30, 'sharpness': 1.0}
    config = pipeline_config_from_params(params)
    assert config.grounder == 'throwaway' and config.grounder_config == {'min_pixels': 30, 'sharpness': 1.0}
    g = make_grounder('throwaway', sharpness=0.25)
    assert isinstance(g, throwaway) and g.config.sharpness == 0.25
    with pytest.raises(GroundingError, match=r"unknown option\(s\) \['sharp'\] for grounder 'throwaway'; its "
                                             r"options are \['min_pixels', 'sharpness'\]"):
        make_grounder('throwaway', sharp=1.0)


def test_the_selected_grounder_takes_only_its_own_options():
    params = {**load_defaults('spatial_facts.yaml', 'spatial_facts'), 'object_names': ['block'], 'object_prompts': ['red block']}
    color = pipeline_config_from_params(params).grounder_config
    assert set(color) == {o.name for o in options_of(GROUNDERS['color'].config_type)}
    assert (color['min_saturation'], color['min_value'], color['min_pixels']) == (100, 60, 30)
    owl = pipeline_config_from_params({**params, 'grounder': 'owlv2'}).grounder_config
    assert set(owl) == {o.name for o in options_of(GROUNDERS['owlv2'].config_type)}
    assert {k: owl[k] for k in ('segmenter_model', 'model_device', 'detector_model', 'detection_threshold')} == {
        'segmenter_model': 'facebook/sam-vit-base', 'model_device': 'auto',
        'detector_model': 'google/owlv2-base-patch16-ensemble', 'detection_threshold': 0.1}
    assert pipeline_config_from_params({**params, 'grounder': 'mask'}).grounder_config == {'min_pixels': 30}
    with pytest.raises(GroundingError, match=r"unknown grounder kind 'sam'; known kinds: \['color', "):
        pipeline_config_from_params({**params, 'grounder': 'sam'})


def test_registration_is_checked():
    @dataclass(frozen=True)
    class C:
        min_pixels: float = option(1.0, 'A min_pixels of another type than every other grounder.')

    class NoModelFlag:
        config_type = C

    with pytest.raises(GroundingError, match='must declare loads_model'):
        register_grounder('bad')(NoModelFlag)
    NoModelFlag.loads_model = False
    register_grounder('bad')(NoModelFlag)
    try:
        with pytest.raises(GroundingError, match="option 'min_pixels' has different types"):
            grounder_options()
    finally:
        del GROUNDERS['bad']
