"""The vlm_reward node in its own process over loopback DDS, with a local chat-completions
server as its VLM: rewards from the VLM's distances stamped with their frame, the depth
cross-check, fallback to depth when the server fails, and questions over ROS."""

import json
import time
import xml.etree.ElementTree as ET

import pytest

rclpy = pytest.importorskip('rclpy')

from support.vlm_node import Client, vlm_answer  # noqa: E402
from support.chat_server import ChatServer  # noqa: E402
from support.paths import REPO  # noqa: E402

ROOT = REPO


@pytest.fixture(scope='module')
def graph(node_processes, ros_harness):
    server = ChatServer()
    server.answer_fn = vlm_answer
    try:
        procs = node_processes
        proc = procs.start('vlm_reward_node', 'vlm_reward',
                           {'color/image_raw': '/camera/color/image_raw', 'objects': '/spatial_facts/objects'},
                           {'backend': 'openai', 'base_url': server.url, 'model': 'spaceqwen', 'retries': 0,
                            'timeout_s': 2.0, 'period_s': 0.0, 'fallback': 'depth', 'qos_reliability': 'reliable',
                            'qos_depth': 50, 'diagnostics_period_s': 0.2})
        c = ros_harness('vlm_test_client', cls=Client).start()
        c.wait_connected(procs, publishers=['image', 'question', 'objects'], topics=['/vlm_reward/detail'])
        time.sleep(0.5)
        yield c, proc, server, procs
    finally:
        server.close()


def test_reward_from_the_vlm_stamped_with_its_frame_and_checked_against_depth(graph):
    c, proc, server, _ = graph
    stamp = 1_700_000_100_250_000_000
    c.frame(stamp)
    d = c.wait_for(c.details, stamp)
    assert d['stamp'] == {'sec': 1_700_000_100, 'nanosec': 250_000_000} and d['frame_id'] == 'cam_optical'
    assert d['source'] == 'vlm' and d['valid'] and d['error'] is None
    assert d['stage_name'] == 'reach' and d['reward'] == pytest.approx(0.1 / (0.1 + 0.25 - 0.05))  # stacked_progress, reach
    assert d['distances'] == {'gripper-block': pytest.approx(0.25), 'block-target': pytest.approx(0.4)}
    assert d['answers']['gripper-block']['answer'] == 'The yellow gripper is about 25 cm from the red block.'
    assert d['depth_distances']['gripper-block'] == pytest.approx(0.2)
    assert d['disagreement']['gripper-block'] == {'abs_m': pytest.approx(0.05), 'rel': pytest.approx(0.25)}
    assert d['disagreement']['block-target'] == {'abs_m': pytest.approx(0.1), 'rel': pytest.approx(1 / 3, abs=1e-5)}
    body = server.requests[-1][2]
    assert body['messages'][0]['content'][0]['image_url']['url'].startswith('data:image/png;base64,')


def test_a_failing_server_falls_back_to_depth_and_the_node_stays_up(graph):
    c, proc, server, procs = graph
    server.script = ['500'] * 2  # both questions of the frame fail
    stamp = 1_700_000_101_000_000_000
    c.frame(stamp)
    d = c.wait_for(c.details, stamp)
    assert d['source'] == 'depth_fallback' and d['valid'] and 'HTTP 500' in d['error']
    assert d['reward'] == pytest.approx(0.1 / (0.1 + 0.2 - 0.05))  # stacked_progress, reach
    assert proc.poll() is None
    diag = c.wait_diagnostics('vlm_reward', lambda d: bool(d.get('rejected_backend_server')), timeout=5)
    assert diag['rejected_backend_server'] == '1' and 'HTTP 500' in diag['last_error_backend_server']
    assert int(diag['requests_failed']) >= 1 and diag['backend'] == 'openai'
    # and it recovers with the server
    stamp2 = stamp + 500_000_000
    c.frame(stamp2)
    assert c.wait_for(c.details, stamp2)['source'] == 'vlm'
    assert 'skipped input (backend_server, 1 so far)' in procs.log('vlm_reward')


def test_questions_over_ros_are_answered_with_value_and_frame_stamp(graph):
    c, _, _, _ = graph
    stamp = 1_700_000_102_000_000_000
    c.frame(stamp)
    c.wait_for(c.details, stamp)
    c.ask(json.dumps({'request_id': 'q-1', 'question': 'How far is the red block from the blue target?'}))
    c.ask(json.dumps({'request_id': 'q-2', 'question': 'Is the sky blue?'}))
    a1, a2 = c.wait_for(c.answers, 'q-1'), c.wait_for(c.answers, 'q-2')
    assert a1['answer'] == 'About 0.4 meters.' and a1['value_m'] == pytest.approx(0.4) and a1['error'] is None
    assert a1['stamp_ns'] == stamp and a1['stamp'] == {'sec': 1_700_000_102, 'nanosec': 0}
    assert a2['answer'] == 'I cannot tell.' and a2['value_m'] is None and a2['yes_no'] is None
    c.ask('{"request_id": "q-3"}')
    a3 = c.wait_for(c.answers, 'q-3')
    assert a3['answer'] is None and 'malformed question' in a3['error']


def test_launch_starts_vlm_reward_only_when_asked():
    root = ET.parse(ROOT / 'launch' / 'spatialvlm.launch.xml').getroot()
    node = [n for n in root.findall('node') if n.get('exec') == 'vlm_reward_node'][0]
    assert node.get('if') == '$(var vlm_reward)'
    args = {a.get('name'): a.get('default') for a in root.findall('arg')}
    assert args['vlm_reward'] == 'false'


def test_an_unreadable_answer_falls_back_to_depth(graph):
    c, _, server, _ = graph
    server.answer_fn = lambda q, n: 'I cannot tell.'
    try:
        stamp = 1_700_000_103_000_000_000
        c.frame(stamp)
        d = c.wait_for(c.details, stamp)
    finally:
        server.answer_fn = vlm_answer
    assert d['source'] == 'depth_fallback' and d['valid'] and 'no distance in the answer' in d['error']
    assert d['answers']['gripper-block']['answer'] == 'I cannot tell.'
    assert d['reward'] == pytest.approx(0.1 / (0.1 + 0.2 - 0.05))  # the depth reward


def test_questions_are_served_concurrently(graph):
    c, _, server, _ = graph
    stamp = 1_700_000_104_000_000_000
    c.frame(stamp)
    c.wait_for(c.details, stamp)
    server.slow_s = 1.2
    server.script = ['slow'] * 3
    try:
        t0 = time.monotonic()
        for i in range(3):
            c.ask(json.dumps({'request_id': f'c-{i}', 'question': 'How far is the red block from the blue target?'}))
        answers = [c.wait_for(c.answers, f'c-{i}') for i in range(3)]
        dt = time.monotonic() - t0
    finally:
        server.slow_s, server.script = 0.6, []
    assert all(a['error'] is None for a in answers)
    assert dt < 2 * 1.2, dt  # one at a time would take 3 x 1.2 s
