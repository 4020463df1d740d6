"""Lifecycle for the nodes that hold a model (spatial_facts with an open-vocabulary grounder,
vlm_reward with a local VLM): load on configure, subscribe on activate, free on cleanup.

``autostart`` (default true) configures and activates the node at start-up, so ``ros2 run`` and
a plain launch file work as with any node; with ``autostart: false`` the node waits in
*unconfigured* for a lifecycle manager (``ros2 lifecycle set /spatial_facts configure``). A
configure that fails (a model path that does not exist, a bad parameter) logs why and returns
FAILURE: the node stays up, unconfigured, and can be configured again once the cause is fixed.
Diagnostics are published in every state, so a manager sees the state and the last failure.
"""

from __future__ import annotations

from rclpy.lifecycle import TransitionCallbackReturn

__all__ = ['AUTOSTART', 'start']

AUTOSTART = ('Configure and activate at start-up (true: ros2 run / plain launch); false: wait in unconfigured '
             'for a lifecycle manager.')


def start(node) -> bool:
    """Configure and activate ``node`` now when its ``autostart`` parameter is true. True when active."""
    if not node.get_parameter('autostart').value:
        node.get_logger().info('autostart is false: waiting for a lifecycle manager to configure and activate')
        return False
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        return False
    return node.trigger_activate() == TransitionCallbackReturn.SUCCESS
