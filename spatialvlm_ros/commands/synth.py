"""``spatialvlm synth``: SpatialVLM-style spatial QA (chat messages, JSONL + Parquet with
images) from RGB-D bags or frames (see spatialvlm_ros.offline.synth)."""

from __future__ import annotations

import json
from pathlib import Path


def run(args) -> int:
    from ..offline import OfflineError, RunOptions, load_params, resolve_task
    from ..offline.synth import SynthConfig, synth_dataset

    for p in args.inputs:
        if not Path(p).exists():
            raise OfflineError(f'no input at {p}')
    _, task = resolve_task(args.task)
    config = SynthConfig(task=task, params=load_params(Path(args.params) if args.params else None), every=args.every,
                         per_pair=args.per_pair, seed=args.seed, color_topic=args.color_topic,
                         depth_topic=args.depth_topic, info_topic=args.info_topic)
    options = RunOptions(workers=args.workers, ray_address=args.ray, progress=not args.no_progress)
    summary = synth_dataset([Path(p) for p in args.inputs], Path(args.out), config, options)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f'\nspatialvlm synth: {summary["samples"]} QA pairs ({summary["qualitative"]} qualitative, '
          f'{summary["quantitative"]} quantitative) from {summary["frames_with_questions"]}/{summary["frames"]} frames')
    print(f'  gravity: {summary["gravity_sources"]}; failures: {summary["failures"] or "none"}')
    print(f'  -> {summary["output"]}/  (data.jsonl, data.parquet, images/, summary.json)')
    return 0


def register(sub) -> None:
    p = sub.add_parser('synth', help='SpatialVLM-style spatial QA dataset from RGB-D bags or .npz frames')
    p.add_argument('inputs', nargs='+', metavar='INPUT', help='rosbag2 directories, .npz frames or folders of them')
    p.add_argument('--out', required=True, help='dataset directory (must not exist)')
    p.add_argument('--task', default=None, help='task whose objects are asked about (default: pick_and_place)')
    p.add_argument('--params', default=None, help='spatial_facts params YAML overriding config/spatial_facts.yaml')
    p.add_argument('--every', type=int, default=10, help='use every n-th paired frame of a bag (default: 10)')
    p.add_argument('--per-pair', type=int, default=4, help='questions drawn per object pair and frame (default: 4)')
    p.add_argument('--seed', type=int, default=0, help='seed of categories, phrasings and units (default: 0)')
    p.add_argument('--color-topic', default=None)
    p.add_argument('--depth-topic', default=None)
    p.add_argument('--info-topic', default=None)
    p.add_argument('--workers', type=int, default=None, help='worker processes (default: every core; 1: no pool)')
    p.add_argument('--ray', metavar='ADDRESS', default=None, help='run on a Ray cluster (one task per chunk)')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--json', action='store_true', help='print the summary as JSON')
    p.set_defaults(func=run)
