"""The targets of the issue "Metric spatial core", measured on simulated Fetch frames.

    MUJOCO_GL=egl .venv/bin/python bench/spatial_core.py [--seeds 0 1 2 3] [--frames 120] [--stride 4] \
        [--noise kinect] [--repeat 2] [--cpu 0] [--json-out FILE]

Frames. For every seed, the package's own recorder (``sim.record_episode``) writes the scripted
pick-and-place episode twice, with exact depth and with its depth-noise model (``--noise``, a
``sim.noise.NOISE_PRESETS`` name, seeded per episode as ``spatialvlm sim record --depth-noise``
does), and the same episode is rendered once more with MuJoCo's per-geom segmentation
(``iter_episode(segmentation=True)``), whose label image gives each frame's gripper (both fingers),
block and target masks. All three are cached under ``runs/cache/`` (bags as ``bench/label.py``
names them, the label images as ``<bag>_seg.npz``); the ground truth of the segmentation pass is
checked against the bags' ``/sim/ground_truth`` (same physics, same state). Every ``--stride``-th
frame of each bag is decoded with the node's own conversion (``ros.convert.frame_from_msgs``).
An object whose mask has fewer pixels than the grounder accepts (``min_pixels``) is not in view
(seed 1's raised target leaves the image): it is counted under ``not_in_view``, gets no error and
no question. ``missing`` counts objects in view that a method failed to measure.
The truth of the gripper is the grip site between the fingers, its mask the two finger geoms: a
centre of the visible fingers sits ~1 cm above and in front of that point
(``center_bias_right_forward_up_m``), for both methods. Every object in view counts, however much
of it is hidden; ``center_error_by_visibility_m`` splits our centre errors by the share of the
object our pipeline estimates to be in view (``ObjectObservation.visible_fraction``, which also
lowers the confidence of its facts), at one half.

Ours. The node's perception (``config/spatial_facts.yaml`` through ``core.params``, i.e. 'support'
centre for the block, 'amodal' for the gripper, 'flat' for the target, gravity plane, full fact
vocabulary) with the ``mask`` grounder fed the ground-truth masks, so ``SpatialPipeline.process``
does exactly what it does after grounding. Errors against the simulator's truth: object centre,
object-pair distance, and the block's gravity-aligned size (its ``width``/``depth``/``height``
facts) against the true edge lengths, as the facts report it.

Baseline. The plain open3d pipeline of SpatialRGPT / VQASynth on the same frames and masks: per
object an open3d PointCloud from the masked depth, statistical outlier removal (20 neighbours,
std ratio 2.0), DBSCAN (``--o3d-eps``, ``--o3d-min-points``; the largest cluster is kept), the
axis-aligned bounding box centre as the centre, pair distances between centres.

Questions. Two SpatialVLM-style suites, scored with ``vlm.evaluation.score`` (the paper's metrics):

- ``eval``: what ``spatialvlm eval --backend geometry`` asks (``vlm.evaluation``: questions from the
  ground truth, directions in the true gravity frame), answered by the ``geometry`` backend's ``answer`` from
  the centres our pipeline measured in that frame (``evaluate`` drives it, as the command does);
- ``synth``: the questions of ``spatialvlm synth`` (``offline.qa.make_questions`` on the true
  gravity-frame geometry: the world's up, the true centres), answered from our facts (the gravity
  frame's ``distance``, ``horizontal_distance``, ``vertical_distance`` values and the relations
  through ``core.facts.relation_holds``; an undecided relation is no answer). The truth carries no
  sizes of gripper or target, so size questions are not asked; like ``eval``, quantitative
  questions need a true value of at least ``EvalConfig.min_value_m``.

"Decided" accuracy counts only the qualitative questions our measurement decides (the relation
is beyond the facts' / backend's margin).

Speed. ``SpatialPipeline.process`` on each frame with its three masks given (grounding is then a
lookup), ``--repeat`` times, after a warm-up; the open3d pipeline timed the same way. The target is
read on the noise-free frames (``ours_ms``); the noisy frames are timed apart.
The process is pinned to one core (``--cpu``) and every BLAS/OpenMP pool to one thread before
numpy is imported. Other load on the machine shows up in the timings (median and p90 reported).

Prints one JSON document: ``targets`` (each with ``value``, ``target`` and ``met``) and
``targets_met``, the configuration, per condition (``noise_free``, ``noisy``) the per-object,
per-pair, per-seed and pooled errors of ``ours`` and ``open3d`` and the question metrics (pooled and
``by_pair``), ``speed`` and a side-by-side ``comparison``. Steady state (recordings cached) ~1 min
on the 2-core dev machine; the first run records 4 x 3 episodes (~2 more minutes).
"""

from __future__ import annotations

import os

# Before numpy (or anything that imports it) starts its thread pools.
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS',
             'VECLIB_MAXIMUM_THREADS'):
    os.environ[_var] = '1'
os.environ.setdefault('MUJOCO_GL', 'egl')

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from itertools import combinations  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.core.facts import relation_holds  # noqa: E402
from spatialvlm_ros.core.gravity import gravity_basis  # noqa: E402
from spatialvlm_ros.core.params import pipeline_config_from_params  # noqa: E402
from spatialvlm_ros.core.pipeline import SpatialPipeline  # noqa: E402
from spatialvlm_ros.offline.config import default_params  # noqa: E402
from spatialvlm_ros.core import vocabulary as vocab  # noqa: E402
from spatialvlm_ros.offline.qa import make_questions  # noqa: E402
from spatialvlm_ros.messages.convert import frame_from_msgs  # noqa: E402
from spatialvlm_ros.sim.scene import SEGMENTATION_LABELS  # noqa: E402
from spatialvlm_ros.vlm import interpret_question, make_backend  # noqa: E402
from spatialvlm_ros.vlm.errors import VLMError  # noqa: E402
from spatialvlm_ros.vlm.evaluation import EvalConfig, EvalItem, evaluate, paired_sim_messages, score  # noqa: E402
from spatialvlm_ros.vlm.parse import parse_choice, parse_yes_no  # noqa: E402

CACHE = ROOT / 'runs' / 'cache'
WIDTH, HEIGHT = 640, 480
OBJECTS = ('gripper', 'block', 'target')  # the order of the node's object_names and of the facts
DESCRIPTIONS = {'gripper': 'yellow gripper', 'block': 'red block', 'target': 'blue target'}
PAIRS = tuple(combinations(OBJECTS, 2))
CONDITIONS = ('noise_free', 'noisy')

# The targets (metres, fractions, per cent, milliseconds).
CENTRE_MEDIAN_M, CENTRE_P95_M, PAIR_MEDIAN_M = 0.005, 0.015, 0.005
NOISY_PAIR_MEDIAN_M, NOISY_SIZE_MEDIAN = 0.015, 0.10
QA_HALF_DOUBLE_PCT, QA_TEN_PCT, QA_QUALITATIVE_PCT = 99.0, 90.0, 98.0
SPEED_MS = 10.0


# --------------------------------------------------------------------------------------------
# recordings


def _bag_name(seed: int, frames: int) -> str:
    return f'fetch_seed{seed}_{frames}f_{WIDTH}x{HEIGHT}'


def _record(cache: Path, seed: int, frames: int, noise_name: str, log) -> dict:
    """Paths of the cached noise-free bag, noisy bag and label images of ``seed`` (made if missing)."""
    from spatialvlm_ros.sim import record_episode
    from spatialvlm_ros.sim.noise import NOISE_PRESETS

    cache.mkdir(parents=True, exist_ok=True)
    base = _bag_name(seed, frames)
    paths = {'noise_free': cache / base, 'noisy': cache / f'{base}_{noise_name}', 'seg': cache / f'{base}_seg.npz'}
    if not paths['noise_free'].exists():
        log(f'recording {paths["noise_free"].name}')
        record_episode(paths['noise_free'], seed=seed, frames=frames, width=WIDTH, height=HEIGHT, progress=False)
    if not paths['noisy'].exists():
        noise = NOISE_PRESETS[noise_name]
        log(f'recording {paths["noisy"].name}')
        record_episode(paths['noisy'], seed=seed, frames=frames, width=WIDTH, height=HEIGHT, progress=False,
                       noise=dataclasses.replace(noise, seed=seed))
    if not paths['seg'].exists():
        log(f'rendering the segmentation of {base}')
        _record_segmentation(seed, frames, paths['seg'])
    return paths


def _record_segmentation(seed: int, frames: int, out: Path) -> None:
    """Label images (uint8, ``SEGMENTATION_LABELS``) of every frame, with stamps and true positions."""
    from spatialvlm_ros.sim import iter_episode

    stamps, labels, truth = [], [], []
    for f in iter_episode(seed, frames, WIDTH, HEIGHT, segmentation=True):
        stamps.append(f.stamp_ns)
        labels.append(f.segmentation)
        truth.append(np.stack([f.gripper, f.block, f.target]))
    tmp = out.with_name(out.name + '.partial.npz')
    np.savez_compressed(tmp, stamps=np.asarray(stamps, np.int64), labels=np.stack(labels),
                        truth=np.stack(truth))
    os.replace(tmp, out)


def _load(bag: Path, stride: int, p: dict) -> list:
    """Every ``stride``-th (Frame, ground-truth record) of a sim bag, as the node would decode it."""
    return [(frame_from_msgs(f['color'], f['depth'], f['info'], p['min_depth_m'], p['max_depth_m']), gt)
            for f, gt in paired_sim_messages(bag)[::stride]]


# --------------------------------------------------------------------------------------------
# the two pipelines


def _our_pipeline() -> tuple[SpatialPipeline, dict]:
    """The node's pipeline from its YAML defaults, grounding with given masks (prompt = label id)."""
    p = default_params()
    p.update(grounder='mask', object_names=list(OBJECTS),
             object_prompts=[str(SEGMENTATION_LABELS[n]) for n in OBJECTS], kinematic_objects=[''],
             object_center_modes=['gripper=grip'], flat_objects=['target'])  # as the demo task says
    return SpatialPipeline(pipeline_config_from_params(p)), p


class Open3dBaseline:
    """Masked depth -> open3d PointCloud -> statistical outlier removal -> DBSCAN (largest cluster)
    -> axis-aligned bounding-box centre, per object (SpatialRGPT / VQASynth)."""

    def __init__(self, eps: float, min_points: int, max_depth_m: float) -> None:
        import open3d as o3d

        self.o3d = o3d
        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
        self.eps, self.min_points, self.max_depth_m = eps, min_points, max_depth_m
        self._intr = None

    def centres(self, frame, masks: dict) -> dict:
        o3d = self.o3d
        k = frame.intrinsics
        if self._intr is None or self._intr[0] != (k.width, k.height, k.fx, k.fy, k.cx, k.cy):
            self._intr = ((k.width, k.height, k.fx, k.fy, k.cx, k.cy),
                          o3d.camera.PinholeCameraIntrinsic(k.width, k.height, k.fx, k.fy, k.cx, k.cy))
        intr = self._intr[1]
        out = {}
        for name, mask in masks.items():
            depth = np.where(mask & np.isfinite(frame.depth), frame.depth, 0.0).astype(np.float32)
            pcd = o3d.geometry.PointCloud.create_from_depth_image(
                o3d.geometry.Image(depth), intr, depth_scale=1.0, depth_trunc=self.max_depth_m)
            if len(pcd.points) < 21:
                out[name] = None
                continue
            pcd, _ = pcd.remove_statistical_outlier(nb_neighbors=20, std_ratio=2.0)
            labels = np.asarray(pcd.cluster_dbscan(eps=self.eps, min_points=self.min_points))
            if not (labels >= 0).any():
                out[name] = None
                continue
            largest = int(np.argmax(np.bincount(labels[labels >= 0])))
            pcd = pcd.select_by_index(np.flatnonzero(labels == largest).tolist())
            out[name] = np.asarray(pcd.get_axis_aligned_bounding_box().get_center(), np.float64)
        return out


# --------------------------------------------------------------------------------------------
# question suites


class MeasuredAnswerer:
    """A VLM backend for ``vlm.evaluation.evaluate``: the ``geometry`` backend's answers, from the
    centres this benchmark's pipeline measured in the frame asked about (no second measurement)."""

    def __init__(self) -> None:
        self.geometry = make_backend('geometry', grounder='mask', objects=tuple(DESCRIPTIONS.values()),
                                     flat_objects=(DESCRIPTIONS['target'],))
        self.by_description = {d: n for n, d in DESCRIPTIONS.items()}
        self.results: dict = {}  # id(frame) -> PipelineResult
        self.decided: dict = {}  # (stamp, question) -> the measured difference is beyond the margin

    def ask(self, images, question: str) -> str:
        frame = images[0]
        kind, a, b = interpret_question(question, self.geometry.config.objects)
        objs = self.results[id(frame)].objects
        oa, ob = objs.get(self.by_description[a]), objs.get(self.by_description[b])
        if oa is None or ob is None:
            raise VLMError(f'{a if oa is None else b} not measured in frame {frame.stamp_ns}', kind='not_found')
        result = self.results[id(frame)]
        up = vocab.CAMERA_UP if result.gravity is None else result.gravity.up
        sizes = result.sizes
        m = vocab.measure_pair(oa.center, ob.center, up, sizes.get(self.by_description[a]),
                               sizes.get(self.by_description[b]))
        rel = vocab.REGISTRY[kind]
        if rel.answer_type in ('yes_no', 'choice'):
            cfg = self.geometry.config
            self.decided[(frame.stamp_ns, question)] = vocab.decide(rel, m, cfg.margin_m, cfg.size_margin) is not None
        return self.geometry.answer_measured(kind, a, b, m)

    def ask_batch(self, requests) -> list:
        return [self.ask(images, q) for images, q in requests]

    def close(self) -> None:
        self.geometry.close()


def _find(facts, kind: str, a: str, b: str):
    for f in facts:
        if f.type == kind and {f.subject, f.object} == {a, b}:
            return f
    return None


def _fact_relation(rel) -> str:
    """The fact relation that decides a synth category: itself, or a choice's predicate."""
    if rel.kind != 'choice':
        return rel.name
    return next(r.name for r in vocab.relations('facts') if r.kind == 'predicate' and (r.axis, r.sign) == (rel.axis, rel.sign))


def synth_items(gt: dict, result, rng, min_value_m: float, margin_m: float, per_pair: int) -> list:
    """``spatialvlm synth``'s questions on the true geometry of one frame, answered from our facts.

    Objects whose truth is None (not in view) are not asked about. Returns (EvalItem for
    ``vlm.evaluation.score``, pair name, decided: the measurement decides a qualitative one).
    """
    up = np.asarray(gt['camera_rotation_world'], np.float64)[2]  # world +z in the optical frame
    facts = result.facts
    out = []
    for a, b in PAIRS:
        if gt.get(a) is None or gt.get(b) is None:
            continue
        g = vocab.measure_pair(gt[a], gt[b], up)  # no true sizes: size categories are not drawn
        descs = (DESCRIPTIONS[a], DESCRIPTIONS[b])
        for qa in make_questions(rng, (a, b), descs, g, per_pair, margin_m):
            found = result.objects.get(a) is not None and result.objects.get(b) is not None
            if not qa.qualitative:
                if qa.value_m < min_value_m or qa.category in ('width', 'height'):
                    continue  # no true size to ask about; too small a value for a relative error
                answer = None
                if found:
                    if qa.category == 'lateral_offset':  # the left/right fact's value
                        x = vocab.REGISTRY['left_of']
                        f = next((f for f in facts if f.type in (x.name, x.inverse, x.undecided)
                                  and {f.subject, f.object} == {a, b}), None)
                    else:
                        f = _find(facts, qa.category, a, b)
                    answer = None if f is None else f'{abs(f.value) * 100:.1f} centimeters'
                item = EvalItem(int(gt['stamp_ns']), 'distance', qa.question, float(qa.value_m), answer=answer)
                out.append((item, f'{a}-{b}', None))
                continue
            rel = vocab.REGISTRY[qa.category]
            holds = relation_holds(facts, _fact_relation(rel), a, b) if found else None
            kind = qa.category
            if rel.answer_type == 'choice':
                truth = parse_choice(qa.answer, descs)
                answer = None if holds is None else f'{descs[0] if holds else descs[1]}.'
                item = EvalItem(int(gt['stamp_ns']), kind, qa.question, truth, choices=descs, answer=answer)
            else:
                truth = parse_yes_no(qa.answer)
                answer = None if holds is None else ('Yes.' if holds else 'No.')
                item = EvalItem(int(gt['stamp_ns']), kind, qa.question, truth, answer=answer)
            if truth is None:  # the template's own answer must be readable
                raise RuntimeError(f'cannot read the truth of {qa.category}: {qa.answer!r}')
            out.append((item, f'{a}-{b}', holds is not None))
    return out


def _qa_metrics(tagged: list, skipped: int) -> dict:
    """``vlm.evaluation.score`` over (EvalItem, pair, decided) triples, plus qualitative accuracy
    on the decided ones, and the main numbers per object pair."""

    def one(rows) -> dict:
        m = score([it for it, _, _ in rows])
        qual = [(it, d) for it, _, d in rows if it.answer_type != 'distance']
        kept = [it for it, d in qual if d]
        m['qualitative_decided'] = len(kept)
        m['qualitative_decided_pct'] = None if not qual else round(100.0 * len(kept) / len(qual), 2)
        m['qualitative_accuracy_decided_pct'] = score(kept)['qualitative_accuracy_pct']
        return m

    m = one(tagged)
    m['pairs_skipped_not_in_view'] = skipped
    keys = ('quantitative_questions', 'within_0.5x_2x_pct', 'within_10pct_pct', 'median_relative_error',
            'qualitative_questions', 'qualitative_accuracy_decided_pct', 'qualitative_decided_pct')
    m['by_pair'] = {}
    for a, b in PAIRS:
        sub = one([r for r in tagged if r[1] == f'{a}-{b}'])
        m['by_pair'][f'{a}-{b}'] = {k: sub[k] for k in keys}
    return m


# --------------------------------------------------------------------------------------------
# statistics


def _stats(values, scale: int = 6) -> dict:
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return {'n': 0}
    return {'n': int(v.size), 'median': round(float(np.median(v)), scale),
            'p95': round(float(np.percentile(v, 95)), scale), 'max': round(float(v.max()), scale)}


def _ms(values) -> dict:
    v = np.asarray(values, np.float64) * 1e3
    if v.size == 0:
        return {'n': 0}
    return {'n': int(v.size), 'median': round(float(np.median(v)), 3), 'p90': round(float(np.percentile(v, 90)), 3),
            'min': round(float(v.min()), 3), 'mean': round(float(v.mean()), 3)}


class Errors:
    """Centre and pair-distance errors of one method in one condition."""

    def __init__(self) -> None:
        self.centre = {n: [] for n in OBJECTS}
        self.pair = {f'{a}-{b}': [] for a, b in PAIRS}
        self.bias = {n: [] for n in OBJECTS}
        self.missing = {n: 0 for n in OBJECTS}
        self.not_in_view = {n: 0 for n in OBJECTS}
        self.per_seed: dict = {}
        self.by_visibility: dict = {'visible_ge_0.5': [], 'visible_lt_0.5': []}

    def add(self, seed: int, centres: dict, gt: dict, basis: np.ndarray, visible: dict | None = None) -> None:
        """centres: name -> measured centre or None; gt: the truth with None for objects not in
        view (they are counted apart, not as failures); basis: rows (right, forward, up);
        visible: name -> the method's estimated share of the object in view, if it has one."""
        s = self.per_seed.setdefault(seed, {'centre': [], 'pair': []})
        for n in OBJECTS:
            if gt.get(n) is None:
                self.not_in_view[n] += 1
                continue
            c = centres.get(n)
            if c is None:
                self.missing[n] += 1
                continue
            d = np.asarray(c, np.float64) - np.asarray(gt[n], np.float64)
            e = float(np.linalg.norm(d))
            self.centre[n].append(e)
            self.bias[n].append(basis @ d)
            s['centre'].append(e)
            if visible is not None:
                self.by_visibility['visible_ge_0.5' if visible[n] >= 0.5 else 'visible_lt_0.5'].append(e)
        for a, b in PAIRS:
            if centres.get(a) is None or centres.get(b) is None or gt.get(a) is None or gt.get(b) is None:
                continue
            meas = float(np.linalg.norm(np.asarray(centres[a]) - np.asarray(centres[b])))
            true = float(np.linalg.norm(np.subtract(gt[a], gt[b])))
            self.pair[f'{a}-{b}'].append(abs(meas - true))
            s['pair'].append(abs(meas - true))

    def report(self) -> dict:
        return {
            'center_error_m': {**{n: _stats(v) for n, v in self.centre.items()},
                               'pooled': _stats(sum(self.centre.values(), [])),
                               'pooled_without_gripper': _stats(self.centre['block'] + self.centre['target'])},
            'pair_distance_error_m': {**{k: _stats(v) for k, v in self.pair.items()},
                                      'pooled': _stats(sum(self.pair.values(), []))},
            # median error vector in the true gravity frame: where the centres sit, not just how far
            'center_bias_right_forward_up_m': {n: (np.round(np.median(v, axis=0), 5).tolist() if v else None)
                                               for n, v in self.bias.items()},
            'missing': dict(self.missing),
            'not_in_view': dict(self.not_in_view),
            'per_seed': {str(s): {'center_error_m': _stats(v['centre']), 'pair_distance_error_m': _stats(v['pair'])}
                         for s, v in sorted(self.per_seed.items())},
            **({'center_error_by_visibility_m': {k: _stats(v) for k, v in self.by_visibility.items()}}
               if any(self.by_visibility.values()) else {}),
        }


def _angle_deg(u, v) -> float:
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    c = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


# --------------------------------------------------------------------------------------------
# main


def _time(fn, repeat: int, out: list):
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t0)
    return result


def run(args, log) -> dict:
    pipe, params = _our_pipeline()
    baseline = Open3dBaseline(args.o3d_eps, args.o3d_min_points, float(params['max_depth_m']))
    eval_config = EvalConfig(objects=dict(DESCRIPTIONS), frames=10**6, seed=0)
    margin_m = float(pipe.config.facts.margin_m)
    report: dict = {'config': {
        'seeds': args.seeds, 'frames_per_episode': args.frames, 'stride': args.stride, 'noise': args.noise,
        'repeat': args.repeat, 'image': f'{WIDTH}x{HEIGHT}', 'cpu_affinity': sorted(os.sched_getaffinity(0)),
        'cpus_on_machine': os.cpu_count(), 'objects': list(OBJECTS),
        'masks': 'MuJoCo segmentation labels (gripper = both finger geoms)',
        'our_pipeline': {'grounder': 'mask', 'center_mode': params['center_mode'],
                         'object_center_modes': params['object_center_modes'],
                         'flat_objects': params['flat_objects'], 'fact_margin_m': margin_m},
        'open3d': {'version': baseline.o3d.__version__, 'sor_nb_neighbors': 20, 'sor_std_ratio': 2.0,
                   'dbscan_eps_m': args.o3d_eps, 'dbscan_min_points': args.o3d_min_points},
        'python': platform.python_version(), 'numpy': np.__version__,
    }}
    warm = False
    timing = {'ours_s': [], 'open3d_s': [], 'ours_noisy_s': [], 'open3d_noisy_s': []}
    conds: dict = {}
    for cond in CONDITIONS:
        ours, o3d_err = Errors(), Errors()
        size_rel = {'width': [], 'depth': [], 'height': []}
        size_signed = {'width': [], 'depth': [], 'height': []}
        up_err, sources = [], {}
        eval_tagged, synth_tagged, skipped = [], [], 0
        answerer = MeasuredAnswerer()
        n_frames = 0
        min_pixels = pipe.grounder.config.min_pixels
        for seed in args.seeds:
            paths = _record(Path(args.cache), seed, args.frames, args.noise, log)
            with np.load(paths['seg']) as seg:  # each key of an npz decompresses on every access
                seg_labels, seg_truth = seg['labels'], seg['truth']
                seg_index = {int(s): i for i, s in enumerate(seg['stamps'])}
            frames = _load(paths[cond], args.stride, params)
            log(f'{cond} seed {seed}: {len(frames)} frames')
            asked = []  # (frame, truth of the objects in view) for the eval suite
            for frame, gt in frames:
                i = seg_index[int(gt['stamp_ns'])]
                drift = float(np.abs(seg_truth[i] - np.asarray([gt[n] for n in OBJECTS])).max())
                if drift > 1e-6:
                    raise RuntimeError(f'the segmentation pass of seed {seed} is not the recorded episode '
                                       f'(frame {i}: {drift:.2e} m apart); delete {paths["seg"]}')
                labels = seg_labels[i]
                masks = {n: labels == SEGMENTATION_LABELS[n] for n in OBJECTS}
                pipe.grounder.set_masks(masks=masks)
                # An object with fewer mask pixels than the grounder accepts is not in view: no
                # error is counted for it and no question asked about it (nothing to measure).
                in_view = {**gt, **{n: None for n in OBJECTS if np.count_nonzero(masks[n]) < min_pixels}}
                skipped += sum(in_view[a] is None or in_view[b] is None for a, b in PAIRS)
                basis = gravity_basis(np.asarray(gt['camera_rotation_world'], np.float64)[2])
                if not warm:  # first calls: imports, caches, page faults
                    for _ in range(3):
                        pipe.process(frame)
                        baseline.centres(frame, masks)
                    warm = True
                key = '' if cond == 'noise_free' else '_noisy'
                result = _time(lambda: pipe.process(frame), args.repeat, timing[f'ours{key}_s'])
                o3d_centres = _time(lambda: baseline.centres(frame, masks), args.repeat, timing[f'open3d{key}_s'])
                n_frames += 1
                centres = {n: (None if o is None else o.center) for n, o in result.objects.items()}
                visible = {n: (None if o is None else o.visible_fraction) for n, o in result.objects.items()}
                ours.add(seed, centres, in_view, basis, visible)
                o3d_err.add(seed, o3d_centres, in_view, basis)
                if result.gravity is not None:
                    sources[result.gravity.source] = sources.get(result.gravity.source, 0) + 1
                    up_err.append(_angle_deg(result.gravity.up, np.asarray(gt['camera_rotation_world'])[2]))
                if result.objects.get('block') is not None:
                    size = {f.type: f.value for f in result.facts if f.subject == 'block' and f.object == ''
                            and f.type in size_rel}
                    true = np.asarray(gt['block_size_m'], np.float64)  # edge lengths (x, y, z)
                    for j, axis in enumerate(('width', 'depth', 'height')):
                        if axis in size:
                            size_signed[axis].append((size[axis] - true[j]) / true[j])
                            size_rel[axis].append(abs(size_signed[axis][-1]))
                answerer.results[id(frame)] = result
                rng = np.random.default_rng([seed, int(gt['stamp_ns']) % 2**32, CONDITIONS.index(cond)])
                synth_tagged.extend(synth_items(in_view, result, rng, eval_config.min_value_m, margin_m,
                                                args.per_pair))
                asked.append((frame, in_view))
            # The eval suite, per episode (stamps repeat across seeds): questions from each frame's
            # truth, answered through the backend interface, exactly as `spatialvlm eval` drives it.
            answerer.decided.clear()
            _, items = evaluate(answerer, asked, dataclasses.replace(eval_config, seed=seed))
            for it in items:
                _, da, db = interpret_question(it.question, tuple(DESCRIPTIONS.values()))
                a, b = sorted((answerer.by_description[da], answerer.by_description[db]), key=OBJECTS.index)
                dec = None if it.answer_type == 'distance' else answerer.decided.get((it.stamp_ns, it.question), False)
                eval_tagged.append((it, f'{a}-{b}', dec))
            answerer.results.clear()
            del frames, asked
        answerer.close()
        r = ours.report()
        r['block_size_rel_error'] = {**{k: _stats(v, 4) for k, v in size_rel.items()},
                                     'pooled': _stats(sum(size_rel.values(), []), 4)}
        # Negative: the measured box is smaller than the block.
        r['block_size_signed_rel_error_median'] = {k: (round(float(np.median(v)), 4) if v else None)
                                                   for k, v in size_signed.items()}
        r['gravity'] = {'sources': sources, 'up_error_deg': _stats(up_err, 3)}
        conds[cond] = {'frames': n_frames, 'ours': r, 'open3d': o3d_err.report(),
                       'qa': {'eval': _qa_metrics(eval_tagged, skipped),
                              'synth': _qa_metrics(synth_tagged, skipped)}}
    report.update(conds)
    ours_ms, o3d_ms = _ms(timing['ours_s']), _ms(timing['open3d_s'])
    report['speed'] = {
        'what': 'ms per 640x480 frame with 3 given masks, one core; noise-free frames (noisy ones apart)',
        'ours_ms': ours_ms, 'open3d_ms': o3d_ms,
        'ours_noisy_ms': _ms(timing['ours_noisy_s']), 'open3d_noisy_ms': _ms(timing['open3d_noisy_s']),
        'open3d_over_ours': round(o3d_ms['median'] / ours_ms['median'], 2) if ours_ms.get('n') else None,
    }
    report['comparison'] = {
        cond: {m: {'ms_per_frame_median': report['speed'][f'{m}{"" if cond == "noise_free" else "_noisy"}_ms']
                   .get('median'),
                   'center_error_median_m': conds[cond][m]['center_error_m']['pooled'].get('median'),
                   'center_error_p95_m': conds[cond][m]['center_error_m']['pooled'].get('p95'),
                   'pair_distance_error_median_m': conds[cond][m]['pair_distance_error_m']['pooled'].get('median'),
                   'pair_distance_error_p95_m': conds[cond][m]['pair_distance_error_m']['pooled'].get('p95')}
               for m in ('ours', 'open3d')}
        for cond in CONDITIONS
    }
    report['targets'] = _targets(report)
    met = [t['met'] for t in report['targets'].values()]
    report['targets_met'] = f'{sum(met)}/{len(met)}'
    # targets first when printed
    return {'targets': report.pop('targets'), 'targets_met': report.pop('targets_met'), **report}


def _target(value, op: str, threshold: float, unit: str) -> dict:
    ok = value is not None and (value <= threshold if op == '<=' else value >= threshold)
    return {'value': value, 'target': f'{op} {threshold}', 'unit': unit, 'met': bool(ok)}


def _targets(r: dict) -> dict:
    nf, nz = r['noise_free']['ours'], r['noisy']['ours']
    t = {
        'noise_free.center_error_median': _target(nf['center_error_m']['pooled'].get('median'), '<=',
                                                  CENTRE_MEDIAN_M, 'm'),
        'noise_free.center_error_p95': _target(nf['center_error_m']['pooled'].get('p95'), '<=', CENTRE_P95_M, 'm'),
        'noise_free.pair_distance_error_median': _target(nf['pair_distance_error_m']['pooled'].get('median'), '<=',
                                                         PAIR_MEDIAN_M, 'm'),
        'noisy.pair_distance_error_median': _target(nz['pair_distance_error_m']['pooled'].get('median'), '<=',
                                                    NOISY_PAIR_MEDIAN_M, 'm'),
        'noisy.block_size_rel_error_median': _target(nz['block_size_rel_error']['pooled'].get('median'), '<=',
                                                     NOISY_SIZE_MEDIAN, 'fraction'),
    }
    for suite in ('eval', 'synth'):
        for cond in CONDITIONS:
            q = r[cond]['qa'][suite]
            t[f'qa.{suite}.{cond}.within_0.5x_2x'] = _target(q['within_0.5x_2x_pct'], '>=', QA_HALF_DOUBLE_PCT, '%')
            t[f'qa.{suite}.{cond}.within_10pct'] = _target(q['within_10pct_pct'], '>=', QA_TEN_PCT, '%')
            t[f'qa.{suite}.{cond}.qualitative_accuracy_decided'] = _target(
                q['qualitative_accuracy_decided_pct'], '>=', QA_QUALITATIVE_PCT, '%')
    t['speed.ours_ms_median'] = _target(r['speed']['ours_ms'].get('median'), '<=', SPEED_MS, 'ms')
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3], help='sim episodes (default: 0 1 2 3)')
    ap.add_argument('--frames', type=int, default=120, help='frames recorded per episode (default: 120)')
    ap.add_argument('--stride', type=int, default=4, help='use every n-th frame of each episode (default: 4)')
    ap.add_argument('--noise', default='kinect', choices=['realsense', 'kinect'],
                    help='depth-noise preset of sim.noise for the noisy condition (default: kinect)')
    ap.add_argument('--repeat', type=int, default=2, help='timed runs per frame and method (default: 2)')
    ap.add_argument('--per-pair', type=int, default=4, help='synth questions drawn per object pair (default: 4)')
    ap.add_argument('--o3d-eps', type=float, default=0.02, help='open3d DBSCAN eps, metres (default: 0.02)')
    ap.add_argument('--o3d-min-points', type=int, default=10, help='open3d DBSCAN min_points (default: 10)')
    ap.add_argument('--cpu', type=int, default=0, help='core to pin the process to (default: 0; -1: no pinning)')
    ap.add_argument('--cache', default=str(CACHE),
                    help=f'recordings are cached here (default: {CACHE.relative_to(ROOT)})')
    ap.add_argument('--json-out', help='also write the JSON document here')
    ap.add_argument('--quiet', action='store_true', help='no progress lines on stderr')
    args = ap.parse_args(argv)
    if args.frames < 1 or args.stride < 1 or args.repeat < 1 or args.per_pair < 1:
        ap.error('--frames, --stride, --repeat and --per-pair must be >= 1')
    if args.cpu >= 0:
        if args.cpu not in os.sched_getaffinity(0):
            ap.error(f'--cpu {args.cpu}: this process may only run on cores {sorted(os.sched_getaffinity(0))}')
        os.sched_setaffinity(0, {args.cpu})
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f'[{time.perf_counter() - t0:6.1f} s] {msg}', file=sys.stderr, flush=True)

    report = run(args, log)
    report['config']['wall_s'] = round(time.perf_counter() - t0, 1)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
