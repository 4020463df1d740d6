"""Stream camera frames from a bag into the live nodes over DDS and collect what they publish.

Used by ``spatialvlm demo`` and the end-to-end tests: the nodes under test are the real ones,
in their own processes, talking over loopback DDS.
"""

from __future__ import annotations

import array
import threading
import time
from dataclasses import dataclass, field

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float32, String

from ..messages import serialize

__all__ = ['image_msg', 'camera_info_msg', 'point_msg', 'ReplayNode', 'Collected']


def _stamp(dst, src) -> None:
    dst.header.stamp.sec = int(src.header.stamp.sec)
    dst.header.stamp.nanosec = int(src.header.stamp.nanosec)
    dst.header.frame_id = str(src.header.frame_id)


def image_msg(src) -> Image:
    """sensor_msgs/Image (rclpy) from any Image-like message (rosbags dataclass)."""
    out = Image()
    _stamp(out, src)
    out.height, out.width, out.step = int(src.height), int(src.width), int(src.step)
    out.encoding, out.is_bigendian = str(src.encoding), int(src.is_bigendian)
    data = src.data
    out.data = array.array('B', data.tobytes() if hasattr(data, 'tobytes') else bytes(data))
    return out


def camera_info_msg(src) -> CameraInfo:
    out = CameraInfo()
    _stamp(out, src)
    out.height, out.width = int(src.height), int(src.width)
    out.distortion_model = str(src.distortion_model)
    out.d = [float(v) for v in src.d]
    out.k = [float(v) for v in src.k]
    out.r = [float(v) for v in src.r]
    out.p = [float(v) for v in src.p]
    return out


def point_msg(src) -> PointStamped:
    out = PointStamped()
    _stamp(out, src)
    out.point.x, out.point.y, out.point.z = float(src.point.x), float(src.point.y), float(src.point.z)
    return out


@dataclass
class Collected:
    """What the nodes published, keyed by the source frame's stamp."""

    rewards: dict = field(default_factory=dict)  # stamp_ns -> reward detail doc
    facts: dict = field(default_factory=dict)  # stamp_ns -> facts doc
    reward_values: list = field(default_factory=list)  # the Float32 stream, in arrival order
    received_at: dict = field(default_factory=dict)  # stamp_ns -> perf_counter when the reward detail came
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReplayNode(Node):
    """Publishes colour/depth/camera_info; subscribes to facts, reward and reward detail."""

    def __init__(
        self,
        color_topic: str = '/camera/color/image_raw',
        depth_topic: str = '/camera/depth/image_raw',
        info_topic: str = '/camera/color/camera_info',
        ee_topic: str = '/robot/ee_position',
        facts_topic: str = '/spatial_facts/facts',
        reward_topic: str = '/reward/reward',
        detail_topic: str = '/reward/detail',
        depth: int = 50,
    ) -> None:
        super().__init__('spatialvlm_replay')
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {
            'color': self.create_publisher(Image, color_topic, qos),
            'depth': self.create_publisher(Image, depth_topic, qos),
            'info': self.create_publisher(CameraInfo, info_topic, qos),
        }
        self.ee_pub = self.create_publisher(PointStamped, ee_topic, qos)
        self.collected = Collected()
        self.create_subscription(String, facts_topic, self._on_facts, qos)
        self.create_subscription(String, detail_topic, self._on_detail, qos)
        self.create_subscription(Float32, reward_topic, self._on_reward, qos)
        self._subs_topics = (facts_topic, detail_topic, reward_topic)
        self.warmup_ms: float | None = None

    def connected(self) -> bool:
        """True once every publisher has a subscriber and every subscription a publisher."""
        pubs_ok = all(p.get_subscription_count() > 0 for p in self.pubs.values())
        subs_ok = all(self.count_publishers(t) > 0 for t in self._subs_topics)
        return pubs_ok and subs_ok

    def publish_frame(self, color: Image, depth: Image, info: CameraInfo, ee: PointStamped | None = None) -> None:
        if ee is not None:  # first: the node looks the gripper up when the images complete a frame
            self.ee_pub.publish(ee)
        self.pubs['info'].publish(info)
        self.pubs['depth'].publish(depth)
        self.pubs['color'].publish(color)

    def _on_facts(self, msg: String) -> None:
        doc = serialize.loads(msg.data)
        with self.collected.lock:
            self.collected.facts[int(doc['stamp_ns'])] = doc

    def _on_detail(self, msg: String) -> None:
        now = time.perf_counter()
        doc = serialize.loads(msg.data)
        with self.collected.lock:
            self.collected.rewards[int(doc['stamp_ns'])] = doc
            self.collected.received_at[int(doc['stamp_ns'])] = now

    def _on_reward(self, msg: Float32) -> None:
        with self.collected.lock:
            self.collected.reward_values.append(float(msg.data))
