"""vlm_reward's reasoning mode over DDS: a question on ~/question is split by a tool-calling planner (a scripted
OpenAI-compatible server here, the tool-call protocol end to end) into spatial queries answered from the newest
depth objects document, and answered with its trace."""

import json
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from support.chat_server import ChatServer, tool_call, tool_script  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from support.vlm_node import CENTRES, Client, image, objects_doc  # noqa: E402


def send_frame(client, stamp):
    """An objects document as spatial_facts publishes it (gravity sizes, camera box, the frame's up), then the image."""
    doc = objects_doc(stamp)
    for o in doc['objects']:
        o['extent_camera_m'] = [0.05] * 3
    doc['up'] = [0.0, -1.0, 0.0]
    client.publish('objects', String(data=json.dumps(doc)))
    time.sleep(0.1)
    client.publish('image', image(stamp))


@pytest.fixture(scope='module')
def reasoning(node_processes, ros_harness):
    server, vlm = ChatServer(), ChatServer()  # the planner's server and the VLM's
    try:
        procs = node_processes
        procs.start('vlm_reward_node', 'vlm_reward',
                    {'color/image_raw': '/camera/color/image_raw', 'objects': '/spatial_facts/objects'},
                    {'backend': 'openai', 'base_url': vlm.url, 'model': 'spaceqwen', 'retries': 0,
                     'timeout_s': 2.0, 'period_s': 1000.0, 'qos_reliability': 'reliable', 'qos_depth': 50,
                     'question_mode': 'reasoning', 'planner_base_url': server.url, 'planner_model': 'planner',
                     'reasoning_max_steps': 4, 'reasoning_time_limit_s': 10.0})
        c = ros_harness('vlm_reasoning_client', cls=Client).start()
        c.wait_connected(procs, publishers=['image', 'question', 'objects'], topics=['/vlm_reward/answer'])
        time.sleep(0.5)
        yield c, server
    finally:
        server.close()
        vlm.close()


def test_a_two_step_question_is_answered_from_depth_with_its_trace(reasoning):
    client, server = reasoning

    def compose(results):
        gap, width = results[0]['value'], results[1]['value']
        return f'The gap is {gap:.3f} m and the block is {width:.3f} m wide, so ' + (
            'it fits.' if width < gap else 'it does not fit.')

    server.message_fn = tool_script(
        [tool_call('c1', 'measure', relation='distance', a='gripper', b='target'),
         tool_call('c2', 'size', dimension='width', object='block')], compose)
    send_frame(client, 1_700_000_000_000_000_000)
    time.sleep(0.3)
    client.ask(json.dumps({'request_id': 'fit', 'question': 'Would the block fit between the gripper and the target?'}))
    doc = client.wait_for(client.answers, 'fit', timeout=20)
    assert doc['error'] is None, doc['error']
    gap = float(np.linalg.norm(np.subtract(CENTRES['gripper'], CENTRES['target'])))
    assert [t['tool'] for t in doc['trace']] == ['measure', 'size']
    assert doc['trace'][0]['result']['value'] == pytest.approx(gap, abs=1e-3)
    assert doc['trace'][1]['result']['value'] == pytest.approx(0.05, abs=1e-3)  # extent_m of the objects document
    assert doc['answer'].endswith('it fits.') and f'{gap:.3f}' in doc['answer']
    planner = [b for _, _, b in server.requests if b.get('tools')]
    assert planner and planner[0]['model'] == 'planner'


def test_a_planner_that_never_answers_ends_cleanly_at_the_step_limit(reasoning):
    client, server = reasoning
    server.message_fn = tool_script([tool_call('c', 'objects')])  # tool calls forever
    client.ask(json.dumps({'request_id': 'loop', 'question': 'Where is the block?'}))
    doc = client.wait_for(client.answers, 'loop', timeout=20)
    assert doc['answer'] is None and 'step limit of 4' in doc['error']
