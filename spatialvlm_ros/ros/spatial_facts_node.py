"""spatial_facts node: RGB-D in, 3D objects, spatial facts and RViz markers out.

Subscribes (relative names; remap in launch):
    color/image_raw    sensor_msgs/Image        rgb8/bgr8/rgba8/bgra8/mono8
                       (color_transport compressed: <resolved>/compressed, sensor_msgs/CompressedImage)
    depth/image_raw    sensor_msgs/Image        16UC1 mm or 32FC1 m, registered to colour
                       (depth_transport compressedDepth: <resolved>/compressedDepth, sensor_msgs/CompressedImage)
    color/camera_info  sensor_msgs/CameraInfo   of the colour stream
    masks/image_raw    sensor_msgs/Image        instance ids (mono8/mono16/32SC1), only for the 'mask' grounder;
                       an object's prompt is its id
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
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from ..messages import serialize
from ..core.errors import SpatialError
from ..core.grounding import GROUNDERS, grounder_options
from ..core.lifting import lift_options
from ..core.params import pipeline_config_from_params
from ..core.step import FrameStep, KnownPosition
from ..core.task import load_task, task_path
from ..messages.image_codec import encode_image
from ..messages.sync import ApproximateTimeSync
from ..core.transform import StampedBuffer
from ..messages.bag import rclpy_message
from ..messages.convert import frame_from_msgs, header_stamp_ns, label_image_from_msg
from ..messages.debug_image import draw_debug
from ..messages.markers import marker_array
from .frames import FrameResolver
from .health import steady_timer
from .inputs import InputMonitor
from .lifecycle import AUTOSTART, ModelNode, start
from .run import run_node
from .qos import results_qos, sensor_qos
from .errors import NodeError

__all__ = ['SpatialFactsNode', 'PARAMETERS', 'OPTION_PARAMETERS', 'DEFAULT_OVERRIDES', 'INPUT_TOPICS', 'main']

NODE_NAME = 'spatial_facts'
PARAMS_FILE = 'spatial_facts.yaml'

# Relative input names (remap them in launch), by stream.
INPUT_TOPICS = {'color': 'color/image_raw', 'depth': 'depth/image_raw', 'info': 'color/camera_info',
                'masks': 'masks/image_raw'}
# Transport -> (message type, topic suffix), image_transport's names and topic convention.
TRANSPORTS = {'raw': (Image, ''), 'compressed': (CompressedImage, 'compressed'),
              'compressedDepth': (CompressedImage, 'compressedDepth')}


def _streams(p: dict) -> dict:
    """stream -> (message type, transport topic suffix) of the inputs these parameters subscribe to:
    colour, depth and camera_info, plus the instance masks when the grounder takes its masks from outside."""
    allowed = {'color_transport': ('raw', 'compressed'), 'depth_transport': ('raw', 'compressedDepth')}
    for name, ok in allowed.items():
        if p[name] not in ok:
            raise NodeError(f'{name} must be one of {list(ok)}, got {p[name]!r}')
    streams = {'color': TRANSPORTS[p['color_transport']], 'depth': TRANSPORTS[p['depth_transport']],
               'info': (CameraInfo, '')}
    if getattr(GROUNDERS.get(p['grounder']), 'needs_masks', False):
        streams['masks'] = (Image, '')  # a segmentation node's label image, paired by stamp like the others
    return streams

# Each grounder's and centre mode's options are declared once, on its config (core.options); the node
# exposes them under the same names, with their descriptions. Defaults live in config/spatial_facts.yaml.
OPTION_PARAMETERS = {n: o.doc for n, o in {**grounder_options(), **lift_options()}.items()}
# YAML defaults that differ from the registry's default, and why (a test keeps this list complete).
DEFAULT_OVERRIDES = {
    'center_mode': "'support': objects on tables, the case robots meet most (the library default is 'amodal')",
    'min_saturation': 'brighter, saturated task colours in robot scenes; fewer shadow pixels taken for colour',
    'min_value': 'with min_saturation: dark, desaturated pixels are not a colour',
    'min_pixels': 'one value for every grounder (mask grounder: 20)',
    'min_points': 'small objects (a gripper finger, a far cup) still measured from 20 points (library: 30)',
    'detector_model': 'OWLv2, the default open-vocabulary detector (grounding_dino has no default checkpoint)',
    'detection_threshold': "OWLv2's threshold (grounding_dino's own is 0.3)",
    'segmenter_model': 'SAM outlines by default: box masks would measure the background around an object',
}

_NODE_PARAMETERS = {
    'task': "The task whose objects to find (a YAML path or a name in the package's config/tasks/): their names, "
            "prompts and centre modes; '' = no task, find object_names instead.",
    'object_names': "Objects to find without a task ('' = the task's); with a task they must include its objects.",
    'object_prompts': 'One grounding prompt per object name, e.g. "red block" (colour grounder).',
    'grounder': f'Grounder kind, one of {sorted(GROUNDERS)}: colour words (color), an instance-mask image (mask), '
                'or free-text prompts with a detector model (those with loads_model).',
    'object_center_modes': "Per-object centre mode as name=mode, e.g. gripper=grip (fingers around an empty grasp "
                           "point are no box on a table); overrides the task's.",
    'up_rotation': 'Camera-to-base rotation, 9 numbers row-major (p_base = R p_optical, base z up); [0.0] = '
                   'estimate up from the dominant horizontal plane in the depth.',
    'up_window_frames': "A static camera's up: the mean of the ups (from the depth's planes) of up to this many "
                        'recent frames that agree within a degree, so it does not jitter; 1 = every frame its own.',
    'flat_objects': "Flat objects (markers, discs, sheets): centre mode 'flat', a plane fit completed under "
                    "occluders; overrides the task's.",
    'fact_margin_m': 'Qualitative facts (left/right, ...) are asserted only beyond this margin (metres).',
    'color_transport': "Colour input transport (image_transport's names): 'raw' (sensor_msgs/Image on color/image_raw) "
                       "or 'compressed' (sensor_msgs/CompressedImage, JPEG/PNG, on <color/image_raw>/compressed).",
    'depth_transport': "Depth input transport: 'raw' (sensor_msgs/Image) or 'compressedDepth' (PNG or RVL, on "
                       "<depth/image_raw>/compressedDepth).",
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
PARAMETERS = {**_NODE_PARAMETERS, **OPTION_PARAMETERS}


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
        self.step = None
        self._input_subs: list = []
        self._input_timer = None
        super().__init__(NODE_NAME, PARAMETERS, PARAMS_FILE, 'spatial facts', **kwargs)
        start(self)

    def _configure(self, p: dict) -> None:
        """Everything the parameters decide, the model included; subscriptions wait for activate."""
        self.p = p
        self.streams = _streams(p)
        task = load_task(task_path(p['task'])) if p['task'] else None
        self.step = FrameStep(pipeline_config_from_params(p, task), task)
        self.min_depth_m, self.max_depth_m = float(p['min_depth_m']), float(p['max_depth_m'])
        self.publish_markers = bool(p['publish_markers'])
        self.sync = ApproximateTimeSync(
            tuple(self.streams), slop_ns=int(p['slop_s'] * 1e9), queue_size=int(p['sync_queue_size'])
        )
        self.publish_debug_image = bool(p['publish_debug_image'])
        # 10 % allowance for stamp jitter: a 30 Hz camera limited to 10 Hz keeps every third frame.
        self.min_period_ns = int(0.9e9 / p['max_rate_hz']) if p['max_rate_hz'] > 0 else 0
        self._last_processed_ns: int | None = None
        self._last_up, self._uncertain_ups = None, 0
        self.frames = FrameResolver(self, p['transform_source'], p['target_frame'], p['static_transform'],
                                    p['transform_timeout_s'])
        self.inputs = InputMonitor(self, {s: self._topic(s) for s in self.streams}, p['qos_reliability'],
                                   p['input_timeout_s'])
        self.kinematic = {n: StampedBuffer(int(p['kinematic_tolerance_s'] * 1e9)) for n in p['kinematic_objects'] if n}
        names = [q.name for q in self.step.config.queries]
        unknown = sorted(set(self.kinematic) - set(names))
        if unknown:
            raise NodeError(f'kinematic_objects {unknown} are not among the objects {names} (the task\'s, or '
                            'object_names); fix kinematic_objects')
        out_qos = results_qos()
        self.objects_pub = self.create_lifecycle_publisher(String, '~/objects', out_qos)
        self.facts_pub = self.create_lifecycle_publisher(String, '~/facts', out_qos)
        self.markers_pub = self.create_lifecycle_publisher(MarkerArray, '~/markers', out_qos)
        self.debug_pub = self.create_lifecycle_publisher(Image, '~/debug_image', 2) if self.publish_debug_image else None
        found = ', '.join(f'{q.name}="{q.prompt}"' for q in self.step.config.queries)
        self.get_logger().info(f'finding {found} with the {p["grounder"]} grounder'
                               + (f' for task {task.name!r}' if task is not None else ''))

    def _start_inputs(self) -> None:
        p = self.p
        for name, buf in self.kinematic.items():
            self._input_subs.append(self.create_subscription(
                PointStamped, f'{name}/position', lambda m, b=buf: b.add(_StampedPoint.of(m)),
                sensor_qos(p['qos_reliability'], 50)))
        qos = sensor_qos(p['qos_reliability'], int(p['qos_depth']))
        for stream, (msg_type, _) in self.streams.items():
            self._input_subs.append(self.create_subscription(
                msg_type, self._topic(stream), lambda m, s=stream: self._on_input(s, m), qos,
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda e, s=stream: self.inputs.on_incompatible_qos(s, e)
                ),
            ))
        self._input_timer = steady_timer(self, p['input_timeout_s'], self.inputs.check)

    def _topic(self, stream: str) -> str:
        """The topic a stream is taken from: the remappable base name, plus image_transport's transport
        suffix (``<resolved base>/compressed``), as image_transport subscribers resolve it."""
        suffix = self.streams[stream][1]
        return INPUT_TOPICS[stream] if not suffix else f'{self.resolve_topic_name(INPUT_TOPICS[stream])}/{suffix}'

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
        if self.step is not None:
            self.step.close()
            self.step = None

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

    def _process(self, color, depth, info, masks=None) -> None:
        t0 = time.perf_counter()
        try:
            frame = frame_from_msgs(color, depth, info, self.min_depth_m, self.max_depth_m)
            labels = None if masks is None else label_image_from_msg(masks, frame)
            tf = self.frames.resolve(frame.frame_id, frame.stamp_ns)
            perceived = self.step.perceive(frame, known=self._known(frame.stamp_ns), transform=tf,
                                           label_image=labels)
            # Objects first: the reward node needs only them, and starts while the facts are computed.
            self.objects_pub.publish(String(data=serialize.dumps(serialize.objects_to_doc(
                perceived.objects, perceived.stamp_ns, perceived.frame_id, perceived.sizes, perceived.up))))
            result = self.step.relate(perceived)
            self._note_up(perceived.gravity)
        except SpatialError as err:
            self.health.reject(err.kind, str(err))
            return
        except Exception as err:  # noqa: BLE001 - report, never die on one frame
            self.health.reject('internal', f'{type(err).__name__}: {err}')
            return
        self.facts_pub.publish(
            String(data=serialize.dumps(serialize.facts_to_doc(result.facts, frame.stamp_ns, frame.frame_id, result.gravity)))
        )
        if self.publish_markers:
            header = Header(stamp=color.header.stamp, frame_id=result.frame_id)
            self.markers_pub.publish(marker_array(rclpy_message, result.objects, result.facts, header))
        if self.debug_pub is not None:
            self.debug_pub.publish(self._debug_image(frame, result, color.header))
        for name in result.missing:
            self.health.note(f'not_found_{name}', f'object {name!r} not found in frame {frame.stamp_ns}')
        self.health.ok((time.perf_counter() - t0) * 1e3)

    def _note_up(self, gravity) -> None:
        """The frame's up for diagnostics: the last one, and how many were uncertain."""
        self._last_up = gravity
        if gravity is not None and gravity.uncertain:
            self._uncertain_ups += 1

    def _up_diagnostics(self) -> tuple[dict, str | None]:
        """(values, warning or None) of the last frame's up."""
        g = self._last_up
        if g is None:
            return {}, None
        values = {'up_source': g.source, 'up_confidence': round(float(g.confidence), 3),
                  'up_averaged_frames': g.averaged_frames, 'up_tilt_deg': round(float(g.tilt_deg), 2),
                  'up_uncertain_frames': self._uncertain_ups}
        warning = None
        if g.uncertain:
            warning = (f'up uncertain (confidence {g.confidence:.2f}, {g.source}): every fact but the distances '
                       'carries it; give up_rotation or a transform_source if the camera is mounted')
        return values, warning

    def _known(self, stamp_ns: int) -> dict:
        """The known positions at this frame's stamp (None: none close enough, noted in diagnostics)."""
        out = {}
        for name, buf in self.kinematic.items():
            item = buf.lookup(stamp_ns)
            if item is None:
                self.health.note(f'kinematic_missing_{name}', f'no {name} position within the stamp tolerance '
                                 f'of frame {stamp_ns}; is {self.resolve_topic_name(name + "/position")} '
                                 'publishing on the same clock?')
            out[name] = None if item is None else KnownPosition(item.point, item.frame_id)
        return out

    def _debug_image(self, frame, result, header) -> Image:
        img = Image(header=header, encoding='rgb8')
        img.height, img.width, img.step, data, img.is_bigendian = encode_image(
            draw_debug(frame, result.camera_objects, result.facts), 'rgb8'
        )
        img.data = data.tobytes()
        return img

    def _publish_diagnostics(self) -> None:
        extra = {'lifecycle_state': self.lifecycle_state}
        warning = None
        if self.step is not None:
            s = self.sync.stats
            extra.update({'sync_matched': s.matched, 'sync_unpaired_dropped': s.dropped,
                          'sync_out_of_order': s.out_of_order, 'sync_time_jumps': s.time_jumps,
                          'incompatible_qos_events': self.inputs.incompatible_qos,
                          'output_frame': self.frames.target or 'camera', 'transform_source': self.frames.source,
                          'grounder': self.step.config.grounder})
            config = self.step.config
            if GROUNDERS[config.grounder].loads_model:  # which weights are loaded, and where
                extra.update(model=config.grounder_config.get('detector_model', ''),
                             model_device=config.grounder_config.get('model_device', ''))
            extra.update(self.inputs.rates())
            up, warning = self._up_diagnostics()
            extra.update(up)
        self.health.publish(self.diag_pub, extra, warning)


def main(args=None) -> None:
    run_node(SpatialFactsNode, args)


if __name__ == '__main__':
    main()
