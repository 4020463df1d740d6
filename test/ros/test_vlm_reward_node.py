"""The vlm_reward node in its own process over loopback DDS, with a local chat-completions
server as its VLM: rewards from the VLM's distances stamped with their frame, the depth
cross-check, fallback to depth when the server fails, and questions over ROS."""
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
import numpy as np
import pytest
rclpy = pytest.importorskip('rclpy')
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Harness  # noqa: E402
from test_vlm_openai import ChatServer  # noqa: E402


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
