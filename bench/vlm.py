"""VLM backend latency and answers/s on this machine (JSON on stdout).

    .venv/bin/python bench/vlm.py [--repeats 5] [--batch 4] [--model PATH --backend qwen2_5_vl|llava]
    .venv/bin/python bench/vlm.py --base-url http://127.0.0.1:8000/v1 --model MODEL [--concurrency 8]
    .venv/bin/python bench/vlm.py --tiny-server      # transformers serve with the tests' tiny LLaVA

Three modes per backend: ``single`` (one request at a time), ``batchN`` (``ask_batch`` of --batch
questions: one forward pass locally, N concurrent requests to a server), ``concurrentN``
(--concurrency client threads each asking single questions, the load a node plus question callers
put on a server; servers only). Per mode: requests, p50/p99/max latency in ms of one call, and
answers per second over the whole mode (wall clock).

Without --model/--base-url it times the tiny random-weight Qwen2.5-VL and LLaVA of the tests (the
real processor + generate path: the backend's per-call overhead, not a real model's speed). With
--base-url it times any OpenAI-compatible server (vLLM, SGLang, ``transformers serve``); the
README gives the command for SpaceQwen2.5-VL-3B under vLLM on a GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'test'))

QUESTION = 'How far is the yellow gripper from the red block? Answer with a number and a unit.'


def _stats(lat_ms: list, answers: int, wall_s: float, **extra) -> dict:
    lat = np.asarray(lat_ms, dtype=float)
    return {**extra, 'calls': len(lat), 'answers': answers, 'latency_ms_p50': round(float(np.percentile(lat, 50)), 2),
            'latency_ms_p99': round(float(np.percentile(lat, 99)), 2), 'latency_ms_max': round(float(lat.max()), 2),
            'answers_per_s': round(answers / wall_s, 2)}


def time_backend(backend, rgb, repeats: int, batch: int, concurrency: int = 0) -> dict:
    """single / batch / (with ``concurrency``) concurrent modes of one backend."""
    backend.ask([rgb], QUESTION)  # warm-up
    out = {}
    lat = []
    t0 = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        backend.ask([rgb], QUESTION)
        lat.append((time.perf_counter() - t) * 1e3)
    out['single'] = _stats(lat, repeats, time.perf_counter() - t0, requests_per_call=1)
    lat = []
    t0 = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        backend.ask_batch([([rgb], QUESTION)] * batch)
        lat.append((time.perf_counter() - t) * 1e3)
    out[f'batch{batch}'] = _stats(lat, repeats * batch, time.perf_counter() - t0, requests_per_call=batch)
    if concurrency:
        lat, lock = [], threading.Lock()
        errors: list = []

        def worker() -> None:
            for _ in range(repeats):
                t = time.perf_counter()
                try:
                    backend.ask([rgb], QUESTION)
                except Exception as err:  # noqa: BLE001 - reported, not raised in a thread
                    errors.append(str(err))
                    continue
                with lock:
                    lat.append((time.perf_counter() - t) * 1e3)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        out[f'concurrent{concurrency}'] = _stats(lat or [float('nan')], len(lat), time.perf_counter() - t0,
                                                 clients=concurrency, errors=len(errors),
                                                 first_error=errors[0] if errors else None)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5, help='calls per mode (per client thread when concurrent)')
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--concurrency', type=int, default=8, help='client threads of the concurrent mode (servers)')
    ap.add_argument('--backend', default='qwen2_5_vl', choices=['qwen2_5_vl', 'llava'])
    ap.add_argument('--model', help='a real checkpoint (id or path) instead of the tiny test models; with '
                                    '--base-url: the served model name')
    ap.add_argument('--base-url', help='an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1')
    ap.add_argument('--tiny-server', action='store_true', help='start transformers serve with the tiny test LLaVA')
    ap.add_argument('--timeout-s', type=float, default=120.0)
    ap.add_argument('--max-new-tokens', type=int, default=16)
    ap.add_argument('--size', type=int, nargs=2, default=[640, 480], metavar=('W', 'H'))
    args = ap.parse_args()

    from spatialvlm_ros.vlm import make_backend

    rgb = (np.random.default_rng(0).random((args.size[1], args.size[0], 3)) * 255).astype(np.uint8)
    report = {'machine': platform.processor() or platform.machine(), 'image': f'{args.size[0]}x{args.size[1]}',
              'max_new_tokens': args.max_new_tokens, 'repeats': args.repeats, 'results': {}}
    if args.base_url or args.tiny_server:
        server = None
        if args.tiny_server:
            from support.real_server import RealServer

            tmp = tempfile.TemporaryDirectory()
            server = RealServer(Path(tmp.name))
            args.base_url, args.model = server.url, server.model
            report['note'] = 'transformers serve on CPU with a tiny random LLaVA: the transport, not a real model'
        if not args.model:
            ap.error('--base-url needs --model (the served model name)')
        try:
            b = make_backend('openai', base_url=args.base_url, model=args.model, max_new_tokens=args.max_new_tokens,
                             timeout_s=args.timeout_s, max_concurrency=max(args.batch, 1))
            report['server'] = args.base_url
            report['results'][args.model] = time_backend(b, rgb, args.repeats, args.batch, args.concurrency)
            b.close()
        finally:
            if server is not None:
                server.stop()
        print(json.dumps(report, indent=2))
        return 0

    import torch

    from spatialvlm_ros.vlm.transformers_backend import LlavaBackend, LlavaConfig, QwenVLBackend, QwenVLConfig

    report.update({'torch': torch.__version__, 'cuda': torch.cuda.is_available(), 'threads': torch.get_num_threads()})
    if args.model:
        b = make_backend(args.backend, model=args.model, max_new_tokens=args.max_new_tokens)
        report['results'][args.model] = time_backend(b, rgb, args.repeats, args.batch)
        b.close()
    else:
        import tiny_vlm

        report['note'] = ('tiny random-weight models (the tests\'); they time the processor + generate path, not a '
                          'real VLM.')
        with tempfile.TemporaryDirectory() as d:
            proc = tiny_vlm.build_qwen(Path(d) / 'qwen')
            tiny_vlm.build_llava(Path(d) / 'llava')
            for name, b in (
                ('tiny-qwen2.5-vl', QwenVLBackend(QwenVLConfig(model=str(Path(d) / 'qwen'), device='cpu', dtype='fp32',
                                                               max_new_tokens=args.max_new_tokens), processor=proc)),
                ('tiny-llava', LlavaBackend(LlavaConfig(model=str(Path(d) / 'llava'), device='cpu', dtype='fp32',
                                                        max_new_tokens=args.max_new_tokens))),
            ):
                report['results'][name] = time_backend(b, rgb, args.repeats, args.batch)
                b.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
