"""core.config_files: the package's config/ directory (source tree or installed share) and node defaults."""

from __future__ import annotations

import pytest

from spatialvlm_ros.core.config_files import config_dir, load_defaults


def test_config_dir_holds_the_node_defaults_and_tasks():
    assert (config_dir() / 'spatial_facts.yaml').is_file() and (config_dir() / 'tasks' / 'pick_and_place.yaml').is_file()
    defaults = load_defaults('spatial_facts.yaml', 'spatial_facts')
    assert defaults['task'] == '' and defaults['grounder'] == 'color'


def test_a_missing_node_section_names_the_file():
    with pytest.raises(KeyError, match=r'spatial_facts.yaml has no reward: ros__parameters: section'):
        load_defaults('spatial_facts.yaml', 'reward')
