"""Chain-of-thought spatial reasoning (SpatialVLM's LLM planner), ROS-free.

An LLM splits a question ("can the robot fit the bowl between the mug and the kettle?") into simple
spatial queries, each answered from the frame's depth facts by a tool, and composes the answer:

- :class:`SceneFacts`: the frame's objects (camera-frame centres, gravity-aligned sizes, up) from a
  :class:`~spatialvlm_ros.core.step.FrameResult` or a :class:`~spatialvlm_ros.core.pipeline.PipelineResult`.
- :func:`tools`: the tool definitions (OpenAI ``tools=[{type: function, function: {...}}]``),
  generated from the one vocabulary (:mod:`spatialvlm_ros.core.vocabulary`): ``measure`` (its metric
  relations: distance, horizontal/vertical distance, ...), ``size`` (its object sizes), ``check``
  (predicates and size comparisons), ``which`` (its choices), ``objects``, and ``ask_vlm`` when a
  VLM is given (questions that need language, answered about the image).
- :class:`ChatPlanner`: an OpenAI-compatible chat server with tool calling (the model replies with
  ``tool_calls``; each result goes back as a ``role: tool`` message) until it answers.
  :class:`TextPlanner`: any :class:`~.base.VLMBackend` (a local model without tool calling), the same
  tools through a JSON text protocol.
- :func:`reason`: the loop, with a step limit and a time limit; returns a :class:`Reasoning`
  (answer, trace of every tool call with arguments and result). A model that gives no usable answer
  within the limits gets a :class:`VLMError` (kind ``no_answer`` / ``timeout``), never a made-up one.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..core import vocabulary as vocab
from .errors import VLMError

__all__ = ['SceneFacts', 'ToolCall', 'Reasoning', 'tools', 'run_tool', 'ChatPlanner', 'TextPlanner', 'reason',
           'SYSTEM_PROMPT']

SYSTEM_PROMPT = (
    'You answer spatial questions about one camera image of a scene. Split the question into simple spatial '
    'queries and call the tools to measure them (metres, from the depth camera); never guess a measurement. '
    'Then compose the final answer from the results, stating the numbers you used.')


@dataclass(frozen=True)
class SceneFacts:
    """What the tools answer from: one frame's objects.

    centers: name -> (3,) float64 metres, camera optical frame (found objects only).
    sizes: name -> (3,) float64 gravity-aligned (width, height, depth) metres.
    up: (3,) float64 up in the optical frame (:data:`~spatialvlm_ros.core.vocabulary.CAMERA_UP` without gravity).
    missing: names of objects looked for but not found.
    margin_m, size_margin: when a predicate / size comparison is decided (as the facts).
    """

    centers: dict
    sizes: dict
    up: np.ndarray = field(default_factory=lambda: vocab.CAMERA_UP.copy())
    missing: tuple = ()
    margin_m: float = 0.02
    size_margin: float = 0.15

    @classmethod
    def from_result(cls, result, facts_config=None) -> 'SceneFacts':
        """From a FrameResult (its camera-frame objects) or a PipelineResult."""
        objects = getattr(result, 'camera_objects', None)
        if objects is None:
            objects = result.objects
        centers = {n: np.asarray(o.center, np.float64) for n, o in objects.items() if o is not None}
        sizes = {n: np.asarray(s, np.float64) for n, s in (result.sizes or {}).items() if n in centers}
        up = vocab.CAMERA_UP if result.gravity is None else np.asarray(result.gravity.up, np.float64)
        kw = {}
        if facts_config is not None:
            kw = {'margin_m': facts_config.margin_m, 'size_margin': facts_config.size_margin}
        return cls(centers, sizes, up, tuple(n for n, o in objects.items() if o is None), **kw)

    @property
    def names(self) -> list[str]:
        return list(self.centers)

    def _obj(self, name: Any) -> str:
        if name not in self.centers:
            why = 'was not found in this frame' if name in self.missing else 'is not an object of this scene'
            raise _ToolError(f'{name!r} {why}; the objects are {self.names}')
        return name

    def pair(self, a: Any, b: Any) -> vocab.PairMeasure:
        a, b = self._obj(a), self._obj(b)
        if a == b:
            raise _ToolError('a and b must be two different objects')
        return vocab.measure_pair(self.centers[a], self.centers[b], self.up, self.sizes.get(a), self.sizes.get(b))


class _ToolError(Exception):
    """A tool call the model got wrong: the message goes back to it as the tool's result."""


def _relations(kinds: Sequence[str], use: str = 'facts') -> list[vocab.Relation]:
    return [r for r in vocab.REGISTRY.values() if r.kind in kinds and (use in r.uses or 'ask' in r.uses)
            and not r.sided]


def _describe(rels: Sequence[vocab.Relation]) -> str:
    out = []
    for r in rels:
        q = r.questions[0].format(a='A', b='B', side='left') if r.questions else r.name
        out.append(f'{r.name} ({q}{", " + r.unit if r.kind == "metric" and r.unit else ""})')
    return '; '.join(out)


def tools(names: Sequence[str], vlm: bool = False) -> list[dict]:
    """The OpenAI tool definitions for a scene with objects ``names`` (the enums), from the
    vocabulary; ``ask_vlm`` only when ``vlm``."""
    obj = {'type': 'string', 'enum': list(names), 'description': 'an object of the scene'}
    metric, objects = _relations(['metric']), _relations(['object'])
    binary, choice = _relations(['predicate', 'comparison']), _relations(['choice'], 'ask')

    def fn(name: str, description: str, props: dict, required: Sequence[str]) -> dict:
        return {'type': 'function', 'function': {'name': name, 'description': description, 'parameters': {
            'type': 'object', 'properties': props, 'required': list(required)}}}

    pair = {'a': obj, 'b': obj}
    out = [
        fn('objects', 'The objects found in the frame, with centre (camera frame, metres) and size.', {}, []),
        fn('measure', 'A quantity between objects a and b, measured from depth: ' + _describe(metric),
           {'relation': {'type': 'string', 'enum': [r.name for r in metric]}, **pair}, ['relation', 'a', 'b']),
        fn('size', 'A gravity-aligned size of one object in metres: ' + _describe(objects),
           {'dimension': {'type': 'string', 'enum': [r.name for r in objects]}, 'object': obj},
           ['dimension', 'object']),
        fn('check', 'Whether "a RELATION b" holds (true, false, or null when too close to call): '
           + _describe(binary), {'relation': {'type': 'string', 'enum': [r.name for r in binary]}, **pair},
           ['relation', 'a', 'b']),
        fn('which', 'Which of a and b has the property: ' + _describe(choice),
           {'relation': {'type': 'string', 'enum': [r.name for r in choice]}, **pair}, ['relation', 'a', 'b']),
    ]
    if vlm:
        out.append(fn('ask_vlm', 'Ask a vision-language model a question about the image, for what depth '
                      'cannot measure (colour, material, what an object is, ...). Its answer may be wrong.',
                      {'question': {'type': 'string'}}, ['question']))
    return out


def run_tool(scene: SceneFacts, name: str, args: Mapping, vlm: Optional[Callable[[str], str]] = None) -> dict:
    """The JSON-able result of one tool call; a bad call gets ``{'error': ...}`` (told to the model)."""
    try:
        if not isinstance(args, Mapping):
            raise _ToolError(f'arguments must be a JSON object, got {args!r}')
        if name == 'objects':
            return {'objects': [{'name': n, 'center_m': [round(float(v), 4) for v in c],
                                 'size_m': (None if n not in scene.sizes else
                                            dict(zip(('width', 'height', 'depth'),
                                                     (round(float(v), 4) for v in scene.sizes[n]))))}
                                for n, c in scene.centers.items()], 'not_found': list(scene.missing)}
        if name in ('measure', 'check', 'which'):
            kinds = {'measure': ('metric',), 'check': ('predicate', 'comparison'), 'which': ('choice',)}[name]
            rel = vocab.REGISTRY.get(args.get('relation'))
            if rel is None or rel.kind not in kinds:
                raise _ToolError(f'unknown relation {args.get("relation")!r} for {name}; expected one of '
                                 f'{[r.name for r in _relations(kinds, "ask" if name == "which" else "facts")]}')
            a, b = args.get('a'), args.get('b')
            m = scene.pair(a, b)
            if rel.needs == 'sizes' and (m.size_a is None or m.size_b is None):
                raise _ToolError(f'the sizes of {a!r} and {b!r} were not measured')
            if name == 'measure':
                return {'relation': rel.name, 'a': a, 'b': b, 'value': round(vocab.value(rel, m), 4), 'unit': rel.unit}
            holds = vocab.decide(rel, m, scene.margin_m, scene.size_margin)
            if name == 'check':
                return {'relation': rel.name, 'a': a, 'b': b, 'holds': holds}
            return {'relation': rel.name, 'answer': None if holds is None else (a if holds else b)}
        if name == 'size':
            rel = vocab.REGISTRY.get(args.get('dimension'))
            if rel is None or rel.kind != 'object':
                raise _ToolError(f'unknown dimension {args.get("dimension")!r}; expected one of '
                                 f'{[r.name for r in _relations(["object"])]}')
            o = scene._obj(args.get('object'))
            if o not in scene.sizes:
                raise _ToolError(f'the size of {o!r} was not measured')
            return {'dimension': rel.name, 'object': o, 'value': round(float(scene.sizes[o][rel.size]), 4), 'unit': 'm'}
        if name == 'ask_vlm' and vlm is not None:
            q = args.get('question')
            if not isinstance(q, str) or not q.strip():
                raise _ToolError('question: expected a non-empty text')
            return {'question': q, 'answer': vlm(q)}
        raise _ToolError(f'unknown tool {name!r}')
    except _ToolError as err:
        return {'error': str(err)}
    except VLMError as err:
        return {'error': f'the VLM could not answer: {err}'}


@dataclass(frozen=True)
class ToolCall:
    """One step of the trace: the tool, its arguments and its result."""

    name: str
    arguments: Any
    result: dict

    def to_dict(self) -> dict:
        return {'tool': self.name, 'arguments': self.arguments, 'result': self.result}


@dataclass(frozen=True)
class Reasoning:
    """The composed answer, the trace of tool calls in order, model turns used and seconds taken."""

    question: str
    answer: str
    trace: tuple
    steps: int
    elapsed_s: float

    def to_dict(self) -> dict:
        return {'question': self.question, 'answer': self.answer, 'trace': [t.to_dict() for t in self.trace],
                'steps': self.steps, 'elapsed_s': round(self.elapsed_s, 3)}


# A planner turn: (final answer text or None, [(call id, tool name, arguments), ...]).
Turn = tuple


class ChatPlanner:
    """An OpenAI-compatible chat-completions server with tool calling (vLLM, SGLang, Ollama, llama.cpp,
    transformers serve), configured by :class:`~.openai_backend.OpenAIConfig`."""

    def __init__(self, config) -> None:
        self.config = config
        self.url = config.base_url.rstrip('/') + '/chat/completions'
        self.messages: list = []
        self.tools: list = []

    def start(self, question: str, tool_defs: list, image=None) -> None:
        from .openai_backend import encode_data_url

        content = [{'type': 'text', 'text': question}]
        if image is not None:
            content.insert(0, {'type': 'image_url', 'image_url': {'url': encode_data_url(image)}})
        self.messages = [{'role': 'system', 'content': self.config.system_prompt or SYSTEM_PROMPT},
                         {'role': 'user', 'content': content}]
        self.tools = tool_defs

    def turn(self, timeout_s: float) -> Turn:
        import os

        body = {'model': self.config.model, 'messages': self.messages, 'tools': self.tools, 'tool_choice': 'auto',
                'max_tokens': max(self.config.max_new_tokens, 256), 'temperature': self.config.temperature}
        headers = {'Content-Type': 'application/json'}
        key = os.environ.get(self.config.api_key_env, '') if self.config.api_key_env else ''
        if key:
            headers['Authorization'] = f'Bearer {key}'
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method='POST')
        try:
            with urllib.request.urlopen(req, timeout=max(0.05, min(self.config.timeout_s, timeout_s))) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode('utf-8', 'replace')
            raise VLMError(f'HTTP {err.code} from {self.url}: {detail}', kind='server') from err
        except (TimeoutError, OSError) as err:
            if 'timed out' in str(err) or isinstance(err, TimeoutError):
                raise VLMError(f'no answer from {self.url} within the time limit', kind='timeout') from err
            raise VLMError(f'cannot reach {self.url}: {err}; is the server running?', kind='server') from err
        try:
            message = json.loads(raw)['choices'][0]['message']
            calls = message.get('tool_calls') or []
            parsed = [(c.get('id', f'call_{i}'), c['function']['name'], c['function'].get('arguments') or '{}')
                      for i, c in enumerate(calls)]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            raise VLMError(f'malformed chat-completions response from {self.url}: {raw[:200]!r}',
                           kind='protocol') from err
        self.messages.append({'role': 'assistant', 'content': message.get('content'), 'tool_calls': calls}
                             if calls else {'role': 'assistant', 'content': message.get('content') or ''})
        out = []
        for cid, name, arguments in parsed:
            try:
                args = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                args = arguments  # run_tool tells the model its arguments were not a JSON object
            out.append((cid, name, args))
        content = message.get('content')
        text = content.strip() if isinstance(content, str) and not calls else None
        return (text or None), out

    def results(self, answered: list) -> None:
        for cid, result in answered:
            self.messages.append({'role': 'tool', 'tool_call_id': cid, 'content': json.dumps(result)})

    def nudge(self) -> None:
        self.messages.append({'role': 'user', 'content': 'Call a tool, or give the final answer as text.'})


_JSON = re.compile(r'\{.*\}', re.S)


class TextPlanner:
    """Any :class:`~.base.VLMBackend` (a local model without tool calling) as the planner: the tools
    are described in the prompt and the model replies with one JSON object, ``{"tool": NAME,
    "arguments": {...}}`` or ``{"answer": TEXT}``; the conversation so far is the next question."""

    def __init__(self, backend, image=None) -> None:
        self.backend = backend
        self.image = image
        self.lines: list = []

    def start(self, question: str, tool_defs: list, image=None) -> None:
        if image is not None:
            self.image = image
        described = '\n'.join(f'- {t["function"]["name"]}: {t["function"]["description"]} arguments: '
                              f'{json.dumps(t["function"]["parameters"]["properties"])}' for t in tool_defs)
        self.lines = [SYSTEM_PROMPT, 'Tools:\n' + described,
                      'Reply with one JSON object only: {"tool": NAME, "arguments": {...}} to call a tool, or '
                      '{"answer": TEXT} for the final answer.', f'Question: {question}']

    def turn(self, timeout_s: float) -> Turn:
        images = [] if self.image is None else [self.image]
        text = self.backend.ask(images, '\n'.join(self.lines))
        self.lines.append(f'Assistant: {text}')
        m = _JSON.search(text or '')
        try:
            doc = json.loads(m.group(0)) if m else None
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get('answer'), str) and doc['answer'].strip():
            return doc['answer'].strip(), []
        if isinstance(doc, dict) and isinstance(doc.get('tool'), str):
            return None, [(f'call_{len(self.lines)}', doc['tool'], doc.get('arguments') or {})]
        return None, []

    def results(self, answered: list) -> None:
        for _, result in answered:
            self.lines.append(f'Tool result: {json.dumps(result)}')

    def nudge(self) -> None:
        self.lines.append('That was not one JSON object with "tool" or "answer". Reply with one.')


def reason(planner, scene: SceneFacts, question: str, image=None, vlm=None, max_steps: int = 8,
           time_limit_s: float = 60.0) -> Reasoning:
    """Answer ``question`` about ``scene`` with ``planner`` (:class:`ChatPlanner` or :class:`TextPlanner`).

    image: HxWx3 uint8 RGB sent with the question (None: text only). vlm: a
        :class:`~.base.VLMBackend` for ``ask_vlm`` (asked about ``image``), or None.
    max_steps: model turns at most (each may call several tools). time_limit_s: wall-clock limit.
    Raises VLMError: kind 'no_answer' when the model gave no usable answer within ``max_steps``,
    'timeout' past ``time_limit_s``; the backend's own errors (server down, ...) as they are.
    """
    if not isinstance(question, str) or not question.strip():
        raise VLMError(f'the question must be non-empty text, got {question!r}', kind='input')
    if max_steps < 1 or not time_limit_s > 0:
        raise VLMError(f'max_steps >= 1 and time_limit_s > 0 expected, got {max_steps}, {time_limit_s}', kind='config')
    ask_vlm = None
    if vlm is not None:
        ask_vlm = lambda q: vlm.ask([] if image is None else [image], q)  # noqa: E731
    planner.start(question, tools(scene.names, vlm=vlm is not None), image)
    t0 = time.monotonic()
    trace: list = []
    for step in range(1, max_steps + 1):
        left = time_limit_s - (time.monotonic() - t0)
        if left <= 0:
            break
        answer, calls = planner.turn(left)
        if calls:
            answered = []
            for cid, name, args in calls:
                result = run_tool(scene, name, args, ask_vlm)
                trace.append(ToolCall(name, args, result))
                answered.append((cid, result))
            planner.results(answered)
        elif answer:
            return Reasoning(question, answer, tuple(trace), step, time.monotonic() - t0)
        else:
            planner.nudge()
    elapsed = time.monotonic() - t0
    if elapsed >= time_limit_s:
        raise VLMError(f'the model gave no usable answer within the time limit of {time_limit_s:g} s '
                       f'({len(trace)} tool call(s))', kind='timeout')
    raise VLMError(f'the model gave no usable answer within the step limit of {max_steps} step(s) '
                   f'({len(trace)} tool call(s) made)', kind='no_answer')
