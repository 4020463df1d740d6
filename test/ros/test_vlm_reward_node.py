"""vlm_reward node parameters come from the backend registry with their YAML defaults."""
import pytest
rclpy = pytest.importorskip('rclpy')


def test_backend_parameters_come_from_the_registry_with_their_yaml_defaults():
    """Every backend option the node exposes is described by the registry, and its YAML default is
    the default of each backend declaring it, or DEFAULT_OVERRIDES says why not."""
    from spatialvlm_ros.core.params import load_defaults
    from spatialvlm_ros.ros import vlm_reward_node as node
    from spatialvlm_ros.ros.errors import NodeError
    from spatialvlm_ros.vlm import backend_options, image_backends, merged_backend_options

    exposed = merged_backend_options(image_backends())
    assert set(node.BACKEND_PARAMETERS) == set(exposed)
    assert all(node.PARAMETERS[n] == o.doc for n, o in exposed.items())
    defaults = load_defaults('vlm_reward.yaml', 'vlm_reward')
    differing = set()
    for kind in image_backends():
        for o in backend_options(kind):
            value = defaults[o.name]
            assert isinstance(value, list if o.type is tuple else o.type) or (o.type is float and type(value) is int)
            if value != o.default:
                differing.add(o.name)
    assert differing == set(node.DEFAULT_OVERRIDES), 'a YAML default differs from its backend default: say why'
    assert all(len(why) > 15 for why in node.DEFAULT_OVERRIDES.values())
    kind, options = node.backend_config({**defaults, 'backend': 'openai'})
    assert kind == 'openai' and options['max_new_tokens'] == 64 and 'device' not in options
    with pytest.raises(NodeError, match=r"backend must be one of \['llava', 'openai', 'qwen2_5_vl'\], got 'geometry'"):
        node.backend_config({**defaults, 'backend': 'geometry'})
