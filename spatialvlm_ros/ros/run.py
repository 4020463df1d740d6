"""The one ``main`` body every node shares: init, spin, and a clean shutdown on Ctrl-C or SIGTERM.

``try_shutdown`` in ``finally`` works on Humble, Jazzy and Kilted alike.
"""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException

__all__ = ['run_node']


def run_node(node_factory, args=None, executor_factory=None) -> None:
    """Create the node with ``node_factory()`` and spin it (in ``executor_factory()`` if given:
    executors need an initialised context) until shutdown; always destroys it."""
    rclpy.init(args=args)
    node = None
    try:
        node = node_factory()
        rclpy.spin(node, executor=None if executor_factory is None else executor_factory())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
