"""OpenAI-compatible chat-completions client (vLLM, SGLang, Ollama, llama.cpp server, ...).

Standard library only (urllib): images go as base64 PNG data URLs in ``image_url`` parts.
The API key is read from an environment variable at call time and never logged. Timeouts,
connection errors and 5xx answers are retried with exponential back-off; 4xx answers and
malformed JSON are not (retrying cannot fix them).

Serve a model, e.g.::

    vllm serve remyxai/SpaceQwen2.5-VL-3B-Instruct --port 8000
    # base_url=http://127.0.0.1:8000/v1 model=remyxai/SpaceQwen2.5-VL-3B-Instruct
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Sequence

from ..core.options import option
from .base import Request, check_requests, register_backend, to_rgb
from .errors import VLMError

__all__ = ['OpenAIConfig', 'OpenAIBackend', 'encode_data_url']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenAIConfig:
    """Options of :class:`OpenAIBackend`."""

    base_url: str = option('http://127.0.0.1:8000/v1', 'Server URL including the API version, e.g. '
                           'http://127.0.0.1:8000/v1 (vLLM, SGLang) or http://localhost:11434/v1 (Ollama).')
    model: str = option('', 'Model name the server knows (vLLM: the served id; Ollama: e.g. "qwen2.5vl:3b").')
    api_key_env: str = option('OPENAI_API_KEY', "Environment variable holding the API key (never logged); '' or an "
                                                'unset variable: no key.')
    timeout_s: float = option(30.0, 'Seconds to wait for one answer before retrying.')
    retries: int = option(2, 'Extra attempts after a timeout, a refused connection or a 5xx answer.')
    backoff_s: float = option(0.5, 'First back-off delay in seconds; doubled after every failed attempt.')
    # Sent as the request's max_tokens; one name for every backend's token limit.
    max_new_tokens: int = option(64, 'Most tokens generated per answer.')
    temperature: float = option(0.0, 'Sampling temperature (0: greedy, reproducible answers).')
    # Servers batch concurrent requests themselves.
    max_concurrency: int = option(4, 'Parallel HTTP requests of one batch of questions.')
    system_prompt: str = option('', "System prompt put before every question ('' for none).")

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
    pass


@register_backend('openai')
class OpenAIBackend:
    """Chat-completions client; safe to call from several threads."""

    config_type = OpenAIConfig
    takes_images = True

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip('/') + '/chat/completions'
        self._closed = threading.Event()

    def _headers(self) -> dict:
        headers = {'Content-Type': 'application/json'}
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
        return json.dumps(body).encode()

    def _once(self, body: bytes) -> str:
        req = urllib.request.Request(self.url, data=body, headers=self._headers(), method='POST')
        try:
            with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode('utf-8', 'replace')
            if err.code >= 500 or err.code == 429:
                raise _Retryable(f'HTTP {err.code} from {self.url}: {detail}') from err
            raise VLMError(f'HTTP {err.code} from {self.url}: {detail}; check base_url, model and the API key '
                           f'variable {self.config.api_key_env}', kind='server') from err
        except (TimeoutError, socket.timeout) as err:
            raise _Retryable(f'no answer from {self.url} within {self.config.timeout_s} s') from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Retryable(f'no answer from {self.url} within {self.config.timeout_s} s') from err
            raise _Retryable(f'cannot reach {self.url}: {err.reason}') from err
        except (ConnectionError, OSError) as err:
            raise _Retryable(f'connection to {self.url} failed: {err}') from err
        try:
            doc = json.loads(raw)
            content = doc['choices'][0]['message']['content']
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise VLMError(f'malformed chat-completions response from {self.url}: {raw[:200]!r}; is base_url an '
                           'OpenAI-compatible /v1 endpoint?', kind='protocol') from err
        if isinstance(content, list):  # some servers return content parts
            content = ''.join(p.get('text', '') for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise VLMError(f'malformed chat-completions response from {self.url}: content is {content!r}',
                           kind='protocol')
        return content.strip()

    def _post(self, body: bytes) -> str:
        delay = self.config.backoff_s
        last = ''
        for attempt in range(self.config.retries + 1):
            if self._closed.is_set():
                raise VLMError(f'the client of {self.url} was closed', kind='closed')
            try:
                return self._once(body)
            except _Retryable as err:
                last = str(err)
                if attempt < self.config.retries:
                    logger.debug('attempt %d failed (%s); retrying in %.2f s', attempt + 1, last, delay)
                    self._closed.wait(delay)  # close() ends the back-off at once
                    delay *= 2
        kind = 'timeout' if 'within' in last else 'server'
        raise VLMError(f'{last} (after {self.config.retries + 1} attempts); is the server running?', kind=kind)

    def ask(self, images: Sequence, question: str) -> str:
        check_requests([(images, question)])
        return self._post(self._body(images, question))

    def ask_batch(self, requests: Sequence[Request]) -> list[str]:
        """Concurrent requests (the server batches them); the first failure is raised."""
        check_requests(requests)
        bodies = [self._body(imgs, q) for imgs, q in requests]
        if len(bodies) <= 1 or self.config.max_concurrency == 1:
            return [self._post(b) for b in bodies]
        return _map_daemon(self._post, bodies, self.config.max_concurrency)

    def close(self) -> None:
        """No new attempt starts after this (a request in flight ends with its timeout; its thread
        is a daemon, so it never holds up the process's exit)."""
        self._closed.set()


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
