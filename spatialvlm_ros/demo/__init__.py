"""``spatialvlm demo``: a simulated episode through the real nodes over DDS, scored against ground truth.

- :mod:`.processes`: the nodes as processes on a private, loopback-only ROS graph;
- :mod:`.run`: record (or reuse) the episode, stream it to the nodes, score what they publish.
"""

from .processes import DemoError, ros_environment, start_node, start_nodes
from .run import kinematic_gripper_params, run_demo, stream_bag

__all__ = ['DemoError', 'ros_environment', 'start_node', 'start_nodes', 'kinematic_gripper_params', 'run_demo',
           'stream_bag']
