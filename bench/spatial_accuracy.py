"""Accuracy of the metric core on recorded sim bags: centre, pair-distance and size errors per centre mode.

    .venv/bin/python bench/spatial_accuracy.py /tmp/ep_s0 [/tmp/epn_s0 ...] [--stride 3]

For every bag and every centre mode of the block ('centroid', 'amodal', 'support'; the gripper
keeps 'amodal' and the target 'flat', as configured for the node), prints one JSON document with
the block centre error (median, p95), the distance error of every object pair and the block's
size error (gravity-aligned width/depth/height vs the simulator's true edge lengths).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'bench'))

from demo_offline import build_pipeline  # noqa: E402

from spatialvlm_ros.core.depth import make_frame  # noqa: E402
from spatialvlm_ros.core.facts_gravity import gravity_size  # noqa: E402
from spatialvlm_ros.core.gravity import estimate_gravity  # noqa: E402
from spatialvlm_ros.core.image_codec import image_from_msg  # noqa: E402
from spatialvlm_ros.core.lifting import lift_mask  # noqa: E402
from spatialvlm_ros.core.types import Intrinsics  # noqa: E402
from spatialvlm_ros.demo import _load_frames  # noqa: E402

PAIRS = (('gripper', 'block'), ('block', 'target'), ('gripper', 'target'))


def stats(v) -> dict:
    v = np.asarray(v, float)
    return {'n': int(v.size), 'median': round(float(np.median(v)), 5), 'p95': round(float(np.percentile(v, 95)), 5)} \
        if v.size else {'n': 0}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('bags', nargs='+')
    ap.add_argument('--stride', type=int, default=1, help='use every n-th frame')
    args = ap.parse_args()
    pipe, p = build_pipeline({})
    cfg = pipe.config
    report = {}
    for bag in args.bags:
        frames, gts = _load_frames(Path(bag))
        gt = {g['stamp_ns']: g for g in gts}
        acc = {m: {'center': {n: [] for n in ('gripper', 'block', 'target')}, 'pair': {f'{a}-{b}': [] for a, b in PAIRS},
                   'size_rel': []} for m in ('centroid', 'amodal', 'support')}
        for stamp, f in frames[:: args.stride]:
            info = f['info']
            intr = Intrinsics.from_k(info.k, int(info.width), int(info.height))
            fr = make_frame(image_from_msg(f['color']), f['color'].encoding, image_from_msg(f['depth']),
                            f['depth'].encoding, intr, stamp, 'cam', p['min_depth_m'], p['max_depth_m'])
            g = estimate_gravity(fr, cfg.gravity)
            masks = pipe.grounder.ground(fr, cfg.queries)
            truth = gt[stamp]
            for mode, a in acc.items():
                objs = {}
                for q in cfg.queries:
                    lc = cfg.lift_overrides.get(q.name, cfg.lift)
                    if q.name == 'block':
                        lc = dataclasses.replace(cfg.lift, center_mode=mode)
                    objs[q.name] = None if masks[q.name] is None else lift_mask(fr, masks[q.name], q.name, lc, g)
                for n, o in objs.items():
                    if o is not None:
                        a['center'][n].append(float(np.linalg.norm(o.center - np.asarray(truth[n]))))
                for x, y in PAIRS:
                    if objs[x] is not None and objs[y] is not None:
                        d = np.linalg.norm(objs[x].center - objs[y].center)
                        a['pair'][f'{x}-{y}'].append(abs(d - np.linalg.norm(np.subtract(truth[x], truth[y]))))
                if objs['block'] is not None:
                    size = gravity_size(objs['block'], g.up)
                    a['size_rel'].extend(np.abs(size - np.asarray(truth['block_size_m'])) / np.asarray(truth['block_size_m']))
        report[bag] = {
            mode: {'center_error_m': {n: stats(v) for n, v in a['center'].items()},
                   'pair_distance_error_m': {k: stats(v) for k, v in a['pair'].items()},
                   'pair_distance_error_all_m': stats(sum(a['pair'].values(), [])),
                   'block_size_rel_error': stats(a['size_rel'])}
            for mode, a in acc.items()
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
