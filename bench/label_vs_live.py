"""Offline labels against the live nodes on the same frames: ``spatialvlm demo`` (spatial_facts +
reward over DDS) and ``spatialvlm label`` (no ROS) on one sim bag, with the demo's node parameters.

    .venv/bin/python bench/label_vs_live.py [--seed 0] [--frames 100] [--width 640 --height 480] [--json-out FILE]

Prints one JSON document: frames the live nodes rewarded, frames compared, the largest absolute
reward and distance differences (they should be 0: the same code on the same inputs), and any
frame whose validity, stage or success differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.demo import run_demo  # noqa: E402
from spatialvlm_ros.demo.processes import EE  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.config import default_params  # noqa: E402


def compare(live: dict, rows: dict) -> dict:
    """live: stamp -> reward document of the live reward node; rows: stamp -> labelled table row."""
    reward_diffs, distance_diffs, mismatched, missing = [], [], [], []
    for stamp, doc in sorted(live.items()):
        row = rows.get(stamp)
        if row is None:
            missing.append(stamp)
            continue
        if (row['valid'], row['stage'], row['success']) != (doc['valid'], doc['stage'], doc['success']):
            mismatched.append(stamp)
        if doc['reward'] is not None and row['reward'] is not None:
            reward_diffs.append(abs(row['reward'] - doc['reward']))
        for key, d in doc['distances'].items():
            if d is not None and row['distances'].get(key) is not None:
                distance_diffs.append(abs(row['distances'][key] - d))
    return {
        'frames_live': len(live),
        'frames_compared': len(live) - len(missing),
        'frames_missing_offline': missing,
        'max_abs_reward_diff': max(reward_diffs) if reward_diffs else None,
        'max_abs_distance_diff_m': max(distance_diffs) if distance_diffs else None,
        'frames_with_other_valid_stage_or_success': mismatched,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--frames', type=int, default=100)
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--json-out', help='also write the JSON here')
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench_label_vs_live_'))
    try:
        summary = run_demo(name='live', seed=args.seed, frames=args.frames, width=args.width, height=args.height,
                           out_root=work)
        live = {}
        for line in (work / 'live' / 'rewards.jsonl').read_text().splitlines():
            doc = json.loads(line)
            live[doc['stamp_ns']] = doc
        bag = Path(summary['bag'])
        params = default_params()
        params.update(summary['node_params'])
        config = LabelConfig(task=resolve_task(None)[1], params=params, kinematic=(('gripper', EE),))
        label_bags([bag], work / 'offline', config, RunOptions(progress=False))
        import pyarrow.parquet as pq

        rows = {r['stamp_ns']: r for r in pq.read_table(work / 'offline' / bag.name / 'frames.parquet').to_pylist()}
        result = {'bag': f'sim seed {args.seed}, {args.frames} frames, {args.width}x{args.height}',
                  'live_spearman_vs_ground_truth': summary.get('reward_spearman_vs_ground_truth'),
                  **compare(live, rows)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
