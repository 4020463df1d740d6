"""Lifecycle for the nodes that hold a model (spatial_facts with an open-vocabulary grounder,
vlm_reward with a local VLM): load on configure, subscribe on activate, free on cleanup.

``autostart`` (default true) configures and activates the node at start-up, so ``ros2 run`` and
a plain launch file work as with any node; with ``autostart: false`` the node waits in
*unconfigured* for a lifecycle manager (``ros2 lifecycle set /spatial_facts configure``). A
configure that fails (a model path that does not exist, a bad parameter) logs why and returns
FAILURE: the node stays up, unconfigured, and can be configured again once the cause is fixed.
Diagnostics are published in every state, so a manager sees the state and the last failure.
A shutdown transition (``ros2 lifecycle set /spatial_facts shutdown``) stops the inputs, frees the
model and leaves the node *finalized*; :func:`.run.run_node` then ends the process with exit code 0.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from ..core.errors import SpatialVLMError
from .health import NodeHealth, steady_timer
from .params import declare_parameters, load_defaults, read_parameters

__all__ = ['AUTOSTART', 'start', 'ModelNode']

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


class ModelNode(LifecycleNode):
    """The lifecycle every model-holding node shares; a node supplies four steps:

    - ``_configure(params)``: build everything the parameters decide (the model included) and the
      lifecycle publishers; raise to refuse (the reason is logged and shown in /diagnostics);
    - ``_start_inputs()`` / ``_stop_inputs()``: subscriptions, timers and threads of the active state;
    - ``_release()``: free what configure made (idempotent: also called after a failed configure).

    ``health`` (NodeHealth) and ``diag_pub`` exist in every state; ``_publish_diagnostics`` is
    called on a steady timer from the start, so a manager sees the state and why a configure failed.
    """

    def __init__(self, node_name: str, parameters: dict, params_file: str, health_name: str, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self._parameter_names = tuple(parameters)
        declare_parameters(self, parameters, load_defaults(params_file, node_name))
        self.health = NodeHealth(self, health_name)
        self.lifecycle_state = 'unconfigured'
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        steady_timer(self, self.get_parameter('diagnostics_period_s').value, self._publish_diagnostics)

    def on_configure(self, state) -> TransitionCallbackReturn:
        try:
            self._configure(read_parameters(self, self._parameter_names))
        except Exception as err:  # noqa: BLE001 - a failed configure is reported, the node stays up
            self._release()
            # Our own errors say what to do; anything else is named by its type.
            ours = isinstance(err, SpatialVLMError)
            self.health.reject('configure', str(err) if ours else f'{type(err).__name__}: {err}')
            self.get_logger().error(f'cannot configure: {err}')
            return TransitionCallbackReturn.FAILURE
        self.lifecycle_state = 'inactive'
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        self._start_inputs()
        self.lifecycle_state = 'active'
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self._stop_inputs()
        self.lifecycle_state = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self._release()
        self.lifecycle_state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self._stop_inputs()
        self._release()
        self.lifecycle_state = 'finalized'
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        # Model weights hold (GPU) memory: free them with the node, not at process exit.
        self._stop_inputs()
        self._release()
        super().destroy_node()

    def _release_publishers(self, *names: str) -> None:
        """Destroy the lifecycle publishers held in these attributes (None when absent)."""
        for name in names:
            pub = getattr(self, name, None)
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
            setattr(self, name, None)
