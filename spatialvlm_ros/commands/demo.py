"""``spatialvlm demo``: the simulated episode through the live nodes, scored against ground truth."""

from __future__ import annotations

import json
from pathlib import Path

SUMMARY_KEYS = ['frames', 'frames_with_reward', 'reward_spearman_vs_ground_truth', 'stage_agreement',
                'distance_error_m', 'latency_ms']


def _fmt(v) -> str:
    if isinstance(v, float):
        return f'{v:.4g}'
    if isinstance(v, dict):
        return ', '.join(f'{k}={_fmt(x)}' for k, x in v.items())
    return str(v)


def run(args) -> int:
    from ..demo import run_demo

    summary = run_demo(
        name=args.name, seed=args.seed, frames=args.frames, width=args.width, height=args.height,
        rate_hz=args.rate, out_root=Path(args.out_root), bag=Path(args.bag) if args.bag else None, task=args.task,
        gripper=args.gripper,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    out = Path(args.out_root) / args.name
    print(f'\nspatialvlm demo: {summary["frames"]} frames of task {summary["task"]!r} through the live nodes')
    width = max(len(k) for k in SUMMARY_KEYS)
    for k in SUMMARY_KEYS:
        print(f'  {k:<{width}}  {_fmt(summary[k])}')
    q = summary.get('reward_quality') or {}
    sf = q.get('success_frames') or {}
    print(f'  {"reward quality":<{width}}  VOC={_fmt(q.get("value_order_correlation"))}, '
          f'EPIC={_fmt(q.get("reward_epic_distance_vs_ground_truth"))}, success precision={_fmt(sf.get("precision"))} '
          f'recall={_fmt(sf.get("recall"))} ({summary.get("reward_form")})')
    print(f'  {"outputs":<{width}}  {out}/summary.json, reward.png, facts.jsonl, rewards.jsonl')
    return 0


def register(sub) -> None:
    p = sub.add_parser('demo', help='run the simulated pick-and-place through the live nodes and score it')
    p.add_argument('--name', default='demo', help='run name: outputs go to OUT_ROOT/NAME (default: demo)')
    p.add_argument('--out-root', default='runs', help='where runs are written (default: runs)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--frames', type=int, default=100,
                   help='episode length (default 100 = 3.3 s: the scripted pick-and-place plus a short hold)')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--rate', type=float, default=30.0, help='publish rate in Hz (default: 30, the camera rate)')
    p.add_argument('--bag', help='use this bag instead of recording one')
    p.add_argument('--task', default='pick_and_place', help='task YAML path or name in config/tasks')
    p.add_argument('--gripper', choices=['kinematic', 'vision'], default='kinematic',
                   help="gripper position from the end-effector topic (default, as on a real arm) or by colour")
    p.add_argument('--json', action='store_true', help='print the summary as JSON')
    p.set_defaults(func=run)
