"""Parameter declaration (``ros.params``): defaults and types from the package's YAML, one description per
parameter, the two required to agree; in-process on a private rclpy context."""
from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')
from rcl_interfaces.msg import ParameterType  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from spatialvlm_ros.ros.params import declare_parameters, load_defaults, read_parameters  # noqa: E402

DEFAULTS = {'flag': True, 'count': 3, 'ratio': 0.5, 'name': 'x', 'names': ['a', 'b'], 'ids': [1, 2],
            'ratios': [0.1], 'flags': [False]}
TYPES = {'flag': ParameterType.PARAMETER_BOOL, 'count': ParameterType.PARAMETER_INTEGER,
         'ratio': ParameterType.PARAMETER_DOUBLE, 'name': ParameterType.PARAMETER_STRING,
         'names': ParameterType.PARAMETER_STRING_ARRAY, 'ids': ParameterType.PARAMETER_INTEGER_ARRAY,
         'ratios': ParameterType.PARAMETER_DOUBLE_ARRAY, 'flags': ParameterType.PARAMETER_BOOL_ARRAY}


@pytest.fixture
def node(ros_context):
    n = Node('params_test', context=ros_context)
    yield n
    n.destroy_node()


def test_parameters_get_their_default_type_and_description(node):
    declare_parameters(node, {k: f'what {k} does' for k in DEFAULTS}, DEFAULTS)
    assert read_parameters(node, DEFAULTS) == DEFAULTS
    for name, ptype in TYPES.items():
        d, = node.describe_parameters([name])
        assert (d.type, d.description) == (ptype, f'what {name} does'), name
    # the declared type holds: a value of another type is refused
    refused, = node.set_parameters([Parameter('count', value='three')])
    assert not refused.successful and 'type' in refused.reason
    assert node.set_parameters([Parameter('count', value=4)])[0].successful
    assert read_parameters(node, ['count']) == {'count': 4}


def test_descriptions_and_defaults_must_agree(node):
    with pytest.raises(KeyError, match=r"no default for \['b'\], undocumented \['c'\]"):
        declare_parameters(node, {'a': 'the a', 'b': 'the b'}, {'a': 1, 'c': 2})
    assert not node.has_parameter('a')  # nothing declared


@pytest.mark.parametrize('module, file_name, node_name', [
    ('spatialvlm_ros.ros.reward_node', 'reward.yaml', 'reward'),
])
def test_a_nodes_descriptions_match_its_yaml(node, module, file_name, node_name):
    import importlib

    descriptions = importlib.import_module(module).PARAMETERS
    defaults = load_defaults(file_name, node_name)
    declare_parameters(node, descriptions, defaults)
    assert read_parameters(node, descriptions) == defaults
    with pytest.raises(KeyError, match=r'has no nope: ros__parameters: section'):
        load_defaults(file_name, 'nope')


def test_an_empty_list_default_is_a_string_array(node):
    declare_parameters(node, {'nothing': 'an empty list'}, {'nothing': []})
    assert node.describe_parameters(['nothing'])[0].type == ParameterType.PARAMETER_STRING_ARRAY
    assert node.get_parameter('nothing').value == []
    assert node.set_parameters([Parameter('nothing', value=['gripper'])])[0].successful
    assert node.get_parameter('nothing').value == ['gripper']


def test_an_empty_list_default_keeps_a_value_the_user_gave(ros_context):
    n = Node('params_override_test', context=ros_context,
             parameter_overrides=[Parameter('nothing', value=['cup', 'bowl'])])
    try:
        declare_parameters(n, {'nothing': 'an empty list'}, {'nothing': []})
        assert n.get_parameter('nothing').value == ['cup', 'bowl']
        assert n.describe_parameters(['nothing'])[0].type == ParameterType.PARAMETER_STRING_ARRAY
    finally:
        n.destroy_node()
