"""``label_bags``: label rosbags with facts and rewards; resumable, atomic, parallel.

Layout of ``out``::

    out/<bag name>/labelled/        rosbag2 (MCAP, one file per chunk): original topics + outputs
                                    (not with LabelConfig.bag False)
    out/<bag name>/frames.parquet   one row per matched frame
    out/<bag name>/reward.png
    out/<bag name>/summary.json     this bag's numbers (and the config fingerprint)
    out/summary.json                the run: every bag, totals, throughput
    out/.work/<bag name>/           checkpoints of an unfinished bag (removed when it is done)

Every file is written under a temporary name and renamed; a bag's directory appears only when
all of it is complete. A checkpoint is one finished chunk (its bag file, rows and counters);
an interrupted run, started again with the same arguments, skips the finished chunks and
produces the same outputs as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from ..core.gravity import UNCERTAIN_BELOW
from ..messages.bag import open_reader, typestore_for
from .bagio import ReadStats, iter_chunks, merge_metadata
from .chunks import WriteJob, chunk_dir, label_and_write, portable_connections, write_chunk_dir
from .config import LabelConfig
from .errors import OfflineError
from .executors import make_executor
from .inputs import CameraTopics, detect_topics
from .labeller import ChunkJob, label_chunk
from .score import pool_quality, pool_vlm_agreement, reward_quality, vlm_agreement

__all__ = ['label_bags', 'bag_signature', 'RunOptions', 'InputJob', 'ChunkWork', 'run_jobs', 'export_lerobot']

logger = logging.getLogger(__name__)

WORK = '.work'


@dataclass(frozen=True)
class RunOptions:
    """How to run (changes speed, never results)."""

    # Worker processes (None: every core; 1: in this process).
    workers: Optional[int] = None
    # Ray cluster address ('auto', 'ray://host:10001', 'local'); None: no Ray.
    ray_address: Optional[str] = None
    # tqdm progress bar on stderr.
    progress: bool = True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


def bag_signature(path: Path) -> dict:
    """What identifies an input bag's content cheaply: its files' names, sizes and mtimes."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file())  # a ROS 1 bag is one file
    return {f.name: [f.stat().st_size, int(f.stat().st_mtime_ns)] for f in files}


def _bag_names(bags: Sequence[Path]) -> list[str]:
    # a rosbag2 directory's name, a ROS 1 bag file's stem
    names = [Path(b).resolve().stem if Path(b).is_file() else Path(b).resolve().name for b in bags]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise OfflineError(f'several input bags are named {dup}; outputs are named after the bag, rename one',
                           kind='params')
    return names


@dataclass(frozen=True)
class ChunkWork:
    """One chunk of a job for the executor: ``fn(arg)`` runs in a worker; ``finish(result)`` (None: the
    worker wrote the chunk itself and returned its counters) writes it here. ``fn`` None: the chunk was
    finished by an earlier run."""

    index: int
    frames: int
    fn: Optional[Callable] = None
    arg: object = None
    finish: Optional[Callable] = None


class InputJob:
    """The state of one input's labelling (a bag, or an episode of a LeRobot dataset): its work directory
    and finished chunks. Subclasses say what the input is (``source``, ``signature``, ``topics``: anything
    with ``by_stream()``) and cut it into chunks (:meth:`work`)."""

    def __init__(self, source: str, identity: str, name: str, out: Path, config: LabelConfig, topics,
                 signature: dict) -> None:
        # source: what the summaries call the input; identity: what the checkpoints are of (absolute)
        self.source, self.name, self.config, self.topics = source, name, config, topics
        self.final = out / name
        self.work = out / WORK / name
        self.manifest = {'bag': identity, 'input': signature, 'config': config.fingerprint(),
                         'topics': topics.by_stream()}

    def prepare(self) -> set[int]:
        """Finished chunk indices (a work dir of another config or input is discarded)."""
        mf = self.work / 'manifest.json'
        if self.work.exists():
            try:
                same = json.loads(mf.read_text()) == self.manifest
            except (OSError, ValueError):
                same = False
            if not same:
                logger.warning('%s: discarding checkpoints of another configuration or input', self.name)
                shutil.rmtree(self.work)
        (self.work / 'chunks').mkdir(parents=True, exist_ok=True)
        if not mf.exists():
            _write_atomic(mf, json.dumps(self.manifest, indent=1))
        done = set()
        for d in (self.work / 'chunks').iterdir():
            if d.name.startswith('.'):
                shutil.rmtree(d, ignore_errors=True)  # a chunk interrupted while being written
            elif (d / 'done.json').exists():
                done.add(int(d.name))
        return done

    def chunk_dir(self, index: int) -> Path:
        return chunk_dir(self.work / 'chunks', index)

    def frame_count(self) -> int:
        """Frames to label (for the progress bar)."""
        raise NotImplementedError

    def work_items(self, executor, stats: ReadStats, done: set) -> Iterator[ChunkWork]:
        """The input's chunks in order; ``stats`` is filled while reading."""
        raise NotImplementedError

    def summary_extra(self) -> dict:
        """Entries of this input's summary beyond the common ones."""
        return {}


class _BagJob(InputJob):
    """One bag: chunks of matched frames (offline.bagio), labelled and written by the workers when they
    share this machine's disk, else written here."""

    def __init__(self, bag: Path, name: str, out: Path, config: LabelConfig, topics: CameraTopics) -> None:
        super().__init__(str(bag), str(bag.resolve()), name, out, config, topics, bag_signature(bag))
        self.bag = bag

    def frame_count(self) -> int:
        with open_reader(self.bag) as reader:
            return sum(c.msgcount for c in reader.connections if c.topic == self.topics.color)

    def work_items(self, executor, stats: ReadStats, done: set) -> Iterator[ChunkWork]:
        ts = typestore_for()
        connections: list = []
        local = getattr(executor, 'local', False)  # workers that can write into the work dir themselves
        # Pool workers read their chunks' bytes from the bag themselves; in this process or on Ray
        # (possibly another machine) the chunk carries them.
        by_reference = getattr(executor, 'reads_bag', False)
        portable = None
        t_read = time.perf_counter()
        for chunk in iter_chunks(self.bag, self.topics, self.config, stats, ts, connections,
                                 keep_data=not by_reference):
            read_s = time.perf_counter() - t_read
            n = len(chunk.frames)
            if chunk.index in done:
                yield ChunkWork(chunk.index, n)
            elif local:
                if portable is None:
                    portable = portable_connections(connections)
                yield ChunkWork(chunk.index, n, label_and_write,
                            WriteJob(str(self.bag), self.name, chunk, self.config, portable, str(self.work / 'chunks'),
                                     read_s))
            else:
                yield ChunkWork(chunk.index, n, label_chunk, ChunkJob(self.name, chunk.index, tuple(chunk.frames),
                                                                   self.config, tuple(chunk.lead)),
                            partial(write_chunk_dir, self.work / 'chunks', chunk, connections=connections,
                                    config=self.config, ts=ts, read_s=read_s))
            t_read = time.perf_counter()


def _label_one(job: InputJob, executor, bar, totals: Counter) -> dict:
    """Label one input into ``job.final``; returns its summary."""
    done = job.prepare()
    stats = ReadStats()
    in_flight: list = []
    t_start = time.perf_counter()
    timing = Counter()
    # Pool workers read their chunks themselves, so a chunk in flight is a few kB here: one queued
    # per worker keeps every worker busy when one chunk takes longer than the next one.
    max_in_flight = 2 * executor.workers + 1 if getattr(executor, 'reads_bag', False) else max(2, executor.workers + 1)

    def drain(limit: int) -> None:
        while len(in_flight) > limit:
            handle, finish = in_flight.pop(0)
            result = handle.get()
            t = result if finish is None else finish(result)
            timing.update(t)
            if bar is not None:
                bar.update(t['frames'])

    n_chunks = 0
    for w in job.work_items(executor, stats, done):
        n_chunks += 1
        if w.fn is None:
            if bar is not None:
                bar.update(w.frames)
            continue
        in_flight.append((executor.submit(w.fn, w.arg), w.finish))
        drain(max_in_flight)
    drain(0)
    summary = _assemble(job, n_chunks, stats, done)
    wall = time.perf_counter() - t_start
    summary['throughput'] = {
        'wall_s': round(wall, 3),
        'frames_per_s': round(summary['frames'] / wall, 2) if wall > 0 else None,
        'resumed_chunks': len(done),
        'split_s': {k: round(timing[k], 3) for k in ('read_s', 'decode_s', 'compute_s', 'write_s')},
        # CPU seconds in the per-frame step itself (core.step.FrameStep), summed over the workers
        'step_cpu_s': round(timing['step_cpu_s'], 3),
    }
    _write_atomic(job.final / 'summary.json', json.dumps(summary, indent=2) + '\n')
    totals.update({'frames': summary['frames']})
    return summary


def _assemble(job: InputJob, n_chunks: int, stats: ReadStats, done: set) -> dict:
    """Join the finished chunks into the bag's output directory and rename it into place."""
    import yaml

    from .plot import plot_labelled_rewards
    from .table import write_frames_table

    staging = job.work / 'final'
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    bag_dir = staging / 'labelled'
    if job.config.bag:
        bag_dir.mkdir()
    rows, metas, rels = [], [], []
    for i in range(n_chunks):
        d = job.chunk_dir(i)
        if job.config.bag:
            part = d / f'labelled_{i:06d}'
            metas.append(yaml.safe_load((part / 'metadata.yaml').read_text()))
            rel = f'labelled_{i:06d}.mcap'
            os.link(part / rel, bag_dir / rel)
            rels.append(rel)
        with open(d / 'rows.jsonl') as fh:
            rows.extend(json.loads(line) for line in fh)
    if job.config.bag:
        (bag_dir / 'metadata.yaml').write_text(yaml.safe_dump(merge_metadata(metas, rels), sort_keys=False))
    write_frames_table(staging / 'frames.parquet', rows, job.config.task)
    plot_labelled_rewards(staging / 'reward.png', job.config.task, rows, stats.ground_truth,
                          title=f'{job.name} (task {job.config.task.name})')
    summary = _bag_summary(job, rows, stats)
    _write_atomic(staging / 'summary.json', json.dumps(summary, indent=2) + '\n')
    os.replace(staging, job.final)
    shutil.rmtree(job.work, ignore_errors=True)
    return summary


def up_summary(rows: list) -> dict:
    """Where the frames' up came from and how sure it was: frames per source, the confidence's
    median, and the frames whose up was uncertain (their facts carry it; core.gravity)."""
    ups = [r['up'] for r in rows if r.get('up')]
    conf = sorted(u['confidence'] for u in ups)
    return {'sources': dict(sorted(Counter(u['source'] for u in ups).items())),
            'confidence_median': conf[len(conf) // 2] if conf else None,
            'uncertain_frames': sum(1 for c in conf if c < UNCERTAIN_BELOW)}


def _bag_summary(job: InputJob, rows: list, stats: ReadStats) -> dict:
    valid = [r for r in rows if r['valid']]
    rewards = [r['reward'] for r in valid]
    failures = Counter(r['error_kind'] for r in rows if r['error_kind'])
    no_reward = Counter('missing_' + '+'.join(r['missing']) for r in rows if not r['error_kind'] and not r['valid'])
    return {
        'bag': job.source,
        **job.summary_extra(),
        'output': str(job.final),
        'config': job.config.fingerprint(),
        'task': job.config.task.name,
        'topics': job.topics.by_stream(),
        'messages': stats.messages,
        'frames': len(rows),
        'frames_labelled': sum(1 for r in rows if not r['error_kind']),
        'frames_with_reward': len(valid),
        'reward': {
            'mean': round(sum(rewards) / len(rewards), 6) if rewards else None,
            'min': round(min(rewards), 6) if rewards else None,
            'max': round(max(rewards), 6) if rewards else None,
            'first': round(rewards[0], 6) if rewards else None,
            'last': round(rewards[-1], 6) if rewards else None,
        },
        'success_rate': round(sum(1 for r in valid if r['success']) / len(valid), 4) if valid else None,
        'success_any': any(r['success'] for r in valid),
        'reward_quality': reward_quality(job.config.task, rows, stats.ground_truth),
        'vlm': vlm_agreement(rows),
        'failures': dict(sorted(failures.items())),
        'frames_without_reward': dict(sorted(no_reward.items())),
        'up': up_summary(rows),
        'corrupt_messages': dict(sorted(stats.corrupt.items())),
        'corrupt_examples': stats.corrupt_examples,
        'sync': {'matched': stats.matched, 'rate_limited': stats.rate_limited, 'unpaired_dropped': stats.sync_dropped,
                 'out_of_order': stats.sync_out_of_order, 'time_jumps': stats.sync_time_jumps},
    }


def label_bags(bags: Sequence[Path], out: Path, config: LabelConfig, options: RunOptions = RunOptions(),
               lerobot: Optional[Path] = None) -> dict:
    """Label every bag into ``out`` (see module doc); returns the run summary (also in out/summary.json).

    lerobot: also write the bags' frames as a LeRobot v3.0 dataset there, one episode per bag in
    the given order (offline.lerobot; rewards read from each bag's frames.parquet).

    Raises OfflineError before any work when a bag cannot be read or lacks the camera topics.
    With more than one worker the pool's processes are spawned (fresh interpreters with one
    native thread each), so a script calling this needs the ``if __name__ == '__main__':`` guard.
    """
    bags = [Path(b) for b in bags]
    if not bags:
        raise OfflineError('no input bags given', kind='params')
    names = _bag_names(bags)
    out = Path(out)
    jobs = []
    for bag, name in zip(bags, names):
        topics = detect_topics(bag, config.color_topic, config.depth_topic, config.info_topic,
                               masks=config.mask_topic)
        jobs.append(_BagJob(bag, name, out, config, topics))
    summary = run_jobs(jobs, out, config, options)
    if lerobot is not None:
        export_lerobot(summary, Path(lerobot), config)
    _write_atomic(out / 'summary.json', json.dumps(summary, indent=2) + '\n')
    return summary


def export_lerobot(summary: dict, root: Path, config: LabelConfig) -> None:
    """Write the run's frames as a LeRobot v3.0 dataset at ``root`` (offline.lerobot), one episode per
    input in the run's order; adds ``summary['lerobot']``."""
    from .lerobot import write_lerobot_dataset

    info = write_lerobot_dataset(root, [Path(b['output']) / 'frames.parquet' for b in summary['per_bag']],
                                 config.task)
    summary['lerobot'] = {'root': str(root), 'episodes': info['total_episodes'], 'frames': info['total_frames'],
                          'fps': info['fps'], 'codebase_version': info['codebase_version']}


def run_jobs(jobs: Sequence[InputJob], out: Path, config: LabelConfig, options: RunOptions) -> dict:
    """Label every job (skipping those already labelled with this configuration) with one executor and
    one progress bar; Ctrl-C stops the workers and keeps the finished chunks. Returns the run summary
    (not yet written to ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    per_input, skipped = [], []
    todo = []
    for job in jobs:
        if job.final.exists():
            prev = _read_json(job.final / 'summary.json')
            if prev.get('config') != config.fingerprint() or prev.get('bag') != job.source:
                raise OfflineError(
                    f'{job.final} exists from another input or configuration; delete it or choose another --out',
                    kind='exists')
            logger.info('%s: already labelled in %s, skipped', job.name, job.final)
            per_input.append(prev)
            skipped.append(job.name)
        else:
            todo.append(job)
    totals: Counter = Counter()
    if todo:
        executor = make_executor(options.workers, options.ray_address)
        bar = None
        if options.progress:
            from tqdm import tqdm

            bar = tqdm(total=sum(j.frame_count() for j in todo), unit='frame', desc='labelling', file=sys.stderr,
                       smoothing=0.1)
        try:
            for job in todo:
                if bar is not None:
                    bar.set_description(f'labelling {job.name}')
                per_input.append(_label_one(job, executor, bar, totals))
        except BaseException:
            if hasattr(executor, 'terminate'):
                _cancel(executor)
            raise
        finally:
            if bar is not None:
                bar.close()
        executor.close()
        workers = executor.workers
    else:
        workers = 0
    wall = time.perf_counter() - t0
    return _run_summary(per_input, skipped, wall, workers, totals['frames'], config)


def _cancel(executor) -> None:
    """Drop the pending chunks and stop the workers (finished chunks stay for a resume); a second
    Ctrl-C meanwhile does not interrupt this."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        executor.terminate()
    finally:
        if main:
            signal.signal(signal.SIGINT, sigint)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _run_summary(per_bag: list, skipped: list, wall: float, workers: int, frames_run: int, config) -> dict:
    frames = sum(b['frames'] for b in per_bag)
    valid = sum(b['frames_with_reward'] for b in per_bag)
    succ = sum(round((b['success_rate'] or 0) * b['frames_with_reward']) for b in per_bag)
    failures: Counter = Counter()
    corrupt: Counter = Counter()
    for b in per_bag:
        failures.update(b['failures'])
        corrupt.update(b['corrupt_messages'])
    means = [(b['reward']['mean'], b['frames_with_reward']) for b in per_bag if b['reward']['mean'] is not None]
    return {
        'bags': len(per_bag),
        'bags_already_done': skipped,
        'task': config.task.name,
        'labeller': config.labeller,
        'frames': frames,
        'frames_with_reward': valid,
        'reward_mean': round(sum(m * n for m, n in means) / valid, 6) if valid else None,
        'success_rate': round(succ / valid, 4) if valid else None,
        'failures': dict(sorted(failures.items())),
        'corrupt_messages': dict(sorted(corrupt.items())),
        'reward_quality': pool_quality({b['bag']: b.get('reward_quality') for b in per_bag}),
        'vlm': pool_vlm_agreement([b.get('vlm') for b in per_bag]),
        'throughput': {
            'wall_s': round(wall, 3),
            'workers': workers,
            'frames_per_s': round(frames_run / wall, 2) if wall > 0 and frames_run else None,
            'frames_per_s_per_worker': round(frames_run / wall / workers, 2) if wall > 0 and frames_run and workers
            else None,
        },
        'per_bag': [{k: b[k] for k in ('bag', 'output', 'frames', 'frames_with_reward', 'success_rate', 'failures',
                                       'corrupt_messages')} for b in per_bag],
    }
