"""Reward quality of ``spatialvlm label`` on scripted sim episodes: VOC, Spearman and EPIC against
the ground-truth reward, success precision/recall, per seed and pooled.

    .venv/bin/python bench/reward_quality.py [--seeds 0-7] [--frames 100] [--bags DIR] [--json-out FILE]

Records (or reuses, under ``--bags``) one bag per seed with ``spatialvlm sim record``'s recorder,
labels them all in one ``spatialvlm label`` run with the demo's kinematic gripper (the robot's
end-effector topic, as ``bench/label_vs_live.py``), and prints the run summary's
``reward_quality`` plus each bag's. The ground-truth reward is the same task evaluated on the
simulator's true positions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.demo.processes import EE  # noqa: E402
from spatialvlm_ros.demo.run import kinematic_gripper_params  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.config import default_params  # noqa: E402
from spatialvlm_ros.sim import record_episode  # noqa: E402
from spatialvlm_ros.sim.record import read_ground_truth  # noqa: E402


def _seeds(text: str) -> list[int]:
    if '-' in text:
        a, b = text.split('-', 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(',')]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', default='0-7', help='e.g. 0-7 or 0,3,5')
    ap.add_argument('--frames', type=int, default=100)
    ap.add_argument('--task', default=None, help='task YAML or name (default: pick_and_place)')
    ap.add_argument('--bags', type=Path, default=ROOT / 'runs' / 'cache', help='where the recorded bags are kept')
    ap.add_argument('--json-out', help='also write the JSON here')
    args = ap.parse_args()
    bags = []
    for seed in _seeds(args.seeds):
        bag = args.bags / f'fetch_seed{seed}_{args.frames}f_640x480'
        if not bag.exists():
            bag.parent.mkdir(parents=True, exist_ok=True)
            record_episode(bag, seed=seed, frames=args.frames, progress=False)
        bags.append(bag)
    params = default_params()
    # The camera is fixed: every seed's first ground truth gives the same extrinsic.
    params.update(kinematic_gripper_params(read_ground_truth(bags[0])[0]))
    config = LabelConfig(task=resolve_task(args.task)[1], params=params, kinematic=(('gripper', EE),), bag=False)
    out = Path(tempfile.mkdtemp(prefix='bench_reward_quality_'))
    summary = label_bags(bags, out, config, RunOptions(progress=False))
    per_bag = {Path(b['output']).name: json.loads((Path(b['output']) / 'summary.json').read_text())['reward_quality']
               for b in summary['per_bag']}
    result = {'frames_per_episode': args.frames, 'task': config.task.name, 'reward_form': config.task.reward.form,
              'gripper': 'kinematic', 'output': str(out), 'pooled': summary['reward_quality'], 'per_bag': per_bag}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
