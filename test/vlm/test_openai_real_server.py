"""The openai backend against a real OpenAI-compatible server: ``transformers serve`` with a tiny
random LLaVA (support/real_server.py), over loopback. One test per fault class: wrong model, wrong
base URL, TLS to plain HTTP, an unresolvable host, a busy server (a long generation timed out),
a hung one (SIGSTOP), a body cut off, and the server stopped mid-run. Each must cost at most
(retries + 1) x timeout_s and leave nothing running on the server: a short request right after
is answered in its normal time."""

import time

import pytest

from spatialvlm_ros.vlm import VLMError, make_backend
from support.real_server import RGB, CuttingProxy

TIMEOUT = 1.0
RETRIES = 2
BOUND = (RETRIES + 1) * TIMEOUT + 0.5  # + start-up slack of the test's own process


def client(server, **kw):
    opts = dict(base_url=server.url, model=server.model, timeout_s=TIMEOUT, retries=RETRIES, backoff_s=0.05,
                max_new_tokens=8)
    opts.update(kw)
    return make_backend('openai', **opts)


def short_request_is_answered_promptly(server, within_s=1.0):
    """The server has no work left over: a short request is answered in its normal time."""
    t0 = time.monotonic()
    answer = client(server, timeout_s=10).ask([RGB], 'How far is the red block from the blue target?')
    dt = time.monotonic() - t0
    assert isinstance(answer, str) and dt < within_s, (dt, answer)
    return dt


def test_answers_stream_and_report_the_finish_reason(real_server):
    b = client(real_server, max_new_tokens=6)
    answer = b.ask([RGB], 'How far is the red block from the blue target?')
    assert isinstance(answer, str) and answer.finish_reason == 'length' and answer.truncated
    assert len(b.ask_batch([([RGB], 'q1'), ([RGB], 'q2'), ([RGB], 'q3')])) == 3
    b2 = client(real_server, stream=False, max_new_tokens=6)
    assert b2.ask([RGB], 'How far?').finish_reason == 'length'  # the non-streaming path too


def test_wrong_model_is_one_request_with_the_servers_own_text(real_server):
    t0 = time.monotonic()
    with pytest.raises(VLMError) as err:
        client(real_server, model='spaceqwen-typo').ask([RGB], 'How far?')
    assert time.monotonic() - t0 < 1.0
    assert err.value.kind == 'request' and 'HTTP 400' in str(err.value)
    assert 'pinned to' in str(err.value) and "'spaceqwen-typo'" in str(err.value)  # the server's words
    assert 'is the server running' not in str(err.value)


def test_wrong_base_url_says_v1(real_server):
    with pytest.raises(VLMError, match=r'HTTP 404 .*must name the API root including the version.*/v1') as err:
        client(real_server, base_url=real_server.url[:-len('/v1')]).ask([RGB], 'How far?')
    assert err.value.kind == 'request'


def test_tls_to_plain_http_and_unknown_host_are_not_retried(real_server):
    t0 = time.monotonic()
    with pytest.raises(VLMError, match=r'TLS .*use an http:// base_url') as err:
        client(real_server, base_url=real_server.url.replace('http://', 'https://')).ask([RGB], 'How far?')
    assert err.value.kind == 'config'
    with pytest.raises(VLMError, match='cannot resolve the host') as err:
        client(real_server, base_url='http://no-such-host.invalid:8000/v1').ask([RGB], 'How far?')
    assert err.value.kind == 'config' and time.monotonic() - t0 < BOUND


def test_a_timed_out_generation_is_cancelled_not_resent(real_server):
    # 3000 tokens take the server ~10 s; the client gives up after 1 s and closes the stream
    t0 = time.monotonic()
    with pytest.raises(VLMError, match='within 1 s.*not resent') as err:
        client(real_server, max_new_tokens=3000).ask([RGB], 'How far?')
    assert err.value.kind == 'timeout'
    assert time.monotonic() - t0 < TIMEOUT + 0.5  # one attempt: a timeout is not resent
    short_request_is_answered_promptly(real_server)  # the generation was cancelled


def test_a_batch_on_a_busy_server_costs_one_timeout(real_server):
    b = client(real_server, max_new_tokens=3000, max_concurrency=2)
    t0 = time.monotonic()
    results = b.ask_batch_results([([RGB], f'q{i}') for i in range(6)])
    assert all(isinstance(r, VLMError) and r.kind == 'timeout' for r in results)
    assert time.monotonic() - t0 < TIMEOUT + 0.5  # the unsent ones are not sent after the first timeout
    short_request_is_answered_promptly(real_server)


def test_a_hung_server_sigstop_costs_at_most_the_bound(real_server):
    real_server.pause()
    try:
        t0 = time.monotonic()
        results = client(real_server, max_concurrency=4).ask_batch_results([([RGB], f'q{i}') for i in range(6)])
        dt = time.monotonic() - t0
    finally:
        real_server.resume()
    assert all(isinstance(r, VLMError) and r.kind == 'timeout' for r in results)
    assert dt < BOUND
    short_request_is_answered_promptly(real_server, within_s=2.0)  # the 4 sent while stopped were dropped


@pytest.mark.parametrize('stream', [True, False])
def test_a_body_cut_off_is_a_vlm_error(real_server, stream):
    proxy = CuttingProxy(real_server.port, keep=300)  # the headers and a part of the body
    try:
        t0 = time.monotonic()
        # A timeout long enough that only the cut can end a request, even on a loaded machine.
        with pytest.raises(VLMError, match='cut off|broke off|ended before') as err:
            client(real_server, base_url=proxy.url, stream=stream, max_new_tokens=200, timeout_s=20).ask(
                [RGB], 'How far?')
        assert err.value.kind == 'server' and 'after 3 attempts' in str(err.value)  # a cut is retried
        assert time.monotonic() - t0 < (RETRIES + 1) * 20
    finally:
        proxy.close()
    short_request_is_answered_promptly(real_server)


def test_server_stopped_mid_run(real_server):
    b = client(real_server)
    b.ask([RGB], 'How far?')
    real_server.stop()
    try:
        t0 = time.monotonic()
        with pytest.raises(VLMError, match='connection refused.*is the server running.*after 3 attempts') as err:
            b.ask([RGB], 'How far?')
        assert err.value.kind == 'server' and time.monotonic() - t0 < BOUND
    finally:
        real_server.start()
    short_request_is_answered_promptly(real_server)
