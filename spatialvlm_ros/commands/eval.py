"""``spatialvlm eval``: ask a backend SpatialVLM-style questions generated from simulator ground
truth and report the paper's metrics (JSON and a table)."""

from __future__ import annotations

import json
from pathlib import Path


def _options(args) -> dict:
    """Backend options from the flags: each backend takes the ones it has; --option K=V adds more."""
    from ..vlm import VLMError, backend_options

    given = {'model': args.model, 'base_url': args.base_url, 'device': args.device, 'dtype': args.dtype,
             'max_new_tokens': args.max_new_tokens, 'max_tokens': args.max_new_tokens, 'timeout_s': args.timeout}
    names = set(backend_options(args.backend))
    opts = {k: v for k, v in given.items() if v is not None and k in names}
    for kv in args.option or []:
        key, sep, value = kv.partition('=')
        if not sep:
            raise VLMError(f'--option expects KEY=VALUE, got {kv!r}', kind='config')
        try:
            opts[key] = json.loads(value)
        except json.JSONDecodeError:
            opts[key] = value
    return opts


def run(args) -> int:
    from ..vlm import make_backend
    from ..vlm.evaluation import EvalConfig, evaluate, format_table, load_bag_frames

    bag = Path(args.bag)
    if not bag.exists():
        raise FileNotFoundError(f'no bag at {bag}; record one with: spatialvlm sim record --out {bag}')
    config = EvalConfig(frames=args.frames, seed=args.seed)
    frames = load_bag_frames(bag, config.frames)
    backend = make_backend(args.backend, **_options(args))
    try:
        metrics, items = evaluate(backend, frames, config)
    finally:
        backend.close()
    report = {'backend': args.backend, 'bag': str(bag), 'seed': args.seed, **metrics}
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + '\n')
        with open(out.with_suffix('.answers.jsonl'), 'w') as fh:
            for it in items:
                fh.write(json.dumps({'stamp_ns': it.stamp_ns, 'kind': it.kind, 'question': it.question,
                                     'truth': it.truth, 'answer': it.answer, 'error': it.error}) + '\n')
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report, f'spatialvlm eval: backend {args.backend!r}, {report["frames"]} frames of {bag}'))
        if args.out:
            print(f'  written: {args.out} and {Path(args.out).with_suffix(".answers.jsonl")}')
    return 0


def register(sub) -> None:
    p = sub.add_parser('eval', help='score a VLM backend on questions generated from simulator ground truth')
    p.add_argument('bag', help='bag recorded by `spatialvlm sim record` (with /sim/ground_truth)')
    p.add_argument('--backend', default='geometry', help='geometry (default), openai, qwen2_5_vl or llava')
    p.add_argument('--model', help='Hugging Face id, local path, or served model name')
    p.add_argument('--base-url', help='openai backend: server URL including /v1')
    p.add_argument('--device', help='local backends: auto, cuda or cpu')
    p.add_argument('--dtype', help='local backends: bf16, fp16 or fp32')
    p.add_argument('--max-new-tokens', type=int, help='most tokens per answer')
    p.add_argument('--timeout', type=float, help='openai backend: seconds per request')
    p.add_argument('--option', action='append', metavar='KEY=VALUE', help='any other backend option (JSON value)')
    p.add_argument('--frames', type=int, default=10, help='frames asked about, evenly spaced (default: 10)')
    p.add_argument('--seed', type=int, default=0, help='seed of the question sampler')
    p.add_argument('--out', help='write the metrics JSON here (and the answers next to it as .answers.jsonl)')
    p.add_argument('--json', action='store_true', help='print the metrics as JSON')
    p.set_defaults(func=run)
