"""VLM backend latency and answers/s on this machine (JSON on stdout).

    .venv/bin/python bench/vlm.py [--repeats 5] [--batch 4] [--model PATH --backend qwen2_5_vl|llava]

Without --model it times the tiny random-weight Qwen2.5-VL and LLaVA of the tests (the real
processor + generate path, so it measures the per-call overhead of the backend, not a real
model's speed). With --model it loads a real checkpoint (needs the weights locally or a Hub
connection) and a GPU for meaningful numbers. Reported per mode (single request, batch of
--batch): p50/max latency in ms and answers per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'test'))

QUESTION = 'How far is the yellow gripper from the red block? Answer with a number and a unit.'


def time_backend(backend, rgb, repeats: int, batch: int) -> dict:
    backend.ask([rgb], QUESTION)  # warm-up
    out = {}
    for mode, n in (('single', 1), (f'batch{batch}', batch)):
        lat = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            if n == 1:
                backend.ask([rgb], QUESTION)
            else:
                backend.ask_batch([([rgb], QUESTION)] * n)
            lat.append((time.perf_counter() - t0) * 1e3)
        p50 = statistics.median(lat)
        out[mode] = {'requests': n, 'latency_ms_p50': round(p50, 2), 'latency_ms_max': round(max(lat), 2),
                     'answers_per_s': round(n / (p50 / 1e3), 2)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--backend', default='qwen2_5_vl', choices=['qwen2_5_vl', 'llava'])
    ap.add_argument('--model', help='a real checkpoint (id or path) instead of the tiny test models')
    ap.add_argument('--max-new-tokens', type=int, default=16)
    ap.add_argument('--size', type=int, nargs=2, default=[640, 480], metavar=('W', 'H'))
    args = ap.parse_args()

    import torch

    from spatialvlm_ros.vlm import make_backend
    from spatialvlm_ros.vlm.transformers_backend import LlavaBackend, LlavaConfig, QwenVLBackend, QwenVLConfig

    rgb = (np.random.default_rng(0).random((args.size[1], args.size[0], 3)) * 255).astype(np.uint8)
    report = {'machine': platform.processor() or platform.machine(), 'torch': torch.__version__,
              'cuda': torch.cuda.is_available(), 'threads': torch.get_num_threads(),
              'image': f'{args.size[0]}x{args.size[1]}', 'max_new_tokens': args.max_new_tokens, 'results': {}}
    if args.model:
        b = make_backend(args.backend, model=args.model, max_new_tokens=args.max_new_tokens)
        report['results'][args.model] = time_backend(b, rgb, args.repeats, args.batch)
        b.close()
    else:
        import tiny_vlm

        report['note'] = ('tiny random-weight models (the tests\'); they time the processor + generate path, not a '
                          'real VLM. No GPU machine was available for this task: real-model GPU numbers are open.')
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
