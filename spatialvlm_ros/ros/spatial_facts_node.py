"""spatial_facts node: RGB-D in, 3D objects, spatial facts and RViz markers out.

Subscribes (relative names; remap in launch):
    color/image_raw    sensor_msgs/Image        rgb8/bgr8/rgba8/bgra8/mono8
    depth/image_raw    sensor_msgs/Image        16UC1 mm or 32FC1 m, registered to colour
    color/camera_info  sensor_msgs/CameraInfo   of the colour stream
Publishes:
    ~/objects   std_msgs/String (JSON, core.serialize objects document)
    ~/facts     std_msgs/String (JSON, core.serialize facts document)
    ~/markers   visualization_msgs/MarkerArray
    ~/debug_image  sensor_msgs/Image (rgb8; masks, boxes, distances), when publish_debug_image
    /diagnostics
Every output carries the colour image's header stamp; objects and markers are in
``target_frame`` when a camera-to-target transform is configured, else in the camera frame.
A lifecycle node (:class:`.lifecycle.ModelNode`): the pipeline (and an open-vocabulary grounder's
weights) is built on configure, inputs are subscribed on activate; ``autostart`` does both at once.
"""

from __future__ import annotations

import dataclasses
import time

from rclpy.event_handler import SubscriptionEventCallbacks
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from ..messages import serialize
from ..core.errors import SpatialError
from ..core.params import pipeline_config_from_params
from ..core.pipeline import SpatialPipeline
from ..core.sizes import gravity_extents
from ..messages.image_codec import encode_image
from ..messages.sync import ApproximateTimeSync
from ..core.transform import StampedBuffer, TransformError, kinematic_observation, transform_observation
from ..messages.bag import rclpy_message
from ..messages.convert import frame_from_msgs, header_stamp_ns
from ..messages.debug_image import draw_debug
from ..messages.markers import marker_array
from .frames import FrameResolver
from .health import steady_timer
from .inputs import InputMonitor
from .lifecycle import AUTOSTART, ModelNode, start
from .run import run_node
from .qos import results_qos, sensor_qos
from .errors import NodeError

__all__ = ['SpatialFactsNode', 'PARAMETERS', 'INPUT_TOPICS', 'main']

NODE_NAME = 'spatial_facts'
PARAMS_FILE = 'spatial_facts.yaml'

# Relative input names (remap them in launch), by stream.
INPUT_TOPICS = {'color': 'color/image_raw', 'depth': 'depth/image_raw', 'info': 'color/camera_info'}

PARAMETERS = {
    'object_names': 'Names of the objects to find; facts and rewards refer to objects by these names.',
    'object_prompts': 'One grounding prompt per object name, e.g. "red block" (colour grounder).',
    'grounder': "Grounder kind: 'color' (HSV colour words), 'mask' (instance-mask image), or the open-vocabulary "
                "'owlv2' / 'grounding_dino' (free-text prompts; need torch and transformers).",
    'detector_model': "Open-vocabulary grounders: detector Hugging Face id or local directory (an OWLv2 checkpoint "
                      "for 'owlv2'; for 'grounding_dino' set e.g. IDEA-Research/grounding-dino-tiny).",
    'segmenter_model': "Open-vocabulary grounders: SAM or SAM 2 checkpoint turning each box into the object's "
                       "outline (e.g. facebook/sam-vit-base, facebook/sam2.1-hiera-small); '' = the box is the mask.",
    'model_device': "Open-vocabulary grounders: 'auto' (CUDA when available), 'cuda' or 'cpu'.",
    'model_dtype': "Open-vocabulary grounders: weight dtype 'float32', 'float16' (CUDA only) or 'bfloat16'.",
    'detection_threshold': 'Open-vocabulary grounders: lowest detector score (0-1) of a box that counts as found.',
    'min_saturation': 'Colour grounder: minimum HSV saturation (0-255) of a coloured pixel.',
    'min_value': 'Colour grounder: minimum HSV value (0-255) of a coloured pixel.',
    'min_pixels': 'Fewest mask pixels for an object to count as found.',
    'erode_px': 'Mask erosion in pixels before lifting, against flying pixels at object edges.',
    'min_depth_m': 'Depth readings closer than this (metres) are invalid.',
    'max_depth_m': 'Depth readings farther than this (metres) are invalid.',
    'min_points': 'Fewest valid 3D points for an object to be measured.',
    'center_mode': "Object centre: 'support' (gravity-aligned box on the support plane), 'amodal' (ray push for "
                   "the unseen back), 'centroid' (visible surface), 'flat' (plane-completed disc or marker) or "
                   "'grip' (grasp point between a parallel gripper's fingers).",
    'object_center_modes': "Per-object centre mode as name=mode, e.g. gripper=grip (fingers around an empty grasp "
                           "point are no box on a table).",
    'grip_height_m': "'grip' mode: height of the grasp point (TCP) above the fingertips, metres (Fetch: 0.0185).",
    'grip_depth_m': "'grip' mode: the fingers' depth seen from the camera, metres (Fetch: 0.027).",
    'grip_palm_m': "'grip' mode: height of the gripper body's lower edge (where the fingers leave it, as the "
                   "camera sees it) above the grasp point, metres; used when the fingertips are hidden; 0 = off "
                   "(Fetch: 0.056).",
    'up_rotation': 'Camera-to-base rotation, 9 numbers row-major (p_base = R p_optical, base z up); [0.0] = '
                   'estimate up from the dominant horizontal plane in the depth.',
    'flat_objects': 'Flat objects (markers, discs, sheets): centre from a plane fit, completed under occluders.',
    'fact_margin_m': 'Qualitative facts (left/right, ...) are asserted only beyond this margin (metres).',
    'slop_s': 'Largest stamp difference (seconds) between colour, depth and camera_info of one frame.',
    'sync_queue_size': 'Messages kept per input stream while waiting for partners.',
    'qos_reliability': "Camera subscriptions: 'best_effort' (sensor data, matches every driver) or 'reliable'.",
    'qos_depth': 'Camera subscription queue depth.',
    'kinematic_objects': "Objects the robot knows the position of (e.g. its gripper): geometry_msgs/PointStamped "
                         "on '<name>/position' (remap to the end-effector topic) instead of grounding; '' = none.",
    'kinematic_tolerance_s': 'Largest stamp distance between a frame and the kinematic position used for it (s).',
    'publish_markers': 'Publish RViz markers on ~/markers.',
    'publish_debug_image': 'Publish ~/debug_image (masks, boxes, distances drawn on the colour image).',
    'target_frame': 'Frame for objects and markers; empty = base_link when a transform_source is set, else camera.',
    'transform_source': "Camera-to-target transform: 'none', 'static' (static_transform), 'pose_topic' or 'tf'.",
    'static_transform': 'Camera optical frame pose in target_frame: [x, y, z, qx, qy, qz, qw] (metres).',
    'transform_timeout_s': 'Largest wait (tf) or stamp distance (pose_topic) for the transform at a frame.',
    'max_rate_hz': 'Process at most this many frames per second of header time (0 = every frame).',
    'input_timeout_s': 'Warn (naming the topic and QoS problems) when an input is silent this long.',
    'diagnostics_period_s': 'Period of /diagnostics messages (seconds).',
    'autostart': AUTOSTART,
}


@dataclasses.dataclass(frozen=True)
class _StampedPoint:
    stamp_ns: int
    point: tuple
    frame_id: str

    @classmethod
    def of(cls, msg) -> '_StampedPoint':
        return cls(header_stamp_ns(msg), (msg.point.x, msg.point.y, msg.point.z), msg.header.frame_id)


class SpatialFactsNode(ModelNode):
    """A lifecycle node (:mod:`.lifecycle`): an open-vocabulary grounder's weights load on configure
    and are freed on cleanup; ``autostart`` (default) runs it at once."""

    def __init__(self, **kwargs) -> None:
        self.pipeline = None
        self._input_subs: list = []
        self._input_timer = None
        super().__init__(NODE_NAME, PARAMETERS, PARAMS_FILE, 'spatial facts', **kwargs)
        start(self)

    def _configure(self, p: dict) -> None:
        """Everything the parameters decide, the model included; subscriptions wait for activate."""
        self.p = p
        self.pipeline = SpatialPipeline(pipeline_config_from_params(p))
        self.min_depth_m, self.max_depth_m = float(p['min_depth_m']), float(p['max_depth_m'])
        self.publish_markers = bool(p['publish_markers'])
        self.sync = ApproximateTimeSync(
            ('color', 'depth', 'info'), slop_ns=int(p['slop_s'] * 1e9), queue_size=int(p['sync_queue_size'])
        )
        self.publish_debug_image = bool(p['publish_debug_image'])
        # 10 % allowance for stamp jitter: a 30 Hz camera limited to 10 Hz keeps every third frame.
        self.min_period_ns = int(0.9e9 / p['max_rate_hz']) if p['max_rate_hz'] > 0 else 0
        self._last_processed_ns: int | None = None
        self.frames = FrameResolver(self, p['transform_source'], p['target_frame'], p['static_transform'],
                                    p['transform_timeout_s'])
        self.inputs = InputMonitor(self, INPUT_TOPICS, p['qos_reliability'], p['input_timeout_s'])
        self.kinematic = {n: StampedBuffer(int(p['kinematic_tolerance_s'] * 1e9)) for n in p['kinematic_objects'] if n}
        unknown = sorted(set(self.kinematic) - {q.name for q in self.pipeline.config.queries})
        if unknown:
            raise NodeError(f'kinematic_objects {unknown} are not in object_names')
        out_qos = results_qos()
        self.objects_pub = self.create_lifecycle_publisher(String, '~/objects', out_qos)
        self.facts_pub = self.create_lifecycle_publisher(String, '~/facts', out_qos)
        self.markers_pub = self.create_lifecycle_publisher(MarkerArray, '~/markers', out_qos)
        self.debug_pub = self.create_lifecycle_publisher(Image, '~/debug_image', 2) if self.publish_debug_image else None
        names = ', '.join(f'{q.name}="{q.prompt}"' for q in self.pipeline.config.queries)
        self.get_logger().info(f'finding {names} with the {p["grounder"]} grounder')

    def _start_inputs(self) -> None:
        p = self.p
        for name, buf in self.kinematic.items():
            self._input_subs.append(self.create_subscription(
                PointStamped, f'{name}/position', lambda m, b=buf: b.add(_StampedPoint.of(m)),
                sensor_qos(p['qos_reliability'], 50)))
        qos = sensor_qos(p['qos_reliability'], int(p['qos_depth']))
        for stream, msg_type in (('color', Image), ('depth', Image), ('info', CameraInfo)):
            self._input_subs.append(self.create_subscription(
                msg_type, INPUT_TOPICS[stream], lambda m, s=stream: self._on_input(s, m), qos,
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda e, s=stream: self.inputs.on_incompatible_qos(s, e)
                ),
            ))
        self._input_timer = steady_timer(self, p['input_timeout_s'], self.inputs.check)

    def _stop_inputs(self) -> None:
        for sub in self._input_subs:
            self.destroy_subscription(sub)
        self._input_subs = []
        if self._input_timer is not None:
            self.destroy_timer(self._input_timer)
            self._input_timer = None

    def _release(self) -> None:
        """Free what configure made; a model-backed grounder's (GPU) memory with it."""
        self._release_publishers('objects_pub', 'facts_pub', 'markers_pub', 'debug_pub')
        if self.pipeline is not None:
            close = getattr(self.pipeline.grounder, 'close', None)
            if close is not None:
                close()
            self.pipeline = None

    # --- frames ------------------------------------------------------------------------------

    def _on_input(self, stream: str, msg) -> None:
        self.inputs.seen(stream)
        try:
            stamp = header_stamp_ns(msg)
        except Exception as err:  # noqa: BLE001 - a malformed message must not kill the node
            self.health.reject('malformed', f'{stream}: {err!r}')
            return
        matched = self.sync.add(stream, stamp, msg)
        if matched is None:
            return
        if self.min_period_ns and self._last_processed_ns is not None:
            # Rate limit on header stamps, not wall time: bag replay at any speed gives the same frames.
            if 0 <= stamp - self._last_processed_ns < self.min_period_ns:
                self.health.note('rate_limited', 'frames skipped by max_rate_hz')
                return
        self._last_processed_ns = stamp
        self._process(*matched)

    def _process(self, color, depth, info) -> None:
        t0 = time.perf_counter()
        try:
            frame = frame_from_msgs(color, depth, info, self.min_depth_m, self.max_depth_m)
            tf = self.frames.resolve(frame.frame_id, frame.stamp_ns)
            perceived = self.pipeline.perceive(frame, known=self._kinematic_objects(frame, tf))
            # Gravity-aligned sizes from the camera-frame observations, before any transform.
            extents = perceived.sizes or gravity_extents(perceived.objects, perceived.gravity)
            objects, out_frame = perceived.objects, frame.frame_id
            if tf is not None:
                objects = {n: (None if o is None else transform_observation(o, tf)) for n, o in objects.items()}
                out_frame = tf.parent
            # Objects first: the reward node needs only them, and starts while the facts are computed.
            self.objects_pub.publish(
                String(data=serialize.dumps(serialize.objects_to_doc(objects, frame.stamp_ns, out_frame, extents)))
            )
            result = self.pipeline.relate(perceived)
        except SpatialError as err:
            self.health.reject(err.kind, str(err))
            return
        except Exception as err:  # noqa: BLE001 - report, never die on one frame
            self.health.reject('internal', f'{type(err).__name__}: {err}')
            return
        self.facts_pub.publish(
            String(data=serialize.dumps(serialize.facts_to_doc(result.facts, frame.stamp_ns, frame.frame_id)))
        )
        if self.publish_markers:
            header = Header(stamp=color.header.stamp, frame_id=out_frame)
            self.markers_pub.publish(marker_array(rclpy_message, objects, result.facts, header))
        if self.debug_pub is not None:
            self.debug_pub.publish(self._debug_image(frame, result, color.header))
        for name in result.missing:
            self.health.note(f'not_found_{name}', f'object {name!r} not found in frame {frame.stamp_ns}')
        self.health.ok((time.perf_counter() - t0) * 1e3)

    def _kinematic_objects(self, frame, tf) -> dict:
        """The known positions at this frame's stamp, in the camera frame (None: none close enough)."""
        out = {}
        for name, buf in self.kinematic.items():
            item = buf.lookup(frame.stamp_ns)
            if item is None:
                self.health.note(f'kinematic_missing_{name}', f'no {name} position within the stamp tolerance '
                                 f'of frame {frame.stamp_ns}; is {self.resolve_topic_name(name + "/position")} '
                                 'publishing on the same clock?')
                out[name] = None
                continue
            if item.frame_id in ('', frame.frame_id):
                point = item.point
            elif tf is not None and item.frame_id == tf.parent:
                point = tf.inverse().apply(item.point)
            else:
                raise TransformError(
                    f'{name} position is in {item.frame_id!r} but no transform {item.frame_id!r} <- '
                    f'{frame.frame_id!r} is configured; set target_frame:={item.frame_id} and a transform_source',
                    kind='transform',
                )
            out[name] = kinematic_observation(name, point, frame.frame_id, frame.stamp_ns)
        return out

    def _debug_image(self, frame, result, header) -> Image:
        img = Image(header=header, encoding='rgb8')
        img.height, img.width, img.step, data, img.is_bigendian = encode_image(
            draw_debug(frame, result.objects, result.facts), 'rgb8'
        )
        img.data = data.tobytes()
        return img

    def _publish_diagnostics(self) -> None:
        extra = {'lifecycle_state': self.lifecycle_state}
        if self.pipeline is not None:
            s = self.sync.stats
            extra.update({'sync_matched': s.matched, 'sync_unpaired_dropped': s.dropped,
                          'sync_out_of_order': s.out_of_order, 'sync_time_jumps': s.time_jumps,
                          'incompatible_qos_events': self.inputs.incompatible_qos,
                          'output_frame': self.frames.target or 'camera', 'transform_source': self.frames.source,
                          'grounder': self.pipeline.config.grounder})
            model = self.pipeline.config.grounder_config.get('model')
            if model:  # open-vocabulary grounders: which weights are loaded, and where
                extra.update(model=model, model_device=self.pipeline.config.grounder_config.get('device', ''))
            extra.update(self.inputs.rates())
        self.health.publish(self.diag_pub, extra)


def main(args=None) -> None:
    run_node(SpatialFactsNode, args)


if __name__ == '__main__':
    main()
