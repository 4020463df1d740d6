"""A real OpenAI-compatible server for the tests: ``transformers serve`` (transformers[serving])
serving a tiny random LLaVA built here (:mod:`support.tiny_vlm`), on 127.0.0.1 in its own process.

Nothing is downloaded (HF_HUB_OFFLINE). The model answers random characters, always to the token
limit (finish_reason "length"): the tests check the transport and the fault handling, not answers.
Start-up takes a few seconds; :meth:`pause` / :meth:`resume` are SIGSTOP / SIGCONT, :meth:`stop`
ends the process (a server dying mid-run), :meth:`start` brings it back on the same port.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

RGB = np.zeros((24, 32, 3), np.uint8)
RGB[4:12, 6:16] = (200, 30, 30)


def available() -> str:
    """'' when ``transformers serve`` can run here, else why not."""
    missing = [m for m in ('fastapi', 'uvicorn', 'openai') if importlib.util.find_spec(m) is None]
    return f'transformers serve needs {missing}: pip install -r requirements/dev.txt' if missing else ''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class RealServer:
    """``transformers serve MODEL`` on a free loopback port; ``url`` is its /v1 root, ``model`` the
    served name (the path it was started with)."""

    def __init__(self, root: Path) -> None:
        from support import tiny_vlm

        self.root = Path(root)
        self.model = str(self.root / 'tiny-llava')
        if not (self.root / 'tiny-llava' / 'config.json').exists():
            tiny_vlm.build_llava(Path(self.model), hidden_size=256, layers=4, max_positions=8192)
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/v1'
        self.proc = None
        self.log = self.root / 'serve.log'
        self.start()

    def start(self, timeout_s: float = 120.0) -> None:
        exe = Path(sys.executable).with_name('transformers')
        cmd = [str(exe), 'serve', self.model, '--host', '127.0.0.1', '--port', str(self.port), '--device', 'cpu',
               '--log-level', 'warning']
        env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_VERBOSITY='error', OMP_NUM_THREADS='1',
                   TOKENIZERS_PARALLELISM='false')
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, 'ab'), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f'transformers serve exited with {self.proc.returncode}: '
                                   f'{self.log.read_text()[-2000:]}')
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{self.port}/health', timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f'transformers serve did not come up in {timeout_s} s: {self.log.read_text()[-2000:]}')
        self.ask_raw(max_tokens=2)  # loads the model (force-loaded models still warm up on the first call)

    def ask_raw(self, max_tokens: int = 8, model: str | None = None, timeout_s: float = 60.0) -> dict:
        """One plain non-streaming request (for probes); the response document."""
        from spatialvlm_ros.vlm.openai_backend import encode_data_url

        body = {'model': model or self.model, 'max_tokens': max_tokens, 'temperature': 0.0,
                'messages': [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': encode_data_url(RGB)}},
                                                          {'type': 'text', 'text': 'How far?'}]}]}
        req = urllib.request.Request(self.url + '/chat/completions', data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return json.loads(r.read())

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


class CuttingProxy:
    """A loopback TCP proxy in front of a server that passes the request on and only the first
    ``keep`` bytes of the response back, then closes both sides: an answer cut off mid-body."""

    def __init__(self, upstream_port: int, keep: int) -> None:
        import threading

        self.keep, self.upstream = keep, upstream_port
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.url = f'http://127.0.0.1:{self.sock.getsockname()[1]}/v1'
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client) -> None:
        import threading

        up = socket.create_connection(('127.0.0.1', self.upstream))

        def forward() -> None:
            try:
                while data := client.recv(65536):
                    up.sendall(data)
            except OSError:
                pass

        threading.Thread(target=forward, daemon=True).start()
        sent = 0
        try:
            while sent < self.keep and (data := up.recv(65536)):
                data = data[:self.keep - sent]
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (client, up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.sock.close()
