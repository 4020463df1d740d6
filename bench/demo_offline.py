"""Offline twin of ``spatialvlm demo``: a recorded sim bag through the core pipeline (no ROS, no DDS).

Builds the pipeline exactly as the spatial_facts node does from ``config/spatial_facts.yaml``
(``--set name=value`` overrides a parameter), scores the rewards against the bag's ground truth
with the demo's own scorer and prints the summary as JSON.

    .venv/bin/python bench/demo_offline.py /tmp/ep_s0 [--set center_mode=centroid] [--per-frame FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.core.depth import make_frame  # noqa: E402
from spatialvlm_ros.messages.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.core.task import load_task  # noqa: E402
from spatialvlm_ros.core.reward import compute_reward, reward_from_observations  # noqa: E402
from spatialvlm_ros.core.types import Intrinsics  # noqa: E402
from spatialvlm_ros.demo.run import _load_frames  # noqa: E402
from spatialvlm_ros.offline.score import score_run  # noqa: E402


def build_pipeline(overrides: dict):
    """The node's pipeline config from the YAML defaults (+ overrides), through the node's own mapping."""
    from spatialvlm_ros.core.params import pipeline_config_from_params
    from spatialvlm_ros.core.pipeline import SpatialPipeline
    from spatialvlm_ros.offline.config import default_params

    p = default_params()
    for k, v in overrides.items():
        p[k] = yaml.safe_load(v)
    return SpatialPipeline(pipeline_config_from_params(p)), p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('bag')
    ap.add_argument('--set', action='append', default=[], help='parameter override name=value')
    ap.add_argument('--per-frame', help='write per-frame measured vs true distances (JSON lines)')
    args = ap.parse_args()
    overrides = dict(s.split('=', 1) for s in args.set)
    pipe, p = build_pipeline(overrides)
    task = load_task(ROOT / 'config' / 'tasks' / 'pick_and_place.yaml')
    frames, gts = _load_frames(Path(args.bag))
    rewards = {}
    per_frame = []
    gt_by_stamp = {g['stamp_ns']: g for g in gts}
    for stamp, f in frames:
        info = f['info']
        intr = Intrinsics.from_k(info.k, int(info.width), int(info.height))
        frame = make_frame(image_from_msg(f['color']), f['color'].encoding, image_from_msg(f['depth']),
                           f['depth'].encoding, intr, stamp, 'cam', p['min_depth_m'], p['max_depth_m'])
        res = pipe.process(frame)
        sample = reward_from_observations(task, res.objects, stamp)
        rewards[stamp] = sample.to_dict()
        gt = gt_by_stamp.get(stamp)
        if gt is not None:
            row = {'stamp': stamp, 'phase': gt.get('phase')}
            for n in task.objects:
                o = res.objects.get(n)
                row[f'{n}_err'] = None if o is None else float(np.linalg.norm(o.center - np.asarray(gt[n])))
                row[f'{n}_vec'] = None if o is None else (o.center - np.asarray(gt[n])).round(4).tolist()
            truth = compute_reward(task, {n: gt.get(n) for n in task.objects}, stamp)
            row['true'] = truth.distances
            row['meas'] = sample.distances
            per_frame.append(row)
    gt_docs = [{'stamp_ns': g['stamp_ns'], **{n: g.get(n) for n in task.objects}} for g in gts]
    summary = score_run(task, gt_docs, rewards)
    for n in task.objects:
        e = [r[f'{n}_err'] for r in per_frame if r[f'{n}_err'] is not None]
        summary[f'{n}_center_error_m'] = {'median': round(float(np.median(e)), 5),
                                          'p95': round(float(np.percentile(e, 95)), 5)} if e else None
    print(json.dumps(summary, indent=1))
    if args.per_frame:
        with open(args.per_frame, 'w') as fh:
            for r in per_frame:
                fh.write(json.dumps(r) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
