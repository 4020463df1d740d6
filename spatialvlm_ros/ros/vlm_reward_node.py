"""vlm_reward node: the VLM as the reward source (the SpatialVLM paper's mode), checked against
depth, and spatial questions over ROS.

Subscribes (relative names; remap in launch):
    color/image_raw  sensor_msgs/Image   the camera's colour stream
    objects          std_msgs/String     JSON objects document of spatial_facts (depth cross-check)
    ~/question       std_msgs/String     JSON {"request_id": str, "question": str}
Publishes:
    ~/reward         std_msgs/Float32    the reward from the VLM's distances (valid frames only)
    ~/detail         std_msgs/String     JSON: stamp of the frame asked about, reward, stage, answers,
                                         parsed distances, depth distances, disagreement {abs_m, rel}
    ~/answer         std_msgs/String     JSON {"request_id", "question", "answer", "value_m", "yes_no",
                                         "stamp", "stamp_ns", "frame_id", "latency_ms", "error"}
    /diagnostics

The VLM is far slower than the camera. Frames pass a rate limit on header stamps
(``period_s``), then a latest-frame worker (:class:`~spatialvlm_ros.vlm.worker.LatestFrameWorker`):
never a growing queue, every request on the newest frame. A failing backend never stops the
node: errors are counted by kind, logged throttled, shown in /diagnostics, and ``fallback``
decides what is published (``depth``: the depth reward of that frame; ``none``: an invalid one).
A lifecycle node (:class:`.lifecycle.ModelNode`): the backend is made on configure and closed on
cleanup; ``autostart`` configures and activates at start-up.

Shutdown (Ctrl-C, deactivate, lifecycle shutdown) waits at most 2 s for the VLM: the outputs of
an activation pass an :class:`OutputGate` that is closed first, so a request still blocked in the
server when the node stops (or the context goes) publishes nothing when it ends; its thread is a
daemon and never holds up the exit.
"""

from __future__ import annotations

import functools
import queue
import threading
import time

import numpy as np
from collections import OrderedDict

from rclpy.executors import MultiThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import Float32, String

from ..messages import serialize
from ..core.depth import rgb_from_encoding
from ..core.errors import SpatialError
from ..messages.image_codec import image_from_msg
from ..core.task import load_task, task_path
from ..core.reward import reward_from_observations
from ..core.types import ns_to_stamp
from ..core.options import option_values
from ..vlm import (VLMError, backend_class, image_backends, make_backend, merged_backend_options, parse_distance,
                   parse_yes_no)
from ..vlm.prompts import PROMPT_MODES, depth_context, with_context
from ..vlm.reward import disagreement, reward_from_distances, task_questions
from ..vlm.worker import LatestFrameWorker, StampRateLimiter
from ..messages.convert import header_stamp_ns
from .lifecycle import AUTOSTART, ModelNode, start
from .run import run_node
from .qos import results_qos, sensor_qos
from .errors import NodeError

__all__ = ['VLMRewardNode', 'OutputGate', 'PARAMETERS', 'BACKEND_PARAMETERS', 'DEFAULT_OVERRIDES', 'INPUT_TOPICS',
           'FALLBACKS', 'backend_config', 'main']

NODE_NAME = 'vlm_reward'
PARAMS_FILE = 'vlm_reward.yaml'
INPUT_TOPICS = {'color': 'color/image_raw', 'objects': 'objects'}
FALLBACKS = ('none', 'depth')

# The backend options the node exposes: every option of every backend that takes plain images,
# described by the registry (vlm.BACKENDS), so a new backend option is a node parameter without an
# edit here. Their defaults live in config/vlm_reward.yaml, like every other parameter's.
BACKEND_PARAMETERS = {name: o.doc for name, o in merged_backend_options(image_backends()).items()}

# YAML defaults that differ from the default of a backend declaring the option, and why (the
# test of the params file checks that every other backend parameter has its backend's default).
DEFAULT_OVERRIDES = {
    'model': 'one default for every backend: SpaceQwen2.5-VL-3B, served (openai: no default) or local '
             '(qwen2_5_vl); set it for llava',
}

_NODE_PARAMETERS = {
    'task': 'Task spec: a YAML path, or the name of one in the package config/tasks/ (e.g. pick_and_place).',
    'backend': f'VLM backend, one of {image_backends()} (those answering about plain images; depth-measured '
               'rewards come from reward_node); each backend takes the parameters its description names it in.',
    'period_s': 'Ask about at most one frame per this many seconds of header-stamp time (deterministic replay).',
    'prompt_mode': "'plain' (image and question) or 'measured' (depth-measured object centres in the prompt).",
    'fallback': "When the VLM fails on a frame: 'depth' publishes that frame's depth reward, 'none' an invalid one.",
    'max_pending_questions': 'Questions queued on ~/question beyond this are answered at once with a busy error.',
    'question_mode': "~/question answered by: 'direct' (the VLM, about the newest image) or 'reasoning' (an LLM "
                     "with tool calling at planner_base_url splits the question into spatial queries answered "
                     "from the newest depth objects, and the VLM where it needs language; the trace is returned).",
    'planner_base_url': "question_mode 'reasoning': the OpenAI-compatible server (with tool calling) of the planner.",
    'planner_model': "question_mode 'reasoning': the planner's model name on that server.",
    'reasoning_max_steps': "question_mode 'reasoning': most planner turns for one question.",
    'reasoning_time_limit_s': "question_mode 'reasoning': wall-clock limit for one question (seconds).",
    'objects_cache': 'Depth objects documents kept (by stamp) for the cross-check.',
    'qos_reliability': "Camera subscription: 'best_effort' (sensor data, matches every driver) or 'reliable'.",
    'qos_depth': 'Camera subscription queue depth.',
    'diagnostics_period_s': 'Period of /diagnostics messages (seconds).',
    'autostart': AUTOSTART,
}

_shadowed = sorted(set(BACKEND_PARAMETERS) & set(_NODE_PARAMETERS))
if _shadowed:  # a backend option named like a node parameter would silently take its value
    raise NodeError(f'VLM backend options {_shadowed} are named like vlm_reward node parameters; rename them')
PARAMETERS = {**_NODE_PARAMETERS, **BACKEND_PARAMETERS}


class OutputGate:
    """What the threads of one activation publish through: :meth:`call` runs a publishing handler
    while the gate is open, :meth:`close` (under the same lock) ends that for good, so no handler
    runs after it returns. An error raised because the context went away meanwhile (the process
    is shutting down) is dropped quietly; any other error propagates."""

    def __init__(self, context) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._open = True

    def close(self) -> None:
        with self._lock:
            self._open = False

    def call(self, fn, *args, **kwargs) -> None:
        with self._lock:
            if not self._open:
                return
            try:
                fn(*args, **kwargs)
            except Exception:
                if self._context.ok():
                    raise
                self._open = False


def backend_config(p: dict) -> tuple[str, dict]:
    """(backend kind, its options) from the node parameters: each backend takes the options it declares."""
    kind = str(p['backend'])
    if kind not in image_backends():
        raise NodeError(f'backend must be one of {image_backends()}, got {kind!r} (depth rewards: use reward_node)')
    return kind, option_values(backend_class(kind).config_type, p)


class VLMRewardNode(ModelNode):
    """A lifecycle node (:mod:`.lifecycle`): the backend (a local VLM's weights, or the server
    client) is made on configure and closed on cleanup; the reward worker and the question
    thread run while active. ``backend``: an already made backend (tests, the Python API)."""

    def __init__(self, backend=None, **kwargs) -> None:
        self._given_backend = backend
        self.backend = None
        self.worker = None
        self._question_threads: list = []
        self._input_subs: list = []
        self._gate = None  # OutputGate of the current activation
        super().__init__(NODE_NAME, PARAMETERS, PARAMS_FILE, 'vlm reward', **kwargs)
        start(self)

    def _start_inputs(self) -> None:
        p = self.p
        gate = self._gate = OutputGate(self.context)
        self.worker = LatestFrameWorker(self._ask_frame, lambda item, result: gate.call(self._on_answers, item, result),
                                        lambda item, err: gate.call(self._on_failure, item, err),
                                        stamp_of=lambda it: it[0])
        self._stop = threading.Event()
        # Several question threads (the backend's max_concurrency, else 1): a question is never
        # queued behind another one's timeout while the server has room for it.
        n = max(1, int(getattr(getattr(self.backend, 'config', None), 'max_concurrency', 1) or 1))
        self._question_threads = [threading.Thread(target=self._serve_questions, args=(gate, self._stop),
                                                   name=f'vlm-questions-{i}', daemon=True) for i in range(n)]
        for t in self._question_threads:
            t.start()
        out = results_qos()
        self._input_subs = [
            self.create_subscription(Image, INPUT_TOPICS['color'], self._on_image,
                                     sensor_qos(p['qos_reliability'], int(p['qos_depth']))),
            self.create_subscription(String, INPUT_TOPICS['objects'], self._on_objects, out),
            self.create_subscription(String, '~/question', self._on_question, out),
        ]

    def _configure(self, p: dict) -> None:
        if p['fallback'] not in FALLBACKS:
            raise NodeError(f"fallback must be one of {FALLBACKS}, got {p['fallback']!r}")
        if p['prompt_mode'] not in PROMPT_MODES:
            raise NodeError(f"prompt_mode must be one of {PROMPT_MODES}, got {p['prompt_mode']!r}")
        if p['question_mode'] not in ('direct', 'reasoning'):
            raise NodeError(f"question_mode must be 'direct' or 'reasoning', got {p['question_mode']!r}")
        self.p = p
        self.task = load_task(task_path(p['task']))
        self.questions = task_questions(self.task)
        self.kind, options = backend_config(p)
        self.backend = self._given_backend if self._given_backend is not None else make_backend(self.kind, **options)
        self.limiter = StampRateLimiter(float(p['period_s']))
        self.rate_limited = 0
        self._lock = threading.Lock()
        self._objects: OrderedDict = OrderedDict()  # stamp_ns -> objects dict (depth)
        self._latest_scene = None  # (stamp_ns, objects, up) of the newest objects document, for reasoning
        self._latest_image = None  # newest colour Image message, for questions
        self._last_disagreement: dict = {}
        self._questions: queue.Queue = queue.Queue(maxsize=int(p['max_pending_questions']))
        self.answered = 0
        out = results_qos()
        self.reward_pub = self.create_lifecycle_publisher(Float32, '~/reward', out)
        self.detail_pub = self.create_lifecycle_publisher(String, '~/detail', out)
        self.answer_pub = self.create_lifecycle_publisher(String, '~/answer', out)
        self.get_logger().info(f'task {self.task.name!r}: asking {self.kind} every {p["period_s"]} s of stamps; '
                               f'fallback {p["fallback"]}')

    def _stop_inputs(self) -> None:
        """Close the outputs, unsubscribe, then give the worker and the question thread a moment to end
        (a request blocked in the server is left to its daemon thread: it publishes nothing)."""
        if self._gate is not None:
            self._gate.close()
        for sub in self._input_subs:
            self.destroy_subscription(sub)
        self._input_subs = []
        if self.worker is not None:
            self._stop.set()
            self.worker.stop(timeout_s=2.0)
            end = time.monotonic() + 2.0
            for t in self._question_threads:
                t.join(timeout=max(0.0, end - time.monotonic()))
            self.worker, self._question_threads = None, []

    def _release(self) -> None:
        """Close the backend (a local VLM's GPU memory) and remove what configure made."""
        self._release_publishers('reward_pub', 'detail_pub', 'answer_pub')
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    # --- inputs ----------------------------------------------------------------------------

    def _on_image(self, msg: Image) -> None:
        try:
            stamp = header_stamp_ns(msg)
        except Exception as err:  # noqa: BLE001 - a malformed message must not kill the node
            self.health.reject('malformed', repr(err))
            return
        with self._lock:
            self._latest_image = msg
        if not self.limiter.admit(stamp):
            self.rate_limited += 1
            return
        self.worker.submit((stamp, msg))

    def _on_objects(self, msg: String) -> None:
        try:
            doc = serialize.loads(msg.data)
            stamp, _, objects = serialize.objects_from_doc(doc)
        except SpatialError as err:
            self.health.reject('bad_objects', str(err))
            return
        with self._lock:
            self._latest_scene = (stamp, objects, serialize.up_from_doc(doc))
            self._objects[stamp] = objects
            while len(self._objects) > int(self.p['objects_cache']):
                self._objects.popitem(last=False)

    def _depth(self, stamp: int):
        with self._lock:
            objects = self._objects.get(stamp)
        return None if objects is None else reward_from_observations(self.task, objects, stamp)

    # --- the reward worker -----------------------------------------------------------------

    def _ask_frame(self, item):
        stamp, msg = item
        t0 = time.perf_counter()
        rgb = _rgb(msg)
        context = ''
        if self.p['prompt_mode'] == 'measured':
            with self._lock:
                objects = self._objects.get(stamp)
            if objects is not None:
                context = depth_context({self.task.objects[n]: (None if o is None else o.center)
                                         for n, o in objects.items() if n in self.task.objects}, msg.header.frame_id)
        keys = list(self.questions)
        answers = self.backend.ask_batch([([rgb], with_context(self.questions[k], context)) for k in keys])
        return dict(zip(keys, answers)), (time.perf_counter() - t0) * 1e3

    def _on_answers(self, item, result) -> None:
        stamp, msg = item
        answers, latency_ms = result
        values = {k: parse_distance(a) for k, a in answers.items()}
        for k, v in values.items():
            if v is None:
                self.health.reject('unparseable', f'no distance in the answer {answers[k]!r} for {k} (frame {stamp})')
        sample = reward_from_distances(self.task, values, stamp)
        depth = self._depth(stamp)
        depth_d = {} if depth is None else depth.distances
        cross = {k: disagreement(values.get(k), depth_d.get(k)) for k in values}
        with self._lock:
            self._last_disagreement = {k: v for k, v in cross.items() if v['abs_m'] is not None} or self._last_disagreement
        source, error = 'vlm', None
        unparsed = sorted(k for k, v in values.items() if v is None)
        if unparsed:
            cut = [k for k in unparsed if getattr(answers[k], 'truncated', False)]
            error = (f'no distance in the answer for {unparsed}'
                     + (f' (cut off at max_new_tokens: {cut})' if cut else ''))
            if not sample.valid and self.p['fallback'] == 'depth' and depth is not None:
                sample, source = depth, 'depth_fallback'  # an unreadable answer is a failed answer
        extra = {'source': source, 'backend': self.kind, 'latency_ms': round(latency_ms, 3),
                 'answers': {k: {'question': self.questions[k], 'answer': answers[k], 'value_m': values[k]}
                             for k in answers},
                 'depth_distances': depth_d if depth is not None else None, 'disagreement': cross, 'error': error}
        self._publish(sample, msg.header.frame_id, extra)
        self.health.ok(latency_ms)

    def _on_failure(self, item, err: BaseException) -> None:
        stamp, msg = item
        kind = f'backend_{err.kind}' if isinstance(err, VLMError) else getattr(err, 'kind', 'internal')
        text = str(err) if isinstance(err, (VLMError, SpatialError)) else f'{type(err).__name__}: {err}'
        self.health.reject(kind, f'frame {stamp}: {text}')
        depth = self._depth(stamp) if self.p['fallback'] == 'depth' else None
        if depth is not None:
            sample, source = depth, 'depth_fallback'
        else:
            sample = reward_from_distances(self.task, {}, stamp)
            source = 'none'
        extra = {'source': source, 'backend': self.kind, 'latency_ms': None, 'answers': {},
                 'depth_distances': None if depth is None else depth.distances, 'disagreement': {}, 'error': text}
        self._publish(sample, msg.header.frame_id, extra)

    def _publish(self, sample, frame_id: str, extra: dict) -> None:
        if sample.valid:
            self.reward_pub.publish(Float32(data=float(sample.reward)))
        doc = serialize.reward_to_doc(sample, frame_id)
        doc.update(extra)
        self.detail_pub.publish(String(data=serialize.dumps(doc)))

    # --- questions over ROS ----------------------------------------------------------------

    def _on_question(self, msg: String) -> None:
        doc = None
        try:
            doc = serialize.loads(msg.data)
            rid, question = doc['request_id'], doc['question']
            if not isinstance(question, str) or not question.strip():
                raise KeyError('question')
        except (SpatialError, KeyError, TypeError) as err:
            self.health.reject('bad_question', f'{err}: expected {{"request_id": "...", "question": "..."}}')
            rid = doc.get('request_id') if isinstance(doc, dict) else None
            self._gate.call(self._answer, rid, None,
                            error=f'malformed question ({err}); send {{"request_id": "...", "question": "..."}}')
            return
        try:
            self._questions.put_nowait((rid, question, time.perf_counter()))
        except queue.Full:
            self.health.reject('questions_busy', f'{self._questions.maxsize} questions pending; {rid!r} refused')
            self._gate.call(self._answer, rid, question,
                            error=f'busy: {self._questions.maxsize} questions pending; ask again later')

    def _serve_questions(self, gate: OutputGate, stop: threading.Event) -> None:
        answer_ = functools.partial(gate.call, self._answer)

        def failed(kind, text, rid, question, msg) -> None:
            self.health.reject(kind, text)
            self._answer(rid, question, msg=msg, error=text)

        while not stop.is_set():
            try:
                rid, question, t0 = self._questions.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                msg = self._latest_image
            if msg is None:
                answer_(rid, question, error=f'no image received yet on {INPUT_TOPICS["color"]}')
                continue
            trace = None
            try:
                if self.p['question_mode'] == 'reasoning':
                    answer, trace = self._reason(question, msg)
                else:
                    answer = self.backend.ask([_rgb(msg)], question)
            except (VLMError, SpatialError) as err:
                gate.call(failed, 'question_failed', str(err), rid, question, msg)
                continue
            except Exception as err:  # noqa: BLE001 - the question thread never dies
                gate.call(failed, 'internal', f'{type(err).__name__}: {err}', rid, question, msg)
                continue
            with self._lock:
                self.answered += 1
            answer_(rid, question, msg=msg, answer=answer, latency_ms=(time.perf_counter() - t0) * 1e3, trace=trace)

    def _reason(self, question: str, msg) -> tuple:
        """(answer, trace) of ``question`` by the planner over the newest depth objects (vlm.reasoning)."""
        from ..vlm.openai_backend import OpenAIConfig
        from ..vlm.reasoning import ChatPlanner, SceneFacts, reason

        with self._lock:
            scene = self._latest_scene
        if scene is None:
            raise VLMError(f'no depth objects received yet on {INPUT_TOPICS["objects"]}; reasoning needs them',
                           kind='input')
        _, objects, up = scene
        found = {n: o for n, o in objects.items() if o is not None}
        facts = SceneFacts({n: np.asarray(o.center, np.float64) for n, o in found.items()},
                           {n: o.size for n, o in found.items() if o.size is not None},
                           **({} if up is None else {'up': up}), missing=tuple(n for n in objects if n not in found))
        planner = ChatPlanner(OpenAIConfig(base_url=self.p['planner_base_url'], model=self.p['planner_model'],
                                           timeout_s=float(self.p['timeout_s'])))
        result = reason(planner, facts, question, image=_rgb(msg), vlm=self.backend,
                        max_steps=int(self.p['reasoning_max_steps']),
                        time_limit_s=float(self.p['reasoning_time_limit_s']))
        return result.answer, [c.to_dict() for c in result.trace]

    def _answer(self, rid, question, msg=None, answer=None, error=None, latency_ms=None, trace=None) -> None:
        stamp = None if msg is None else header_stamp_ns(msg)
        doc = {'request_id': rid, 'question': question, 'answer': answer,
               'value_m': None if answer is None else parse_distance(answer),
               'yes_no': None if answer is None else parse_yes_no(answer),
               'stamp': None if stamp is None else dict(zip(('sec', 'nanosec'), ns_to_stamp(stamp))),
               'stamp_ns': stamp, 'frame_id': None if msg is None else msg.header.frame_id,
               'latency_ms': None if latency_ms is None else round(latency_ms, 3), 'error': error}
        if trace is not None:
            doc['trace'] = trace  # each planner tool call with its arguments and result
        self.answer_pub.publish(String(data=serialize.dumps(doc)))

    # --- diagnostics and shutdown ----------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        extra = {'lifecycle_state': self.lifecycle_state}
        if self.backend is not None:
            extra.update({'task': self.task.name, 'backend': self.kind, 'rate_limited': self.rate_limited,
                          'questions_answered': self.answered, 'questions_pending': self._questions.qsize()})
            if self.worker is not None:
                s = self.worker.stats
                extra.update({'frames_submitted': s.submitted, 'frames_superseded': s.superseded,
                              'frames_out_of_order': s.out_of_order, 'requests_started': s.started,
                              'requests_succeeded': s.succeeded, 'requests_failed': s.failed})
            with self._lock:
                for k, v in self._last_disagreement.items():
                    extra[f'disagreement_abs_m_{k}'] = v['abs_m']
                    extra[f'disagreement_rel_{k}'] = v['rel']
        self.health.publish(self.diag_pub, extra)


def _rgb(msg):
    """HxWx3 uint8 RGB of a colour Image message (a copy: the message buffer is not kept)."""
    return rgb_from_encoding(image_from_msg(msg), msg.encoding).copy()


def main(args=None) -> None:
    run_node(VLMRewardNode, args, executor_factory=lambda: MultiThreadedExecutor(num_threads=2))


if __name__ == '__main__':
    main()
