"""One finished chunk on disk: its labelled bag file, rows and counters, written under a temporary
name and renamed into place (the checkpoint the runner resumes from).

Local workers (in-process or a process pool) read, label and write their chunk themselves
(:func:`label_and_write`): a pool worker gets the chunk by reference and reads its messages from
the bag (images never cross between processes), and the workers share the writing instead of
queueing it in the main process. Ray workers
may run on other machines, so their results are written by the main process
(:func:`write_chunk_dir`, the same code).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .bagio import Chunk, fill_chunk, write_chunk_bag
from .labeller import ChunkJob, ChunkResult, _worker_state, label_chunk

__all__ = ['chunk_dir', 'write_chunk_dir', 'WriteJob', 'label_and_write']


def chunk_dir(chunks: Path, index: int) -> Path:
    return Path(chunks) / f'{index:06d}'


def portable_connections(connections) -> tuple:
    """The bag's connections without their reader (which cannot travel to another process)."""
    return tuple(c._replace(owner=None) for c in connections)


def write_chunk_dir(chunks: Path, chunk: Chunk, result: ChunkResult, connections, config, ts, read_s: float) -> dict:
    """Write the chunk's bag file, rows and counters under a temporary name; rename. Returns the counters."""
    tmp = Path(chunks) / f'.{chunk.index:06d}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    t0 = time.perf_counter()
    if config.bag:
        write_chunk_bag(tmp / f'labelled_{chunk.index:06d}', connections, chunk, result.messages, config, ts)
    with open(tmp / 'rows.jsonl', 'w') as fh:
        for r in result.rows:
            fh.write(json.dumps(r, allow_nan=False) + '\n')
    timing = {'frames': len(result.rows), 'read_s': read_s, 'decode_s': result.decode_s,
              'compute_s': result.compute_s, 'step_cpu_s': result.step_cpu_s, 'write_s': time.perf_counter() - t0}
    (tmp / 'done.json').write_text(json.dumps(timing))
    os.replace(tmp, chunk_dir(chunks, chunk.index))
    return timing


@dataclass(frozen=True)
class WriteJob:
    """A chunk to read (when by reference), label and write in the worker."""

    bag: str  # the input bag's path (a by-reference chunk's messages are read from it)
    name: str  # the bag's name in the outputs
    chunk: Chunk
    config: object  # LabelConfig
    connections: tuple  # portable_connections(...)
    chunks: str  # the bag's checkpoint directory of chunks
    read_s: float


def label_and_write(w: WriteJob) -> dict:
    """fill_chunk, label_chunk, then write_chunk_dir, in the worker; returns the chunk's counters."""
    t0 = time.perf_counter()
    chunk = fill_chunk(Path(w.bag), w.chunk, with_messages=w.config.bag)
    read_s = w.read_s + time.perf_counter() - t0
    result = label_chunk(ChunkJob(w.name, chunk.index, tuple(chunk.frames), w.config, tuple(chunk.lead)))
    ts = _worker_state(w.config)[1]
    return write_chunk_dir(Path(w.chunks), chunk, result, w.connections, w.config, ts, read_s)
