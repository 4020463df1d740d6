"""OpenAI-compatible chat-completions client (vLLM, SGLang, Ollama, llama.cpp server, ...).

Standard library only (urllib): images go as base64 PNG data URLs in ``image_url`` parts.
The API key is read from an environment variable at call time and never logged. Answers stream;
a timeout closes the connection (cancelling the generation where the server supports it) and is
never resent. Refused or reset connections, cut-off answers, 429 and 5xx are retried with
exponential back-off within (retries + 1) x timeout_s; 4xx, TLS and DNS failures and malformed
JSON are not (retrying cannot fix them). See :class:`OpenAIBackend` for the policy.

Serve a model, e.g.::

    vllm serve remyxai/SpaceQwen2.5-VL-3B-Instruct --port 8000
    # base_url=http://127.0.0.1:8000/v1 model=remyxai/SpaceQwen2.5-VL-3B-Instruct
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional, Sequence

from ..core.options import option
from .base import Request, check_requests, register_backend, to_rgb
from .errors import VLMError

__all__ = ['Answer', 'OpenAIConfig', 'OpenAIBackend', 'encode_data_url']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenAIConfig:
    """Options of :class:`OpenAIBackend`."""

    base_url: str = option('http://127.0.0.1:8000/v1', 'Server URL including the API version, e.g. '
                           'http://127.0.0.1:8000/v1 (vLLM, SGLang) or http://localhost:11434/v1 (Ollama).')
    model: str = option('', 'Model name the server knows (vLLM: the served id; Ollama: e.g. "qwen2.5vl:3b").')
    api_key_env: str = option('OPENAI_API_KEY', "Environment variable holding the API key (never logged); '' or an "
                                                'unset variable: no key.')
    timeout_s: float = option(30.0, 'Seconds one answer may take (the whole answer); a request that times out is '
                                    'not resent, and all attempts of one frame end by (retries + 1) x timeout_s.')
    retries: int = option(2, 'Extra attempts after a refused or reset connection, a cut-off answer, HTTP 429 or 5xx '
                             '(never after a timeout).')
    backoff_s: float = option(0.5, 'First back-off delay in seconds; doubled after every failed attempt.')
    # Sent as the request's max_tokens; one name for every backend's token limit.
    max_new_tokens: int = option(64, 'Most tokens generated per answer.')
    temperature: float = option(0.0, 'Sampling temperature (0: greedy, reproducible answers).')
    # Servers batch concurrent requests themselves.
    max_concurrency: int = option(4, 'Parallel HTTP requests of one batch of questions.')
    system_prompt: str = option('', "System prompt put before every question ('' for none).")
    stream: bool = option(True, 'Stream answers (server-sent events): at a timeout the connection closes, which '
                                'cancels the generation on servers that stop on a disconnect (vLLM, SGLang, '
                                'transformers serve); false for a server without streaming.')

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(('http://', 'https://')):
            raise VLMError(f'OpenAIConfig.base_url: expected an http(s) URL such as http://127.0.0.1:8000/v1, '
                           f'got {self.base_url!r}', kind='config')
        if not isinstance(self.model, str) or not self.model.strip():
            raise VLMError(f'OpenAIConfig.model: expected the served model name, got {self.model!r}', kind='config')
        for name in ('timeout_s', 'backoff_s'):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v >= 0 or (name == 'timeout_s' and v == 0):
                raise VLMError(f'OpenAIConfig.{name}: expected a number of seconds > 0, got {v!r}', kind='config')
        for name, low in (('retries', 0), ('max_new_tokens', 1), ('max_concurrency', 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < low:
                raise VLMError(f'OpenAIConfig.{name}: expected an integer >= {low}, got {v!r}', kind='config')
        if not isinstance(self.temperature, (int, float)) or self.temperature < 0:
            raise VLMError(f'OpenAIConfig.temperature: expected a number >= 0, got {self.temperature!r}', kind='config')


def encode_data_url(image) -> str:
    """``data:image/png;base64,...`` of an HxWx3 uint8 RGB image (or a core Frame's colour)."""
    import cv2

    rgb = to_rgb(image)
    ok, png = cv2.imencode('.png', rgb[:, :, ::-1])
    if not ok:
        raise VLMError(f'cannot PNG-encode an image of shape {rgb.shape}', kind='input')
    return 'data:image/png;base64,' + base64.b64encode(png.tobytes()).decode('ascii')


class _Retryable(Exception):
    """An attempt failed in a way another attempt can fix (nothing listens yet, 5xx, 429, a reset)."""

    def __init__(self, message: str, kind: str = 'server') -> None:
        super().__init__(message)
        self.kind = kind


class Answer(str):
    """An answer's text (a ``str``) plus ``finish_reason`` from the server ('stop', 'length', ...);
    ``truncated`` is True when generation stopped at ``max_new_tokens``."""

    finish_reason: Optional[str] = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == 'length'


def _answer(text: str, finish_reason: Optional[str]) -> Answer:
    a = Answer(text.strip())
    a.finish_reason = finish_reason
    return a


def _server_detail(raw: bytes) -> str:
    """The server's own error text of an error body: ``{"error": {"message": ...}}`` (OpenAI, vLLM),
    ``{"detail": ...}`` (FastAPI servers), ``{"error": "..."}``; the raw body otherwise."""
    text = raw[:600].decode('utf-8', 'replace').strip()
    try:
        doc = json.loads(raw)
    except ValueError:
        return text or '(empty body)'
    if isinstance(doc, dict):
        for key in ('error', 'detail', 'message'):
            v = doc.get(key)
            if isinstance(v, dict) and isinstance(v.get('message'), str):
                return v['message']
            if isinstance(v, str):
                return v
    return text


class _Deadline:
    """The time left of one frame's requests: (retries + 1) x timeout_s from its start, shared by
    all attempts and back-offs of every request of a batch; ``timed_out`` is set by the first
    request that times out, so no later request of the batch is sent to a server that is busy."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.timed_out: Optional[str] = None

    def left(self) -> float:
        return self.end - time.monotonic()


@register_backend('openai')
class OpenAIBackend:
    """Chat-completions client; safe to call from several threads.

    Timeout policy: requests stream (``stream: true``), so closing the connection at the timeout
    cancels the generation on servers that stop on a disconnect (vLLM, SGLang, ``transformers
    serve``); a request that timed out is never sent again (the server is busy or hung: a resend
    only adds work), and once one request of a batch timed out the batch's unsent requests are not
    sent. Retries are only for failures that cost the server nothing (nothing listening, a reset,
    5xx, 429, a cut-off answer), and all attempts and back-offs of one ``ask``/``ask_batch`` end
    by (retries + 1) x timeout_s."""

    config_type = OpenAIConfig
    takes_images = True

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip('/') + '/chat/completions'
        self._closed = threading.Event()

    def _headers(self) -> dict:
        headers = {'Content-Type': 'application/json', 'Accept': 'text/event-stream, application/json'}
        key = os.environ.get(self.config.api_key_env, '') if self.config.api_key_env else ''
        if key:
            headers['Authorization'] = f'Bearer {key}'
        return headers

    def _body(self, images: Sequence, question: str) -> bytes:
        content = [{'type': 'image_url', 'image_url': {'url': encode_data_url(im)}} for im in images]
        content.append({'type': 'text', 'text': question})
        messages = [{'role': 'user', 'content': content}]
        if self.config.system_prompt:
            messages.insert(0, {'role': 'system', 'content': self.config.system_prompt})
        body = {'model': self.config.model, 'messages': messages, 'max_tokens': self.config.max_new_tokens,
                'temperature': self.config.temperature}
        if self.config.stream:
            body['stream'] = True
        return json.dumps(body).encode()

    def _http_error(self, code: int, detail: str) -> Exception:
        where = f'HTTP {code} from {self.url}: {detail}'
        if code >= 500 or code == 429:
            return _Retryable(where, 'server')
        if code == 404:
            hint = (f'check base_url: it must name the API root including the version, e.g. '
                    f'http://127.0.0.1:8000/v1 (got {self.config.base_url!r}), and the model name '
                    f'({self.config.model!r}) must be one the server serves (GET {self.config.base_url.rstrip("/")}/models)')
        elif code in (401, 403):
            hint = f'check the API key in the variable {self.config.api_key_env!r}'
        else:
            hint = (f'the server refused the request: check the model name ({self.config.model!r}: GET '
                    f'{self.config.base_url.rstrip("/")}/models lists the served ones), base_url and the API key '
                    f'variable {self.config.api_key_env}')
        return VLMError(f'{where}; {hint}', kind='request')

    def _once(self, body: bytes, timeout_s: float) -> Answer:
        req = urllib.request.Request(self.url, data=body, headers=self._headers(), method='POST')
        within = f'no answer from {self.url} within {timeout_s:.3g} s'
        t_end = time.monotonic() + timeout_s
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                if 'text/event-stream' in (resp.headers.get('Content-Type') or ''):
                    return self._read_stream(resp, t_end, within)
                raw = resp.read()
        except urllib.error.HTTPError as err:
            try:
                detail = _server_detail(err.read())
            except (OSError, http.client.HTTPException):
                detail = '(no body)'
            raise self._http_error(err.code, detail) from err
        except (TimeoutError, socket.timeout) as err:
            raise _Timeout(within) from err
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Timeout(within) from err
            if isinstance(reason, ssl.SSLError):
                raise VLMError(f'TLS with {self.url} failed ({reason}); if the server speaks plain HTTP, use an '
                               'http:// base_url', kind='config') from err
            if isinstance(reason, socket.gaierror):
                raise VLMError(f'cannot resolve the host of {self.url} ({reason}); check base_url', kind='config') from err
            if isinstance(reason, ConnectionRefusedError):
                raise _Retryable(f'nothing listens at {self.url} (connection refused): is the server running?',
                                 'server') from err
            raise _Retryable(f'cannot reach {self.url}: {reason}') from err
        except ssl.SSLError as err:
            raise VLMError(f'TLS with {self.url} failed ({err}); if the server speaks plain HTTP, use an http:// '
                           'base_url', kind='config') from err
        except http.client.IncompleteRead as err:
            raise _Retryable(f'the answer from {self.url} was cut off after {len(err.partial)} bytes') from err
        except http.client.HTTPException as err:  # RemoteDisconnected, BadStatusLine, ...
            raise _Retryable(f'{self.url} closed the connection without a valid answer ({type(err).__name__}: '
                             f'{err})') from err
        except (ConnectionError, OSError) as err:
            raise _Retryable(f'connection to {self.url} failed: {err}') from err
        return self._parse_json(raw)

    def _parse_json(self, raw: bytes) -> Answer:
        try:
            doc = json.loads(raw)
            choice = doc['choices'][0]
            content = choice['message']['content']
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise VLMError(f'malformed chat-completions response from {self.url}: {raw[:200]!r}; is base_url an '
                           'OpenAI-compatible /v1 endpoint?', kind='protocol') from err
        if isinstance(content, list):  # some servers return content parts
            content = ''.join(p.get('text', '') for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise VLMError(f'malformed chat-completions response from {self.url}: content is {content!r}',
                           kind='protocol')
        return _answer(content, choice.get('finish_reason') if isinstance(choice, dict) else None)

    def _read_stream(self, resp, t_end: float, within: str) -> Answer:
        """Server-sent events ``data: {chunk}`` ... ``data: [DONE]``; the deadline covers the whole
        answer (a server trickling tokens is cut off too). Leaving this closes the connection."""
        parts: list[str] = []
        finish = None
        done = False
        try:
            for raw_line in resp:
                if time.monotonic() > t_end:
                    raise _Timeout(within + f' (stream cut after {len("".join(parts))} characters)')
                line = raw_line.strip()
                if not line.startswith(b'data:'):
                    continue
                data = line[5:].strip()
                if data == b'[DONE]':
                    done = True
                    break
                try:
                    doc = json.loads(data)
                except ValueError as err:
                    raise VLMError(f'malformed event in the stream of {self.url}: {data[:200]!r}',
                                   kind='protocol') from err
                if isinstance(doc, dict) and doc.get('error'):
                    raise _Retryable(f'{self.url} failed mid-answer: {_server_detail(data)}')
                try:
                    choice = doc['choices'][0] if doc.get('choices') else {}
                    delta = choice.get('delta') or {}
                except (KeyError, IndexError, TypeError, AttributeError) as err:
                    raise VLMError(f'malformed event in the stream of {self.url}: {data[:200]!r}',
                                   kind='protocol') from err
                text = delta.get('content')
                if isinstance(text, str):
                    parts.append(text)
                if choice.get('finish_reason'):
                    finish = choice['finish_reason']
        except (TimeoutError, socket.timeout) as err:
            raise _Timeout(within) from err
        except http.client.IncompleteRead as err:
            raise _Retryable(f'the answer stream from {self.url} was cut off ({len(err.partial)} bytes of a '
                             'chunk)') from err
        except (ConnectionError, http.client.HTTPException, OSError) as err:
            raise _Retryable(f'the answer stream from {self.url} broke off: {type(err).__name__}: {err}') from err
        if not done and finish is None:
            raise _Retryable(f'the answer stream from {self.url} ended before its end ([DONE]) after '
                             f'{len("".join(parts))} characters')
        return _answer(''.join(parts), finish)

    def _post(self, body: bytes, deadline: Optional[_Deadline] = None) -> Answer:
        deadline = deadline or _Deadline((self.config.retries + 1) * self.config.timeout_s)
        delay = self.config.backoff_s
        last = ''
        attempts = 0
        for attempt in range(self.config.retries + 1):
            if self._closed.is_set():
                raise VLMError(f'the client of {self.url} was closed', kind='closed')
            if deadline.timed_out is not None:
                raise VLMError(f'not sent: {deadline.timed_out} (the server is busy; a timed-out request is not '
                               'resent)', kind='timeout')
            left = deadline.left()
            if left <= 0.01:
                break
            attempts += 1
            try:
                return self._once(body, min(self.config.timeout_s, left))
            except _Timeout as err:
                deadline.timed_out = str(err)
                raise VLMError(f'{err}; not resent (the server is busy or hung: a resend would only add work); '
                               'raise timeout_s for a slow model', kind='timeout') from None
            except _Retryable as err:
                last, kind = str(err), err.kind
                if attempt < self.config.retries:
                    wait = min(delay, max(deadline.left() - 0.01, 0))
                    logger.debug('attempt %d failed (%s); retrying in %.2f s', attempt + 1, last, wait)
                    self._closed.wait(wait)  # close() ends the back-off at once
                    delay *= 2
        if not last:
            raise VLMError(f'no time left for a request to {self.url} (deadline of (retries + 1) x timeout_s)',
                           kind='timeout')
        raise VLMError(f'{last} (after {attempts} attempt{"s" * (attempts != 1)})', kind=kind)

    def ask(self, images: Sequence, question: str) -> Answer:
        check_requests([(images, question)])
        return self._post(self._body(images, question))

    def ask_batch(self, requests: Sequence[Request]) -> list[str]:
        """Concurrent requests (the server batches them); the first failure is raised."""
        out = self.ask_batch_results(requests)
        for r in out:
            if isinstance(r, BaseException):
                raise r
        return out

    def ask_batch_results(self, requests: Sequence[Request]) -> list:
        """Like :meth:`ask_batch`, but each entry is its answer or the VLMError of that request, so
        one failing question costs no other and nothing is asked twice. All requests share one
        deadline ((retries + 1) x timeout_s) and stop being sent after the first timeout."""
        check_requests(requests)
        bodies = [self._body(imgs, q) for imgs, q in requests]
        deadline = _Deadline((self.config.retries + 1) * self.config.timeout_s)

        def one(body):
            try:
                return self._post(body, deadline)
            except VLMError as err:
                return err

        if len(bodies) <= 1 or self.config.max_concurrency == 1:
            return [one(b) for b in bodies]
        return _map_daemon(one, bodies, self.config.max_concurrency)

    def close(self) -> None:
        """No new attempt starts after this (a request in flight ends with its timeout; its thread
        is a daemon, so it never holds up the process's exit)."""
        self._closed.set()


class _Timeout(Exception):
    pass


def _map_daemon(fn, items: Sequence, workers: int) -> list:
    """``[fn(x) for x in items]`` on up to ``workers`` daemon threads; the first failure is raised.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so a request blocked on a
    server that never answers would keep a node from exiting on Ctrl-C for up to the timeout."""
    results: list = [None] * len(items)
    errors: list = [None] * len(items)
    next_index = iter(range(len(items)))
    lock = threading.Lock()

    def run() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                errors[i] = err

    threads = [threading.Thread(target=run, name='vlm-http', daemon=True) for _ in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for err in errors:
        if err is not None:
            raise err
    return results
