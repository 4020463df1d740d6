"""``spatialvlm`` command line. The only layer that prints; every command is a thin wrapper."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ['main', 'build_parser']


def _cmd_sim_record(args) -> int:
    from .sim import record_episode

    path = record_episode(
        Path(args.out), seed=args.seed, frames=args.frames, width=args.width, height=args.height,
        depth_encoding=args.depth_encoding,
    )
    print(f'wrote {path}')
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f'{v:.4g}'
    if isinstance(v, dict):
        return ', '.join(f'{k}={_fmt(x)}' for k, x in v.items())
    return str(v)


def _cmd_demo(args) -> int:
    from .demo import run_demo

    summary = run_demo(
        name=args.name, seed=args.seed, frames=args.frames, width=args.width, height=args.height,
        rate_hz=args.rate, out_root=Path(args.out_root), bag=Path(args.bag) if args.bag else None, task=args.task,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    out = Path(args.out_root) / args.name
    print(f'\nspatialvlm demo: {summary["frames"]} frames of task {summary["task"]!r} through the live nodes')
    keys = ['frames', 'frames_with_reward', 'reward_spearman_vs_ground_truth', 'stage_agreement',
            'distance_error_m', 'latency_ms']
    width = max(len(k) for k in keys)
    for k in keys:
        print(f'  {k:<{width}}  {_fmt(summary[k])}')
    print(f'  {"outputs":<{width}}  {out}/summary.json, reward.png, facts.jsonl, rewards.jsonl')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='spatialvlm', description='Metric spatial facts and rewards from RGB-D.')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)

    demo = sub.add_parser('demo', help='run the simulated pick-and-place through the live nodes and score it')
    demo.add_argument('--name', default='demo', help='run name: outputs go to OUT_ROOT/NAME (default: demo)')
    demo.add_argument('--out-root', default='runs', help='where runs are written (default: runs)')
    demo.add_argument('--seed', type=int, default=0)
    demo.add_argument('--frames', type=int, default=150)
    demo.add_argument('--width', type=int, default=640)
    demo.add_argument('--height', type=int, default=480)
    demo.add_argument('--rate', type=float, default=30.0, help='publish rate in Hz (default: 30, the camera rate)')
    demo.add_argument('--bag', help='use this bag instead of recording one')
    demo.add_argument('--task', default='pick_and_place', help='task YAML path or name in config/tasks')
    demo.add_argument('--json', action='store_true', help='print the summary as JSON')
    demo.set_defaults(func=_cmd_demo)

    sim = sub.add_parser('sim', help='simulator tools')
    simsub = sim.add_subparsers(dest='sim_command', required=True)
    rec = simsub.add_parser('record', help='record a scripted Fetch pick-and-place episode as a rosbag2 (mcap)')
    rec.add_argument('--seed', type=int, default=0)
    rec.add_argument('--frames', type=int, default=150)
    rec.add_argument('--out', required=True, help='output bag directory (must not exist)')
    rec.add_argument('--width', type=int, default=640)
    rec.add_argument('--height', type=int, default=480)
    rec.add_argument('--depth-encoding', choices=['32FC1', '16UC1'], default='32FC1',
                     help='32FC1 metres (default) or 16UC1 millimetres')
    rec.set_defaults(func=_cmd_sim_record)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    from .bag import BagError
    from .core.errors import SpatialError
    from .demo import DemoError

    try:
        return int(args.func(args) or 0)
    except (SpatialError, BagError, DemoError, FileExistsError, FileNotFoundError, ValueError) as err:
        print(f'ERROR: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
