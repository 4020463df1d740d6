"""The OpenAI-compatible client against a local chat-completions server (127.0.0.1, in a thread):
answers, images as data URLs, the API key header, timeouts, 5xx with retries, malformed JSON,
4xx and a dead server."""

import base64
import socket
import time

import numpy as np
import pytest

from spatialvlm_ros.vlm import VLMError, make_backend
from spatialvlm_ros.vlm.openai_backend import encode_data_url
from support.chat_server import ChatServer

RGB = np.zeros((8, 10, 3), np.uint8)
RGB[2:4, 3:6] = (255, 0, 0)


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def client(url, **kw):
    opts = dict(base_url=url, model='spaceqwen', timeout_s=0.4, retries=2, backoff_s=0.01)
    opts.update(kw)
    return make_backend('openai', **opts)


def test_answer_request_shape_and_key_header(server, monkeypatch):
    monkeypatch.setenv('TEST_VLM_KEY', 'sk-secret')
    b = client(server.url, api_key_env='TEST_VLM_KEY')
    answer = b.ask([RGB, RGB], 'How far is the red block from the blue target?')
    assert answer == '2 image(s); about 42 cm for: How far is the red block from the blue target?'
    path, headers, body = server.requests[0]
    assert path == '/v1/chat/completions'
    assert headers['Authorization'] == 'Bearer sk-secret'
    assert body['model'] == 'spaceqwen' and body['temperature'] == 0.0 and body['max_tokens'] == 64
    url = body['messages'][0]['content'][0]['image_url']['url']
    assert url.startswith('data:image/png;base64,')
    import cv2

    png = np.frombuffer(base64.b64decode(url.split(',', 1)[1]), np.uint8)
    assert np.array_equal(cv2.imdecode(png, cv2.IMREAD_COLOR)[:, :, ::-1], RGB)  # lossless, RGB order kept


def test_no_key_no_header_and_key_never_in_errors(server, monkeypatch):
    monkeypatch.delenv('UNSET_KEY_VAR', raising=False)
    client(server.url, api_key_env='UNSET_KEY_VAR').ask([RGB], 'How far?')
    assert 'Authorization' not in server.requests[0][1]
    monkeypatch.setenv('TEST_VLM_KEY', 'sk-secret')
    server.script = ['400']
    with pytest.raises(VLMError) as err:
        client(server.url, api_key_env='TEST_VLM_KEY').ask([RGB], 'How far?')
    assert 'HTTP 400' in str(err.value) and 'sk-secret' not in str(err.value) and 'TEST_VLM_KEY' in str(err.value)
    assert len(server.requests) == 2  # 4xx is not retried


def test_5xx_is_retried_with_backoff_then_succeeds(server):
    server.script = ['500', '500']
    t0 = time.monotonic()
    assert '42 cm' in client(server.url, backoff_s=0.05).ask([RGB], 'How far?')
    assert len(server.requests) == 3
    assert time.monotonic() - t0 >= 0.05 + 0.1  # 0.05 s then 0.1 s


def test_5xx_beyond_retries_raises_server_error(server):
    server.script = ['500'] * 3
    with pytest.raises(VLMError, match=r'HTTP 500 .*after 3 attempts') as err:
        client(server.url).ask([RGB], 'How far?')
    assert err.value.kind == 'server'


@pytest.mark.parametrize('stream', [True, False])
def test_timeout_is_not_resent(server, stream):
    server.script = ['slow']
    t0 = time.monotonic()
    with pytest.raises(VLMError, match='within 0.3 s.*not resent') as err:
        client(server.url, timeout_s=0.3, retries=2, stream=stream).ask([RGB], 'How far?')
    assert err.value.kind == 'timeout' and len(server.requests) == 1
    assert time.monotonic() - t0 < 0.3 + 0.25
    assert '42 cm' in client(server.url, stream=stream).ask([RGB], 'How far?')


def test_a_batch_stops_sending_after_a_timeout_and_keeps_the_answers(server):
    server.script = ['ok', 'slow', 'ok']
    b = client(server.url, timeout_s=0.3, max_concurrency=1)
    results = b.ask_batch_results([([RGB], f'q{i}') for i in range(5)])
    assert '42 cm' in results[0] and results[1].kind == 'timeout'
    assert all(isinstance(r, VLMError) and 'not sent' in str(r) for r in results[2:])
    assert len(server.requests) == 2
    server.script = ['slow']
    with pytest.raises(VLMError, match='within 0.3 s'):  # ask_batch raises the first failure
        client(server.url, timeout_s=0.3).ask_batch([([RGB], 'q')] * 3)


def test_all_attempts_end_by_retries_plus_one_timeouts(server):
    server.script = ['500'] * 10
    t0 = time.monotonic()
    with pytest.raises(VLMError, match='HTTP 500'):
        client(server.url, timeout_s=0.2, retries=5, backoff_s=0.5).ask([RGB], 'How far?')  # back-off 0.5+1+2...
    assert time.monotonic() - t0 < 6 * 0.2 + 0.2


@pytest.mark.parametrize('stream', [True, False])
def test_a_cut_off_answer_is_retried_and_a_vlm_error(server, stream):
    server.script = ['cut']
    assert '42 cm' in client(server.url, stream=stream).ask([RGB], 'How far?')
    server.script = ['cut'] * 3
    with pytest.raises(VLMError, match='cut off|broke off|ended before') as err:
        client(server.url, stream=stream).ask([RGB], 'How far?')
    assert err.value.kind == 'server' and 'after 3 attempts' in str(err.value)


@pytest.mark.parametrize('stream', [True, False])
def test_finish_reason_length_is_kept(server, stream):
    server.script = ['length']
    a = client(server.url, stream=stream).ask([RGB], 'How far?')
    assert a.truncated and a.finish_reason == 'length' and a == '1 image(s); '.strip()
    assert not client(server.url, stream=stream).ask([RGB], 'How far?').truncated


def test_hints_fit_the_failure(server):
    server.script = ['500'] * 3
    with pytest.raises(VLMError) as err:
        client(server.url).ask([RGB], 'How far?')
    assert 'overloaded' in str(err.value) and 'is the server running' not in str(err.value)
    server.script = ['404']
    with pytest.raises(VLMError, match=r'HTTP 404 .*Not Found.*including the version.*/v1') as err:
        client(server.url).ask([RGB], 'How far?')
    assert err.value.kind == 'request'


def test_malformed_json_is_a_protocol_error_not_retried(server):
    server.script = ['malformed']
    with pytest.raises(VLMError, match='malformed chat-completions response') as err:
        client(server.url).ask([RGB], 'How far?')
    assert err.value.kind == 'protocol' and len(server.requests) == 1


def test_dead_server(server):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with pytest.raises(VLMError, match=r'connection refused.*is the server running.*after 2 attempts') as err:
        client(f'http://127.0.0.1:{port}/v1', retries=1).ask([RGB], 'How far?')
    assert err.value.kind == 'server'


def test_batch_is_concurrent_and_ordered(server):
    b = client(server.url, max_concurrency=3)
    qs = [f'How far is object {i}?' for i in range(5)]
    answers = b.ask_batch([([RGB], q) for q in qs])
    assert [a.split('for: ')[1] for a in answers] == qs
    b.close()


@pytest.mark.parametrize('kw,match', [
    ({'base_url': 'localhost:8000'}, 'expected an http'),
    ({'model': ''}, 'served model name'),
    ({'timeout_s': 0}, 'timeout_s: expected a number of seconds > 0'),
    ({'retries': -1}, 'retries: expected an integer >= 0'),
    ({'max_concurrency': 0}, 'max_concurrency: expected an integer >= 1'),
])
def test_config_validation(kw, match):
    opts = dict(base_url='http://127.0.0.1:1/v1', model='m')
    opts.update(kw)
    with pytest.raises(VLMError, match=match):
        make_backend('openai', **opts)


def test_data_url_rejects_non_images():
    with pytest.raises(VLMError, match='HxWx3 uint8'):
        encode_data_url(np.zeros((4, 4), np.float32))
