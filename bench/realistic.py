"""Sizes, heights, pair distances and gravity on realistic rendered RGB-D scenes with exact truth.

    PYTHONPATH=. .venv/bin/python bench/realistic.py [--quick] [--tabletops 60] [--rooms 40] [--json-out FILE]

Scenes: ``spatialvlm_ros.sim.realistic`` (ray-cast numpy primitives): tabletops (boxes, cans, mugs
with handles, bowls, bottles, thin tools, small objects under 4 cm, a can standing on a box) seen
by RealSense D435/D415 or Xtion sensor models, and bedrooms (floor, walls, ceiling, bed with a
headboard, night stand with a box on it, dresser, table with legs, cabinet, floor lamp) seen by a
Kinect v2 model; camera heights 0.4-1.6 m, pitch 10-80 deg (rooms 10-60), roll up to 15 deg; masks
that bleed 2-5 px into the background and miss parts of thin parts. Scene ``i`` of a kind is seed
``i`` (tabletops) or ``1000 + i`` (rooms): deterministic; ``--seed-offset N`` adds N (another set of
scenes, to check that a change holds beyond the benchmark's own).

Measured: every object whose true visible region has at least ``--min-pixels`` pixels, does not
touch the image border and is at least 60 % unoccluded (its truth is then measurable at all).

Ours: what ``spatialvlm facts --json`` does: ``SpatialPipeline`` with the mask grounder fed the
degraded masks, 'support' centre mode, gravity estimated from the depth; sizes are
``PipelineResult.sizes`` (width, height, depth), centres ``ObjectObservation.center``.

Baselines, on the same masks: plain 2-98 percentiles of the masked valid points along the true
gravity frame (``pct_true_up``) and along our estimated one (``pct_our_up``); pair distances
between the centres of those percentile boxes.

Metrics per category (object kind, scene kind and all): size error median (relative, all three
dimensions pooled), height/width/depth error medians, signed bias (median signed relative error),
pair-distance error median (relative, pairs of measured objects in one scene). Gravity per frame:
angle between our up and the true up (percentiles, share within 2 deg), its source and
confidence (median confidence of frames within and beyond 2 deg). A static camera: every scene
seen ``--static-draws`` more times at 30 Hz with new sensor noise, the angle between consecutive
frames' ups (median, 99th percentile, max), each frame's own and steadied over the recent frames as
the pipeline gives it (the targets, ours: the issue sets no number, are on the latter). Soft
beds: the rooms once more with a duvet on the bed (``soft_bed``), gravity only, reported beside
the targets.


Prints one JSON document and writes it to ``bench/results/realistic.json`` (``--json-out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.core.gravity import estimate_gravity, gravity_basis  # noqa: E402
from spatialvlm_ros.core.grounding import ObjectQuery  # noqa: E402
from spatialvlm_ros.core.lifting import LiftConfig  # noqa: E402
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline  # noqa: E402
from spatialvlm_ros.sim.realistic import SENSORS, apply_sensor, make_scene  # noqa: E402

# The targets.
SIZE_MEDIAN, HEIGHT_MEDIAN, BIAS_ABS, GRAVITY_SHARE_2DEG = 0.03, 0.03, 0.015, 0.99
# Ours, for a static camera's up from one frame to the next (the issue asks for no jitter and sets
# no number): a tenth of a degree typically (a good spirit level), half a degree at worst.
STEADY_P50_DEG, STEADY_MAX_DEG = 0.1, 0.5
DIMS = ('width', 'height', 'depth')


def percentile_box(points: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(size (width, height, depth), centre (3,) optical) of the 2-98 percentile box along ``up``'s frame."""
    basis = gravity_basis(up)
    g = points @ basis.T
    lo, hi = np.percentile(g, [2.0, 98.0], axis=0)
    size = hi - lo
    return np.array([size[0], size[2], size[1]]), basis.T @ ((lo + hi) / 2)


def masked_points(frame, mask: np.ndarray) -> np.ndarray:
    k = frame.intrinsics
    vs, us = np.nonzero(mask & np.isfinite(frame.depth))
    z = frame.depth[vs, us].astype(np.float64)
    return np.stack([(us - k.cx) * z / k.fx, (vs - k.cy) * z / k.fy, z], axis=1)


def angle_deg(a, b) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def static_camera(scene, config: PipelineConfig, draws: int, seed: int) -> dict:
    """A static camera at 30 Hz: the scene's frame, then ``draws`` more with new sensor noise; the
    angle (degrees) between consecutive frames' ups, each frame's own (``own``) and as the pipeline
    gives them, steadied over the recent frames (``steady``, core.up_window)."""
    pipe = SpatialPipeline(config)
    own, steady = [], []
    for k in range(draws + 1):
        if k:
            apply_sensor(scene, SENSORS[scene.sensor], np.random.default_rng([seed, k]))
        frame = dataclasses.replace(scene.frame(), stamp_ns=1_000_000_000 + k * 33_333_333)
        own.append(estimate_gravity(frame, config.gravity).up)
        steady.append(pipe.gravity(frame).up)
    return {key: [angle_deg(a, b) for a, b in zip(ups, ups[1:])] for key, ups in (('own', own), ('steady', steady))}


def run_scene(seed: int, kind: str, min_pixels: int, draws: int = 0) -> dict:
    scene = make_scene(seed, kind)
    frame = scene.frame()
    names = [n for n, t in scene.truth.items()
             if t['pixels'] >= min_pixels and not t['touches_border'] and t['visible_share'] >= 0.6]
    out = {'seed': seed, 'kind': kind, 'sensor': scene.sensor, 'camera_height_m': scene.camera_height,
           'pitch_deg': scene.pitch_deg, 'roll_deg': scene.roll_deg, 'objects': {}}
    queries = tuple(ObjectQuery(name=n, prompt=n) for n in (names or list(scene.truth)[:1]))
    pipe = SpatialPipeline(PipelineConfig(queries=queries, grounder='mask', lift=LiftConfig(center_mode='support')))
    pipe.grounder.set_masks(masks={q.name: scene.masks[q.name] for q in queries})
    t0 = time.perf_counter()
    res = pipe.process(frame)
    out['ms'] = 1000 * (time.perf_counter() - t0)
    g = res.gravity
    out['gravity'] = {'error_deg': angle_deg(g.up, scene.up), 'source': g.source, 'confidence': float(g.confidence)}
    for n in names:
        truth = scene.truth[n]
        pts = masked_points(frame, scene.masks[n])
        if len(pts) < 10:
            continue
        obj = {'truth_size': truth['size'].tolist(), 'truth_center': truth['center'].tolist(),
               'category': truth['kind']}
        o = res.objects.get(n)
        if o is not None:
            obj['ours_size'] = [float(v) for v in res.sizes[n]]
            obj['ours_center'] = [float(v) for v in o.center]
        for key, up in (('pct_true_up', scene.up), ('pct_our_up', g.up)):
            s, c = percentile_box(pts, up)
            obj[f'{key}_size'] = s.tolist()
            obj[f'{key}_center'] = c.tolist()
        out['objects'][n] = obj
    if draws:  # last: it replaces the scene's depth
        out['gravity']['static_deg'] = static_camera(scene, pipe.config, draws, seed)
    return out


def _median(v):
    return float(np.median(v)) if len(v) else None


def summarise(scenes: list[dict]) -> dict:
    methods = ('ours', 'pct_true_up', 'pct_our_up')
    rel = {m: defaultdict(lambda: defaultdict(list)) for m in methods}  # method -> category -> dim -> [signed]
    pair = {m: defaultdict(list) for m in methods}
    missing = defaultdict(int)
    for sc in scenes:
        objs = sc['objects']
        for n, o in objs.items():
            t = np.asarray(o['truth_size'])
            for cat in (o['category'], sc['kind'], 'all'):
                for m in methods:
                    if f'{m}_size' not in o:
                        if m == 'ours':
                            missing[cat] += 1
                        continue
                    e = (np.asarray(o[f'{m}_size']) - t) / t
                    for d, v in zip(DIMS, e):
                        rel[m][cat][d].append(float(v))
        for a, b in combinations(sorted(objs), 2):
            oa, ob = objs[a], objs[b]
            dt = float(np.linalg.norm(np.subtract(oa['truth_center'], ob['truth_center'])))
            for m in methods:
                if f'{m}_center' in oa and f'{m}_center' in ob:
                    dm = float(np.linalg.norm(np.subtract(oa[f'{m}_center'], ob[f'{m}_center'])))
                    for cat in (sc['kind'], 'all'):
                        pair[m][cat].append(abs(dm - dt) / dt)
    cats = sorted(rel['pct_true_up'], key=lambda c: (c != 'all', c not in ('tabletop', 'room'), c))
    out = {}
    for cat in cats:
        row = {}
        for m in methods:
            r = rel[m][cat]
            allv = np.concatenate([np.asarray(r[d]) for d in DIMS]) if r else np.zeros(0)
            row[m] = {
                'n_objects': len(r['height']),
                'size_error_median': _median(np.abs(allv)),
                **{f'{d}_error_median': _median(np.abs(r[d])) for d in DIMS},
                'signed_bias': _median(allv),
                'size_error_p90': float(np.percentile(np.abs(allv), 90)) if len(allv) else None,
                'pair_distance_error_median': _median(pair[m][cat]) if pair[m].get(cat) else None,
                'n_pairs': len(pair[m].get(cat, [])),
            }
        row['ours']['missing'] = missing[cat]
        ahead = {}
        for base in ('pct_true_up', 'pct_our_up'):
            ok = {}
            for key in ('size_error_median', 'height_error_median', 'width_error_median', 'depth_error_median',
                        'pair_distance_error_median'):
                a, b = row['ours'][key], row[base][key]
                if a is not None and b is not None:
                    ok[key] = a <= b
            a, b = row['ours']['signed_bias'], row[base]['signed_bias']
            if a is not None and b is not None:
                ok['abs_signed_bias'] = abs(a) <= abs(b)
            ahead[base] = ok
        row['ours_ahead_of'] = ahead
        out[cat] = row
    return out


def _steady(gs: list[dict]) -> dict:
    out = {}
    for key in ('own', 'steady'):
        d = np.array([v for g in gs for v in g.get('static_deg', {}).get(key, ())])
        if len(d):
            out[key] = {'frame_pairs': len(d), 'change_deg_p50': float(np.percentile(d, 50)),
                        'change_deg_p99': float(np.percentile(d, 99)), 'change_deg_max': float(d.max())}
    return {'static_camera': out} if out else {}


def soft_bed_gravity(seeds: list[int]) -> dict:
    """Gravity on the same rooms with a duvet on the bed (sim.realistic.soften_bed: 1-3 cm bumps,
    0.5-3 degrees of sag): a large horizontal surface that is not level. A measurement beside the
    targets, not one of them."""
    err = []
    for seed in seeds:
        scene = make_scene(seed, 'room', soft_bed=True)
        err.append(angle_deg(estimate_gravity(scene.frame()).up, scene.up))
    err = np.asarray(err)
    if not len(err):
        return {}
    return {'frames': len(err), 'error_deg_p50': float(np.median(err)), 'error_deg_p90': float(np.percentile(err, 90)),
            'error_deg_max': float(err.max()), 'share_within_2deg': float(np.mean(err <= 2.0)),
            'share_within_3deg': float(np.mean(err <= 3.0))}


def gravity_summary(scenes: list[dict]) -> dict:
    out = {}
    for kind in ('all', 'tabletop', 'room'):
        gs = [s['gravity'] for s in scenes if kind in ('all', s['kind'])]
        if not gs:
            continue
        err = np.array([g['error_deg'] for g in gs])
        conf = np.array([g['confidence'] for g in gs])
        src = defaultdict(int)
        for g in gs:
            src[g['source']] += 1
        out[kind] = {
            'frames': len(gs),
            'error_deg_p50': float(np.percentile(err, 50)), 'error_deg_p90': float(np.percentile(err, 90)),
            'error_deg_p99': float(np.percentile(err, 99)), 'error_deg_max': float(err.max()),
            'share_within_2deg': float(np.mean(err <= 2.0)),
            'confidence_median_within_2deg': _median(conf[err <= 2.0]),
            'confidence_median_beyond_2deg': _median(conf[err > 2.0]),
            'confidence_max_beyond_2deg': float(conf[err > 2.0].max()) if np.any(err > 2.0) else None,
            'sources': dict(src),
            **_steady(gs),
            'worst': sorted(({'seed': s['seed'], 'error_deg': round(s['gravity']['error_deg'], 2),
                              'confidence': round(s['gravity']['confidence'], 3), 'pitch_deg': round(s['pitch_deg'], 1),
                              'roll_deg': round(s['roll_deg'], 1)}
                             for s in scenes if kind in ('all', s['kind'])), key=lambda d: -d['error_deg'])[:5],
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--tabletops', type=int, default=60)
    ap.add_argument('--rooms', type=int, default=40)
    ap.add_argument('--quick', action='store_true', help='15 tabletops and 10 rooms')
    ap.add_argument('--seed-offset', type=int, default=0,
                    help='another set of scenes: tabletop i is seed OFFSET + i, room i seed OFFSET + 1000 + i '
                         '(0: the benchmark\'s own scenes)')
    ap.add_argument('--min-pixels', type=int, default=300)
    ap.add_argument('--no-soft-beds', dest='soft_beds', action='store_false',
                    help='skip the rooms seen again with a duvet on the bed (gravity only)')
    ap.add_argument('--static-draws', type=int, default=6,
                    help='a static camera: the up of this many more frames of every scene (new sensor noise), '
                         'compared frame to frame (0: skip)')
    ap.add_argument('--json-out', default=str(ROOT / 'bench' / 'results' / 'realistic.json'))
    ap.add_argument('--scenes-out', default=None, help='also write the per-scene measurements here')
    args = ap.parse_args(argv)
    if args.quick:
        args.tabletops, args.rooms = 15, 10
    t0 = time.time()
    off = args.seed_offset
    draws = args.static_draws
    scenes = [run_scene(off + i, 'tabletop', args.min_pixels, draws) for i in range(args.tabletops)]
    scenes += [run_scene(off + 1000 + i, 'room', args.min_pixels, draws) for i in range(args.rooms)]
    cats = summarise(scenes)
    grav = gravity_summary(scenes)
    if args.soft_beds:
        grav['room_soft_bed'] = soft_bed_gravity([off + 1000 + i for i in range(args.rooms)])
    allc = cats['all']['ours']
    targets = {
        'size_error_median': {'value': allc['size_error_median'], 'target': SIZE_MEDIAN},
        'height_error_median': {'value': allc['height_error_median'], 'target': HEIGHT_MEDIAN},
        'abs_signed_bias': {'value': abs(allc['signed_bias']), 'target': BIAS_ABS},
        'gravity_share_within_2deg': {'value': grav['all']['share_within_2deg'], 'target': GRAVITY_SHARE_2DEG},
    }
    for name, t in targets.items():
        t['met'] = t['value'] >= t['target'] if name.startswith('gravity') else t['value'] <= t['target']
    steady = grav['all'].get('static_camera', {}).get('steady')
    if steady:
        targets['static_camera_up_change_p50_deg'] = {'value': steady['change_deg_p50'], 'target': STEADY_P50_DEG,
                                                      'met': steady['change_deg_p50'] <= STEADY_P50_DEG}
        targets['static_camera_up_change_max_deg'] = {'value': steady['change_deg_max'], 'target': STEADY_MAX_DEG,
                                                      'met': steady['change_deg_max'] <= STEADY_MAX_DEG}
    ahead = all(all(v.values()) for c in cats.values() for v in c['ours_ahead_of'].values())
    targets['ahead_of_baselines_everywhere'] = {'value': ahead, 'met': ahead}
    doc = {
        'scenes': {'tabletop': args.tabletops, 'room': args.rooms, 'seed_offset': args.seed_offset},
        'objects': cats['all']['ours']['n_objects'],
        'targets': targets,
        'targets_met': f'{sum(t["met"] for t in targets.values())}/{len(targets)}',
        'gravity': grav,
        'categories': cats,
        'ms_per_frame_median': float(np.median([s['ms'] for s in scenes])),
        'seconds': round(time.time() - t0, 1),
    }
    text = json.dumps(doc, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + '\n')
    if args.scenes_out:
        Path(args.scenes_out).write_text(json.dumps(scenes) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
