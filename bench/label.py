"""Throughput of ``spatialvlm label`` (geometric) on a 640x480 sim bag, bag decoding included.

    .venv/bin/python bench/label.py [--frames 300] [--workers 1 2] [--bag DIR] [--json-out FILE]

Records (once, cached under runs/cache/) a Fetch pick-and-place bag at 640x480 (MCAP, zstd as
``spatialvlm sim record`` writes it, or ``--compression none`` as ``ros2 bag record`` writes by
default), labels it with 1 and N workers and prints one JSON document:
frames/s overall and per worker, and where the time goes:

- ``read``: the main process reading the bag (zstd decompression, CDR deserialisation, pairing);
- ``decode``: CDR -> core Frame in the workers (image decoding, depth to metres);
- ``compute``: the core pipeline (grounding, gravity, lifting, facts) + reward + output messages;
- ``write``: the labelled bag chunks, rows and checkpoints (in the workers, summed over them).

Also the isolated per-frame costs in one process (``isolated_ms``): the same stages timed on
their own, which bound what any amount of orchestration can reach on this machine
(``ceiling_frames_per_s``), and ``copy_only_ms``: reading the bag and writing it again with
rosbags, no labelling (``copy_only_ceiling_frames_per_s``: that alone, on every core).

``--steady`` (bench/results/label_steady.json): a long bag (3000 frames at 320x240; ``--compression``
as above), its steady-state rate (from the first finished chunk to the one after which fewer chunks
are left than workers: the drain that follows, with cores idle by construction, counts as the tail,
``drain_s``) with and without the labelled bag
against ``ideal = cores x 1000 / step_ms``. ``step_ms`` is the one-core cost of ``core.step.FrameStep``
measured in the same run (``step_ms_in_run``: the CPU time each pool worker, one native thread,
spent in the step, per frame), so the ratio compares the run with the step's own cost under the
same conditions: on a shared virtual machine the same step costs 5-8 ms from one minute to the next.
Beside it, ``step_ms_one_core``: the step alone in a pool process on 200 frames spread over the bag
(``ratio_*_isolated_step``).
Each run also records ``steady_cpu_ms_per_frame``, the CPU time of this process and its workers per
frame over the same span, and ``cpu_ratio = step_ms_one_core / steady_cpu_ms_per_frame``: the ratio
the run would reach on cores nothing else uses (on a shared machine the wall-time ratio also pays for
the other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402


def _bag(frames: int, width: int, height: int, compression: str) -> Path:
    suffix = '' if compression == 'zstd' else '_uncompressed'
    bag = ROOT / 'runs' / 'cache' / f'fetch_seed1_{frames}f_{width}x{height}{suffix}'
    if not bag.exists():
        from spatialvlm_ros.sim import record_episode

        bag.parent.mkdir(parents=True, exist_ok=True)
        record_episode(bag, seed=1, frames=frames, width=width, height=height, progress=False,
                       compress=compression == 'zstd')
    return bag


def _isolated(bag: Path, config: LabelConfig, limit: int = 120) -> dict:
    """Per-frame milliseconds of each stage alone, in this process."""
    from spatialvlm_ros.messages.bag import typestore_for
    from spatialvlm_ros.offline.bagio import ReadStats, iter_chunks
    from spatialvlm_ros.offline.inputs import detect_topics
    from spatialvlm_ros.offline.labeller import ChunkJob, label_chunk

    topics = detect_topics(bag)
    t0 = time.perf_counter()
    frames = []
    for chunk in iter_chunks(bag, topics, config, ReadStats(), typestore_for()):
        frames.extend(chunk.frames)
    read = (time.perf_counter() - t0) / len(frames)
    job = ChunkJob('bench', 0, tuple(frames[:limit]), config)
    label_chunk(ChunkJob('bench', 0, tuple(frames[:2]), config))  # warm-up
    t0 = time.perf_counter()
    res = label_chunk(job)
    n = len(job.frames)
    return {'read_ms': round(read * 1e3, 2), 'decode_ms': round(res.decode_s / n * 1e3, 2),
            'compute_ms': round(res.compute_s / n * 1e3, 2),
            'total_ms': round((read + (time.perf_counter() - t0) / n) * 1e3, 2),
            'copy_only_ms': round(_copy_only(bag, len(frames)) * 1e3, 2)}


def _copy_only(bag: Path, frames: int) -> float:
    """Seconds per frame to read the bag and write it out again with rosbags, nothing else: the
    floor under any labeller that writes the original topics into its output bag."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from spatialvlm_ros.messages.bag import typestore_for
    from spatialvlm_ros.messages.bag import open_reader

    ts = typestore_for()
    out = Path(tempfile.mkdtemp(prefix='bench_copy_'))
    try:
        t0 = time.perf_counter()
        with open_reader(bag) as reader:
            writer = Writer(out / 'copy', version=9, storage_plugin=StoragePlugin.MCAP)
            writer.open()
            conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
            for conn, log_time, raw in reader.messages():
                writer.write(conns[conn.id], log_time, raw)
            writer.close()
        return (time.perf_counter() - t0) / frames
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _cpu_s() -> tuple[float, float] | None:
    """CPU seconds of this process and of its live descendants (the pool's workers) so far, from
    /proc (Linux); None elsewhere. What the labelling costs whatever else runs on the machine."""
    tick = os.sysconf('SC_CLK_TCK')

    def own(pid: int) -> float:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    def children(pid: int) -> list[int]:
        out = []
        for task in Path(f'/proc/{pid}/task').iterdir():
            out += [int(c) for c in (task / 'children').read_text().split()]
        return out

    try:
        main = own(os.getpid())
        rest, todo = 0.0, children(os.getpid())
        while todo:
            pid = todo.pop()
            try:
                rest += own(pid)
                todo += children(pid)
            except (FileNotFoundError, ProcessLookupError):  # a process that just ended
                pass
        return main, rest
    except OSError:
        return None


_TICK_NAMES = ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal')


def _machine_ticks() -> tuple | None:
    """The machine's CPU ticks (all cores) by kind, from /proc/stat (Linux), else None."""
    try:
        with open('/proc/stat') as fh:
            return tuple(int(v) for v in fh.readline().split()[1:1 + len(_TICK_NAMES)])
    except (OSError, ValueError):
        return None


def _machine_share(a: tuple | None, b: tuple | None) -> dict | None:
    """Shares of the machine's CPU time between two _machine_ticks: where a run's cores went
    (idle while it ran: it waited; steal: the hypervisor gave them to another machine)."""
    if a is None or b is None:
        return None
    d = [y - x for x, y in zip(a, b)]
    total = sum(d)
    return {n: round(v / total, 4) for n, v in zip(_TICK_NAMES, d) if n in ('idle', 'iowait', 'steal')} if total else None


class _Clock:
    """A stand-in for tqdm recording (seconds, frames done, CPU seconds of this process and its
    workers) at every update of label_bags' bar."""

    marks: list = []

    def __init__(self, *args, **kwargs) -> None:
        self.n = 0

    def update(self, k) -> None:
        self.n += k
        _Clock.marks.append((time.perf_counter(), self.n, _cpu_s(), _machine_ticks()))

    def set_description(self, *_):
        pass

    def close(self) -> None:
        pass


def _timed_label(bag: Path, config: LabelConfig, options: RunOptions) -> tuple[dict, dict, Path]:
    """label_bags with start-up (call -> first chunk done), steady state (first -> last chunk
    done) and tail (last chunk -> return: joining the chunks, frames.parquet, reward.png) apart."""
    import dataclasses

    import tqdm

    out = Path(tempfile.mkdtemp(prefix='bench_steady_'))
    real = tqdm.tqdm
    tqdm.tqdm, _Clock.marks = _Clock, []
    try:
        t0 = time.perf_counter()
        s = label_bags([bag], out, config, dataclasses.replace(options, progress=True))
        t1 = time.perf_counter()
    finally:
        tqdm.tqdm = real
    # steady state: from the first finished chunk to the one after which fewer chunks are left than
    # workers (from then on cores idle by construction: that drain is the tail, with the joining)
    marks = _Clock.marks
    end = -options.workers if len(marks) > options.workers + 1 else -1
    (ta, fa, ca, ma), (tb, fb, cb, mb) = marks[0], marks[end]
    steady = (fb - fa) / (tb - ta) if tb > ta else None
    # CPU per frame in the steady state, this process and its workers (not Ray's, which are not ours)
    split = None
    if None not in (ca, cb) and fb > fa and not options.ray_address:
        split = {'main_process': round((cb[0] - ca[0]) / (fb - fa) * 1e3, 3),
                 'workers': round((cb[1] - ca[1]) / (fb - fa) * 1e3, 3)}
    cpu = split['main_process'] + split['workers'] if split else None
    return s, {'wall_s': round(t1 - t0, 3), 'startup_s': round(ta - t0, 3), 'tail_s': round(t1 - tb, 3),
               'drain_s': round(marks[-1][0] - tb, 3),
               'steady_frames': fb - fa, 'steady_s': round(tb - ta, 3),
               'steady_frames_per_s': round(steady, 2) if steady else None,
               'steady_cpu_ms_per_frame': round(cpu, 3) if cpu else None, 'steady_cpu_ms_per_frame_split': split,
               'steady_machine_share': _machine_share(ma, mb),
               'overall_frames_per_s': round(s['frames'] / (t1 - t0), 2)}, out


def _step_ms_one_core(bag: Path, config: LabelConfig) -> float:
    """:func:`_step_ms` in a process of the labeller's pool: one native thread (OpenCV, OpenMP,
    BLAS), so one core; in this process OpenCV and OpenBLAS would run their own threads on every
    core (on 2 cores: ~3.9 ms of wall time for ~5 ms of CPU, where one thread takes ~4.1 ms)."""
    from spatialvlm_ros.offline.executors import PoolExecutor

    pool = PoolExecutor(1)
    try:
        return pool.submit(_step_ms_job, (bag, config)).get()
    finally:
        pool.close()


def _step_ms_job(args) -> float:
    return _step_ms(*args)


def _paired_frames(bag: Path, config: LabelConfig) -> int:
    from spatialvlm_ros.offline.bagio import ReadStats, iter_chunks
    from spatialvlm_ros.offline.inputs import detect_topics

    return sum(len(c.frames) for c in iter_chunks(bag, detect_topics(bag), config, ReadStats(), keep_data=False))


def _step_ms(bag: Path, config: LabelConfig, limit: int = 200) -> float:
    """Milliseconds per frame of core.step.FrameStep alone (decoded frames, warm), in this process,
    on ``limit`` frames spread evenly over the bag."""
    from spatialvlm_ros.core.step import FrameStep
    from spatialvlm_ros.messages.bag import typestore_for
    from spatialvlm_ros.messages.convert import frame_from_msgs
    from spatialvlm_ros.offline.bagio import ReadStats, iter_chunks
    from spatialvlm_ros.offline.inputs import detect_topics

    ts = typestore_for()
    p = config.params
    frames = []
    stride = max(1, _paired_frames(bag, config) // limit)  # spread over the whole bag: its scenes vary
    for chunk in iter_chunks(bag, detect_topics(bag), config, ReadStats(), ts):
        for fj in chunk.frames:
            if fj.index % stride == 0:
                c, d, i = (ts.deserialize_cdr(raw, m) for m, raw in fj.raw[:3])
                frames.append(frame_from_msgs(c, d, i, float(p['min_depth_m']), float(p['max_depth_m'])))
            if len(frames) >= limit:
                break
        if len(frames) >= limit:
            break
    step = FrameStep(config.pipeline_config(), config.task)
    for f in frames[:10]:
        step(f)
    best = None
    for _ in range(3):  # best of 3 passes: the core's cost, not another process's interference
        t0 = time.perf_counter()
        for f in frames:
            step(f)
        ms = (time.perf_counter() - t0) / len(frames) * 1e3
        best = ms if best is None else min(best, ms)
    step.close()
    return best




def _table_digest(path: Path) -> str:
    import hashlib

    import pyarrow.parquet as pq

    t = pq.read_table(path).drop_columns(['bag'])
    return hashlib.sha256(str(t.to_pylist()).encode()).hexdigest()[:16]


def steady(args) -> dict:
    """Steady-state throughput on a long bag against the per-frame step's one-core cost."""
    bag = Path(args.bag) if args.bag else _bag(args.frames, args.width, args.height, args.compression)
    _, task = resolve_task(None)
    cores = os.cpu_count() or 1
    load_at_start = os.getloadavg()
    step_ms = _step_ms_one_core(bag, LabelConfig(task=task))
    ideal = cores * 1e3 / step_ms
    result = {'bag': str(bag), 'compression': None if args.bag else args.compression, 'cpus': cores,
              'load_average_at_start': load_at_start, 'chunk_frames': args.chunk_frames,
              'step_ms_one_core': round(step_ms, 3),
              # as measured before (this process, OpenCV's and OpenBLAS's own threads on every core)
              'step_ms_main_process_all_threads': round(_step_ms(bag, LabelConfig(task=task)), 3),
              'ideal_frames_per_s': round(ideal, 1),
              'targets': {'no_bag': 0.85, 'with_bag': 0.6}, 'runs': []}
    digests = {}
    variants = [('no_bag', False, RunOptions(workers=cores)), ('with_bag', True, RunOptions(workers=cores))]
    variants += [('no_bag_1_worker', False, RunOptions(workers=1))]
    if args.ray:
        variants += [('no_bag_ray', False, RunOptions(workers=cores, ray_address='local'))]
    for name, with_bag, options in variants:
        config = LabelConfig(task=task, chunk_frames=args.chunk_frames, bag=with_bag)
        tries = []
        # best of --repeat: on shared cores, other processes only ever slow a run down
        for _ in range(1 if options.ray_address else args.repeat):
            s, t, out = _timed_label(bag, config, options)
            try:
                digests[name] = _table_digest(out / bag.name / 'frames.parquet')
                thr = json.loads((out / bag.name / 'summary.json').read_text())['throughput']
                per = dict(thr['split_s'], step_cpu_s=thr['step_cpu_s'])
            finally:
                shutil.rmtree(out, ignore_errors=True)
            tries.append((t['steady_frames_per_s'] or 0, t, per))
        _, t, per = max(tries, key=lambda x: x[0])
        t['steady_frames_per_s_tries'] = [x[0] for x in tries]
        # every try's ratio to its own in-run ideal (the kept one is the fastest try's)
        t['ratio_to_ideal_in_run_tries'] = [
            round(fps * p['step_cpu_s'] / s['frames'] / cores, 3) if fps and p['step_cpu_s'] else None
            for fps, _, p in tries]
        # the step's one-core cost in this very run: the CPU time its workers spent in FrameStep per
        # frame (each worker is one native thread), under the run's own conditions (both cores busy)
        step_in_run = per['step_cpu_s'] / s['frames'] * 1e3 if s['frames'] and per['step_cpu_s'] else None
        ideal_in_run = cores * 1e3 / step_in_run if step_in_run else None
        t.update(name=name, workers=options.workers, ray=bool(options.ray_address), labelled_bag=with_bag,
                 frames=s['frames'], split_s=per,
                 step_ms_in_run=round(step_in_run, 3) if step_in_run else None,
                 ideal_frames_per_s_in_run=round(ideal_in_run, 1) if ideal_in_run else None,
                 ratio_to_ideal_in_run=(round(t['steady_frames_per_s'] / ideal_in_run, 3)
                                        if t['steady_frames_per_s'] and ideal_in_run else None),
                 ratio_to_ideal=round(t['steady_frames_per_s'] / ideal, 3) if t['steady_frames_per_s'] else None,
                 # the ratio on otherwise idle cores: one-core step cost / CPU spent per frame (all processes)
                 cpu_ratio=round(step_ms / t['steady_cpu_ms_per_frame'], 3) if t['steady_cpu_ms_per_frame'] else None)
        result['runs'].append(t)
        print(f"{name:>18}: steady {t['steady_frames_per_s']} frames/s = {t['ratio_to_ideal_in_run']} x ideal "
              f"({t['ideal_frames_per_s_in_run']} = {cores} x 1000 / {t['step_ms_in_run']} ms, the step's CPU per "
              f"frame in this run; {t['ratio_to_ideal']} x {ideal:.1f} from {step_ms:.2f} ms alone); "
              f"start-up {t['startup_s']} s, tail {t['tail_s']} s; "
              f"CPU {t['steady_cpu_ms_per_frame']} ms/frame (cpu_ratio {t['cpu_ratio']}); machine {t['steady_machine_share']}",
              file=sys.stderr)
    by = {r['name']: r for r in result['runs']}
    # the targets' ratios use the step's cost measured in the same run (the isolated one beside them)
    result['ratio_no_bag'] = by['no_bag']['ratio_to_ideal_in_run']
    result['ratio_with_bag'] = by['with_bag']['ratio_to_ideal_in_run']
    result['ratio_no_bag_isolated_step'] = by['no_bag']['ratio_to_ideal']
    result['ratio_with_bag_isolated_step'] = by['with_bag']['ratio_to_ideal']
    result['meets_no_bag'] = result['ratio_no_bag'] >= 0.85
    result['meets_with_bag'] = result['ratio_with_bag'] >= 0.6
    result['load_average_at_end'] = os.getloadavg()
    result['frames_parquet_sha256_16'] = digests
    result['identical_outputs'] = len(set(digests.values())) == 1
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steady', action='store_true',
                    help='steady state on a long bag (default 3000 frames at 320x240) against the one-core cost of '
                         'core.step.FrameStep, with and without the labelled bag (bench/results/label_steady.json)')
    ap.add_argument('--ray', action='store_true', help='with --steady: also a run on a local Ray cluster')
    ap.add_argument('--repeat', type=int, default=2, help='with --steady: runs per variant, the best kept')
    ap.add_argument('--frames', type=int, default=300)
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--workers', type=int, nargs='+', default=[1, os.cpu_count() or 1])
    ap.add_argument('--chunk-frames', type=int, default=LabelConfig.chunk_frames,
                    help="frames per chunk (default: spatialvlm label's)")
    ap.add_argument('--bag', help='label this bag instead of the cached sim bag')
    ap.add_argument('--compression', choices=('zstd', 'none'), default='zstd',
                    help="the sim bag's MCAP chunks: zstd (as `spatialvlm sim record` writes) or none "
                         "(as `ros2 bag record` writes by default); also with --steady")
    ap.add_argument('--no-bag', action='store_true', help='label without writing the labelled bag (table only)')
    ap.add_argument('--json-out', help='also write the JSON here')
    args = ap.parse_args()
    if args.steady:
        if args.frames == 300:
            args.frames = 3000
        if (args.width, args.height) == (640, 480):
            args.width, args.height = 320, 240
        result = steady(args)
        text = json.dumps(result, indent=2)
        print(text)
        if args.json_out:
            Path(args.json_out).write_text(text + '\n')
        return 0
    bag = Path(args.bag) if args.bag else _bag(args.frames, args.width, args.height, args.compression)
    _, task = resolve_task(None)
    config = LabelConfig(task=task, chunk_frames=args.chunk_frames, bag=not args.no_bag)
    result = {'bag': str(bag), 'compression': None if args.bag else args.compression, 'cpus': os.cpu_count(),
              'labelled_bag_written': not args.no_bag,
              'target_frames_per_s': 300, 'runs': []}
    for w in dict.fromkeys(args.workers):
        out = Path(tempfile.mkdtemp(prefix='bench_label_'))
        try:
            t0 = time.perf_counter()
            s = label_bags([bag], out, config, RunOptions(workers=w, progress=False))
            wall = time.perf_counter() - t0
            per = json.loads((out / bag.name / 'summary.json').read_text())['throughput']
        finally:
            shutil.rmtree(out, ignore_errors=True)
        split = per['split_s']
        frames = s['frames']
        busy = split['decode_s'] + split['compute_s']
        result['runs'].append({
            'workers': w,
            'frames': frames,
            'wall_s': round(wall, 3),
            'frames_per_s': round(frames / wall, 2),
            'frames_per_s_per_worker': round(frames / wall / w, 2),
            'worker_frames_per_s': round(frames / busy, 2) if busy else None,  # one worker's own rate
            'split_s': split,
            'split_ms_per_frame': {k.replace('_s', '_ms'): round(v / frames * 1e3, 2) for k, v in split.items()},
        })
    result['isolated_ms'] = _isolated(bag, config)
    iso = result['isolated_ms']
    result['ceiling_frames_per_s'] = round((os.cpu_count() or 1) * 1e3 / iso['total_ms'], 1)
    # Reading and rewriting the bag alone, on every core at once (no labelling at all).
    result['copy_only_ceiling_frames_per_s'] = round((os.cpu_count() or 1) * 1e3 / iso['copy_only_ms'], 1)
    result['meets_target'] = max(r['frames_per_s'] for r in result['runs']) >= result['target_frames_per_s']
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
