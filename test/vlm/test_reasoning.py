"""Chain-of-thought spatial reasoning (``vlm.reasoning``): tools generated from the vocabulary answer from
the frame's depth facts; the tool-call protocol end to end against a scripted OpenAI-compatible server; step
and time limits end a model that never answers with a VLMError; a tiny random local model fails cleanly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spatialvlm_ros.core import vocabulary as vocab
from spatialvlm_ros.vlm import VLMError
from spatialvlm_ros.vlm.openai_backend import OpenAIConfig
from spatialvlm_ros.vlm.reasoning import ChatPlanner, SceneFacts, TextPlanner, reason, run_tool, tools
from support.chat_server import ChatServer, tool_call, tool_script

# camera optical frame: x right, y down, z forward; camera-frame up (-y)
SCENE = SceneFacts(
    centers={'block': np.array([-0.10, 0.05, 0.80]), 'target': np.array([0.12, 0.05, 0.85]),
             'mug': np.array([0.0, -0.05, 0.9])},
    sizes={'block': np.array([0.05, 0.05, 0.05]), 'target': np.array([0.08, 0.01, 0.08]),
           'mug': np.array([0.30, 0.12, 0.09])},
    missing=('kettle',))


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def _planner(server, **kw):
    return ChatPlanner(OpenAIConfig(base_url=server.url, model='planner', timeout_s=5.0, **kw))


def test_tools_come_from_the_vocabulary_and_name_the_scene_objects():
    defs = {t['function']['name']: t['function'] for t in tools(SCENE.names)}
    assert set(defs) == {'objects', 'measure', 'size', 'check', 'which'}
    assert 'ask_vlm' in {t['function']['name'] for t in tools(SCENE.names, vlm=True)}
    metric = defs['measure']['parameters']['properties']['relation']['enum']
    assert 'distance' in metric and 'vertical_distance' in metric
    assert set(defs['check']['parameters']['properties']['relation']['enum']) >= {'left_of', 'above', 'bigger'}
    assert defs['measure']['parameters']['properties']['a']['enum'] == ['block', 'target', 'mug']


def test_a_relation_registered_later_is_a_tool_choice():
    rel = vocab.Relation('throwaway_gap', 'metric', measure=lambda m: 1.0, uses=frozenset({'facts'}),
                         questions=('How big is the throwaway gap between the {a} and the {b}?',))
    vocab.register(rel)
    try:
        measure = next(t for t in tools(SCENE.names) if t['function']['name'] == 'measure')['function']
        assert 'throwaway_gap' in measure['parameters']['properties']['relation']['enum']
        assert 'throwaway gap' in measure['description']
        assert run_tool(SCENE, 'measure', {'relation': 'throwaway_gap', 'a': 'block', 'b': 'mug'})['value'] == 1.0
    finally:
        vocab.unregister('throwaway_gap')


def test_tool_results_are_the_depth_measurements_and_bad_calls_are_told_to_the_model():
    d = run_tool(SCENE, 'measure', {'relation': 'distance', 'a': 'block', 'b': 'target'})
    assert d['value'] == pytest.approx(np.linalg.norm(SCENE.centers['block'] - SCENE.centers['target']), abs=1e-4)
    assert run_tool(SCENE, 'size', {'dimension': 'width', 'object': 'mug'})['value'] == pytest.approx(0.30)
    assert run_tool(SCENE, 'check', {'relation': 'left_of', 'a': 'block', 'b': 'target'})['holds'] is True
    assert run_tool(SCENE, 'check', {'relation': 'bigger', 'a': 'block', 'b': 'mug'})['holds'] is False
    assert run_tool(SCENE, 'which', {'relation': 'which_left', 'a': 'target', 'b': 'block'})['answer'] == 'block'
    assert 'was not found' in run_tool(SCENE, 'measure', {'relation': 'distance', 'a': 'kettle', 'b': 'mug'})['error']
    assert 'unknown relation' in run_tool(SCENE, 'measure', {'relation': 'left_of', 'a': 'block', 'b': 'mug'})['error']
    assert 'unknown tool' in run_tool(SCENE, 'teleport', {})['error']
    assert 'JSON object' in run_tool(SCENE, 'measure', 'not json')['error']


def test_two_step_question_over_the_tool_call_protocol(server):
    def compose(results):
        gap, width = results[0]['value'], results[1]['value']
        return f'The gap between the block and the target is {gap:.3f} m, the mug is {width:.3f} m wide: ' + (
            'yes, it fits.' if width < gap else 'no, it does not fit.')

    server.message_fn = tool_script(
        [tool_call('c1', 'measure', relation='distance', a='block', b='target'),
         tool_call('c2', 'size', dimension='width', object='mug')],
        compose)
    q = 'Can the mug fit between the block and the target?'
    out = reason(_planner(server), SCENE, q, image=np.zeros((8, 8, 3), np.uint8))
    gap = float(np.linalg.norm(SCENE.centers['block'] - SCENE.centers['target']))
    assert gap < 0.30 and out.answer.endswith('no, it does not fit.') and f'{gap:.3f}' in out.answer
    assert [t.name for t in out.trace] == ['measure', 'size'] and out.steps == 2
    assert out.trace[0].arguments == {'relation': 'distance', 'a': 'block', 'b': 'target'}
    assert json.loads(json.dumps(out.to_dict()))['trace'][1]['result']['value'] == pytest.approx(0.30)
    # the protocol: tools offered, the assistant's tool_calls echoed back, one role: tool message per call
    first, second = server.requests[0][2], server.requests[1][2]
    assert {t['function']['name'] for t in first['tools']} >= {'measure', 'size'} and first['tool_choice'] == 'auto'
    assert first['messages'][1]['content'][0]['type'] == 'image_url'
    assert second['messages'][2]['tool_calls'][0]['id'] == 'c1'
    tool_msgs = [m for m in second['messages'] if m['role'] == 'tool']
    assert [m['tool_call_id'] for m in tool_msgs] == ['c1', 'c2']


def test_a_model_that_never_answers_ends_at_the_step_limit(server):
    server.message_fn = tool_script([tool_call('c', 'objects')])  # tool calls forever
    with pytest.raises(VLMError, match='no usable answer within the step limit of 3') as err:
        reason(_planner(server), SCENE, 'Where is the mug?', max_steps=3)
    assert err.value.kind == 'no_answer' and len(server.requests) == 3


def test_empty_replies_are_not_answers(server):
    server.message_fn = tool_script('')
    with pytest.raises(VLMError, match='step limit of 2'):
        reason(_planner(server), SCENE, 'Where is the mug?', max_steps=2)
    assert server.requests[1][2]['messages'][-1]['role'] == 'user'  # nudged


def test_the_time_limit_ends_a_slow_model(server):
    server.script = ['slow'] * 5  # each reply takes 0.6 s
    server.message_fn = tool_script([tool_call('c', 'objects')])
    with pytest.raises(VLMError, match='time limit') as err:
        reason(_planner(server), SCENE, 'Where is the mug?', max_steps=50, time_limit_s=0.3)
    assert err.value.kind == 'timeout'


class _Scripted:
    """A VLMBackend-like text model replying from a list."""

    def __init__(self, replies):
        self.replies, self.prompts = list(replies), []

    def ask(self, images, question):
        self.prompts.append(question)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def test_text_planner_protocol_for_models_without_tool_calling():
    model = _Scripted(['{"tool": "measure", "arguments": {"relation": "distance", "a": "block", "b": "mug"}}',
                       'Sure! {"answer": "About 0.2 m."}'])
    out = reason(TextPlanner(model), SCENE, 'How far is the block from the mug?')
    assert out.answer == 'About 0.2 m.' and out.trace[0].result['value'] > 0
    assert 'Tool result' in model.prompts[1] and '"measure"' not in model.prompts[0].split('Tools:')[0]
    with pytest.raises(VLMError, match='step limit of 4'):
        reason(TextPlanner(_Scripted(['I think it is near.'])), SCENE, 'Where is the mug?', max_steps=4)


def test_tiny_random_local_model_fails_cleanly(tmp_path):
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from spatialvlm_ros.vlm import make_backend
    from support import tiny_vlm

    tiny_vlm.build_llava(tmp_path / 'llava')
    model = make_backend('llava', model=str(tmp_path / 'llava'), device='cpu', dtype='fp32', max_new_tokens=8)
    try:
        with pytest.raises(VLMError, match='no usable answer within the step limit of 2'):
            reason(TextPlanner(model), SCENE, 'Can the mug fit between the block and the target?',
                   image=np.full((32, 32, 3), 128, np.uint8), max_steps=2, time_limit_s=120)
    finally:
        model.close()
