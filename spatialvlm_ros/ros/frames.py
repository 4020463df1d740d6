"""Where results are expressed: the camera optical frame, or a target frame (base_link) via a
static extrinsic, a pose topic, or tf2 when it is installed; looked up at each frame's stamp."""

from __future__ import annotations

from typing import Optional

from ..core.transform import RigidTransform, TransformBuffer, TransformError, quaternion_to_matrix
from ..core.types import stamp_to_ns
from .errors import NodeError

__all__ = ['TRANSFORM_SOURCES', 'FrameResolver']

TRANSFORM_SOURCES = ('none', 'static', 'pose_topic', 'tf')


class FrameResolver:
    """``resolve(camera_frame, stamp_ns)`` -> RigidTransform camera -> target, or None when results
    stay in the camera frame. Raises TransformError (naming both frames) when the transform for
    that stamp is not available."""

    def __init__(self, node, source: str, target_frame: str, static_transform, timeout_s: float,
                 pose_topic: str = 'camera_pose') -> None:
        if source not in TRANSFORM_SOURCES:
            raise NodeError(f'transform_source must be one of {TRANSFORM_SOURCES}, got {source!r}')
        if source != 'none' and not target_frame:
            target_frame = 'base_link'  # REP 105: the robot's base is where a known extrinsic points
        self.source, self.target = source, target_frame
        self.timeout_s = float(timeout_s)
        self._static = list(static_transform)
        if source == 'static':  # validate at start-up, not on the first frame
            RigidTransform.from_xyz_quat(self._static, target_frame, 'camera')
        self._buffer: Optional[TransformBuffer] = None
        self._tf = None
        if source == 'pose_topic':
            from geometry_msgs.msg import PoseStamped

            self._buffer = TransformBuffer(tolerance_ns=int(self.timeout_s * 1e9))
            node.create_subscription(PoseStamped, pose_topic, self._on_pose, 20)
        elif source == 'tf':
            try:
                import tf2_ros
            except ImportError as err:
                raise NodeError(
                    "transform_source 'tf' needs tf2_ros (apt install ros-$ROS_DISTRO-tf2-ros); "
                    "or use 'static' with static_transform, or 'pose_topic'"
                ) from err
            from rclpy.node import Node

            self._tf = tf2_ros.Buffer()
            # The listener gets a node of its own, spun in its own thread, so the buffer keeps filling
            # while a frame callback waits in lookup. Given ``node`` itself, spin_thread would move that
            # node into the listener's executor (a node spins in one executor): the frame callbacks and
            # the tf callbacks would share one thread, and every wait for a late transform would time out
            # (ros2/geometry2#743). The local name rule wins over a launch-wide __node rename; topic
            # remaps (/tf) still apply.
            name = f'{node.get_name()}_tf_listener'
            self._tf_node = Node(name, namespace=node.get_namespace(), context=node.context,
                                 cli_args=['--ros-args', '-r', f'__node:={name}'],
                                 enable_rosout=False, start_parameter_services=False)
            self._tf_listener = tf2_ros.TransformListener(self._tf, self._tf_node, spin_thread=True)

    def _on_pose(self, msg) -> None:
        if msg.header.frame_id and msg.header.frame_id != self.target:
            return  # a pose in another frame is not ours to use
        q = msg.pose.orientation
        p = msg.pose.position
        self._buffer.add(RigidTransform(quaternion_to_matrix((q.x, q.y, q.z, q.w)), (p.x, p.y, p.z),
                                        self.target, '', stamp_to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)))

    def resolve(self, camera_frame: str, stamp_ns: int) -> Optional[RigidTransform]:
        if self.source == 'none':
            return None
        if self.source == 'static':
            return RigidTransform.from_xyz_quat(self._static, self.target, camera_frame, stamp_ns)
        if self.source == 'pose_topic':
            tf = self._buffer.lookup(stamp_ns)
            if tf is None:
                raise TransformError(
                    f'no camera pose in {self.target!r} within {self.timeout_s} s of frame {stamp_ns} '
                    f'(camera frame {camera_frame!r}); is the pose topic publishing, with stamps on the same clock?',
                    kind='transform',
                )
            return RigidTransform(tf.rotation, tf.translation, self.target, camera_frame, stamp_ns)
        return self._lookup_tf(camera_frame, stamp_ns)

    def _lookup_tf(self, camera_frame: str, stamp_ns: int) -> RigidTransform:
        from rclpy.duration import Duration
        from rclpy.time import Time

        try:
            t = self._tf.lookup_transform(self.target, camera_frame, Time(nanoseconds=stamp_ns),
                                          timeout=Duration(seconds=self.timeout_s))
        except Exception as err:  # tf2 raises several exception types
            raise TransformError(
                f'no transform {self.target!r} <- {camera_frame!r} at {stamp_ns} ns within {self.timeout_s} s: {err}',
                kind='transform',
            ) from err
        q, p = t.transform.rotation, t.transform.translation
        return RigidTransform(quaternion_to_matrix((q.x, q.y, q.z, q.w)), (p.x, p.y, p.z), self.target,
                              camera_frame, stamp_ns)
