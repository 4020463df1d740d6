"""The model-holding nodes are lifecycle nodes: nothing is subscribed before activate, a failed
configure (bad parameter, model that does not exist) leaves the node up and unconfigured with the
reason in /diagnostics, it can then be configured again, and cleanup frees the model."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@pytest.fixture
def ctx(ros_context):
    return ros_context


def _facts_node(ctx, ns, **params):
    from spatialvlm_ros.ros.spatial_facts_node import SpatialFactsNode

    params.setdefault('task', 'pick_and_place')
    return SpatialFactsNode(context=ctx, namespace=ns,
                            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def _subscribed(node, topic: str) -> bool:
    return any(s.topic_name == topic for s in node.subscriptions)


def _diag(node) -> dict:
    return {kv.key: kv.value for kv in node.health.status({'lifecycle_state': node.lifecycle_state}).values}


def test_spatial_facts_waits_for_a_manager_and_frees_on_cleanup(ctx):
    node = _facts_node(ctx, '/lc_a', autostart=False)
    try:
        color = '/lc_a/color/image_raw'
        assert node.lifecycle_state == 'unconfigured' and node.step is None
        assert not _subscribed(node, color)
        assert node.trigger_configure() == SUCCESS
        assert node.step is not None and node.lifecycle_state == 'inactive'
        assert not _subscribed(node, color)  # configured, but no input is taken before activate
        assert node.trigger_activate() == SUCCESS
        assert all(_subscribed(node, f'/lc_a/{t}') for t in
                   ('color/image_raw', 'depth/image_raw', 'color/camera_info'))
        assert node.trigger_deactivate() == SUCCESS
        assert not _subscribed(node, color)
        assert node.trigger_cleanup() == SUCCESS
        assert node.step is None and node.objects_pub is None
        # and again, as a manager would after a parameter change
        assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
        assert _subscribed(node, color)
    finally:
        node.destroy_node()


def test_spatial_facts_autostart_is_active_at_once(ctx):
    node = _facts_node(ctx, '/lc_b')
    try:
        assert node.lifecycle_state == 'active'
        assert _subscribed(node, '/lc_b/depth/image_raw')
    finally:
        node.destroy_node()


def test_the_readme_ros2_run_example_reaches_active(ctx):
    """`ros2 run spatialvlm_ros spatial_facts_node --ros-args -p object_names:="[cup]" -p object_prompts:="[red cup]"`:
    objects without a task, the generic defaults ask for nothing else."""
    from spatialvlm_ros.ros.spatial_facts_node import SpatialFactsNode

    node = SpatialFactsNode(context=ctx, namespace='/lc_cup', parameter_overrides=[
        Parameter('object_names', value=['cup']), Parameter('object_prompts', value=['red cup'])])
    try:
        assert node.lifecycle_state == 'active', _diag(node).get('last_error_configure')
        assert [(q.name, q.prompt) for q in node.step.config.queries] == [('cup', 'red cup')]
        assert node.step.task is None and node.step.config.lift_overrides == {}
    finally:
        node.destroy_node()


@pytest.mark.parametrize('params, says', [
    ({'task': ''}, 'no objects to find: set the task parameter'),
    ({'object_names': ['cup'], 'object_prompts': ['red cup']}, "task 'pick_and_place' needs the objects"),
    ({'color_transport': 'jpeg'}, "color_transport must be one of ['raw', 'compressed']"),
])
def test_configure_says_which_parameter_to_change(ctx, params, says):
    node = _facts_node(ctx, '/lc_says', **params)
    try:
        assert node.lifecycle_state == 'unconfigured'
        assert says in _diag(node)['last_error_configure']
    finally:
        node.destroy_node()


def test_failed_configure_keeps_the_node_up_with_the_reason_and_can_be_retried(ctx):
    node = _facts_node(ctx, '/lc_c', kinematic_objects=['robot_arm'])  # not one of the task's objects
    try:
        assert node.lifecycle_state == 'unconfigured' and node.step is None
        diag = _diag(node)
        assert diag['lifecycle_state'] == 'unconfigured'
        assert "kinematic_objects ['robot_arm'] are not among the objects" in diag['last_error_configure']
        assert node.health.status().level == node.health.status().ERROR
        node.set_parameters([Parameter('kinematic_objects', value=['gripper'])])
        assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
        assert node.lifecycle_state == 'active'
    finally:
        node.destroy_node()


def test_missing_model_fails_configure_naming_the_path(ctx, tmp_path):
    pytest.importorskip('transformers')
    missing = tmp_path / 'no_such_owlv2'
    node = _facts_node(ctx, '/lc_d', grounder='owlv2', detector_model=str(missing), segmenter_model='',
                       model_device='cpu', autostart=False)
    try:
        assert node.trigger_configure() == FAILURE
        assert node.step is None and node.lifecycle_state == 'unconfigured'
        assert str(missing) in node.health.last_error['configure']
    finally:
        node.destroy_node()


class _Backend:
    """Records close(); never asked here (no frames are sent)."""

    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_vlm_reward_lifecycle_closes_the_backend_and_reports_bad_parameters(ctx):
    from spatialvlm_ros.ros.vlm_reward_node import VLMRewardNode

    backend = _Backend()
    node = VLMRewardNode(backend=backend, context=ctx, namespace='/lc_v',
                         parameter_overrides=[Parameter('fallback', value='guess'), Parameter('autostart', value=False)])
    try:
        assert node.trigger_configure() == FAILURE
        assert "fallback must be one of ('none', 'depth'), got 'guess'" in node.health.last_error['configure']
        assert node.backend is None and node.lifecycle_state == 'unconfigured'
        node.set_parameters([Parameter('fallback', value='depth')])
        assert node.trigger_configure() == SUCCESS and node.backend is backend
        assert not _subscribed(node, '/lc_v/color/image_raw')
        assert node.trigger_activate() == SUCCESS
        assert _subscribed(node, '/lc_v/color/image_raw') and node.worker is not None
        assert node.trigger_deactivate() == SUCCESS
        assert not _subscribed(node, '/lc_v/color/image_raw') and node.worker is None
        assert node.trigger_cleanup() == SUCCESS
        assert backend.closed == 1 and node.backend is None
    finally:
        node.destroy_node()
    assert backend.closed == 1  # freed once, not again on destroy
