"""vlm_reward in its own process against a real OpenAI-compatible server (``transformers serve``
with a tiny random LLaVA, support/real_server.py): a hung server (SIGSTOP) costs a frame at most
(retries + 1) x timeout_s and falls back to depth, queued questions do not wait behind each
other's timeouts, and the server has no work left over once it runs again."""

import json
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from support.vlm_node import Client  # noqa: E402

TIMEOUT, RETRIES = 1.0, 2


@pytest.fixture(scope='module')
def graph(node_processes, ros_harness, real_server):
    proc = node_processes.start('vlm_reward_node', 'vlm_reward',
                                {'color/image_raw': '/camera/color/image_raw', 'objects': '/spatial_facts/objects'},
                                {'backend': 'openai', 'base_url': real_server.url, 'model': real_server.model,
                                 'retries': RETRIES, 'timeout_s': TIMEOUT, 'backoff_s': 0.05, 'max_new_tokens': 8,
                                 'period_s': 0.0, 'fallback': 'depth', 'qos_reliability': 'reliable', 'qos_depth': 50,
                                 'diagnostics_period_s': 0.2})
    c = ros_harness('vlm_real_client', cls=Client).start()
    c.wait_connected(node_processes, publishers=['image', 'question', 'objects'], topics=['/vlm_reward/detail'])
    time.sleep(0.5)
    return c, proc, real_server


def test_random_answers_fall_back_to_depth(graph):
    c, proc, _ = graph
    stamp = 1_700_000_200_000_000_000
    c.frame(stamp)
    d = c.wait_for(c.details, stamp)
    assert d['source'] == 'depth_fallback' and d['valid']  # random characters state no distance
    assert 'cut off at max_new_tokens' in d['error']


def test_a_hung_server_costs_a_frame_at_most_the_bound(graph):
    c, proc, server = graph
    server.pause()
    try:
        stamp = 1_700_000_201_000_000_000
        t0 = time.monotonic()
        c.frame(stamp)
        for i in range(3):
            c.ask(json.dumps({'request_id': f'h-{i}', 'question': 'How far is the red block from the blue target?'}))
        d = c.wait_for(c.details, stamp, timeout=10)
        answers = [c.wait_for(c.answers, f'h-{i}', timeout=10) for i in range(3)]
        dt = time.monotonic() - t0
    finally:
        server.resume()
    assert d['source'] == 'depth_fallback' and 'within 1 s' in d['error']
    assert all('within 1 s' in a['error'] for a in answers)
    assert dt < (RETRIES + 1) * TIMEOUT + 0.6, dt  # 3 questions concurrently, not 3 timeouts in a row
    assert proc.poll() is None
    t0 = time.monotonic()
    server.ask_raw(max_tokens=8, timeout_s=10)
    assert time.monotonic() - t0 < 2.0  # nothing piled up on the server
    stamp2 = stamp + 1_000_000_000
    c.frame(stamp2)
    assert c.wait_for(c.details, stamp2)['error'] is not None and 'within' not in c.wait_for(c.details, stamp2)['error']
