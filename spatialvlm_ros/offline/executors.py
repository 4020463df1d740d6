"""Where chunk jobs run: in this process, a local process pool, or a Ray cluster.

All three call the same pure function on the same jobs, so their results are identical; only
the wall time differs. ``submit(fn, job)`` returns a handle whose ``get()`` gives the result.

Ctrl-C: a terminal sends SIGINT to the whole foreground process group. Pool workers ignore it
(from their start: SIG_IGN is inherited through exec), so only the parent sees KeyboardInterrupt;
it calls ``terminate()``, which drops the pending jobs and stops the workers (a chunk being
written is left under a temporary name, removed on resume; finished chunks are kept). Ray's
processes block SIGINT themselves; ``terminate()`` cancels the submitted tasks.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, Callable, Optional

from .errors import OfflineError

__all__ = ['SerialExecutor', 'PoolExecutor', 'RayExecutor', 'make_executor']

logger = logging.getLogger(__name__)


class _Done:
    def __init__(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value


class SerialExecutor:
    """Runs each job at submit time, in this process."""

    workers = 1
    local = True  # shares this machine's file system

    def submit(self, fn: Callable, job: Any) -> _Done:
        return _Done(fn(job))

    def close(self) -> None:
        pass


def _init_worker() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (module doc)
    import cv2

    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would only contend


# Native thread pools, one thread each in a worker: the pool is the parallelism (a forked child
# inherits the parent's OpenBLAS threads, which oversubscribe the cores 3x on a 2-core machine).
_ONE_THREAD = {k: '1' for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}
# glibc's malloc in a worker: keep freed memory for the next chunk. By default it hands the heap's
# free top back to the kernel past a few MB, so every chunk (tens of MB of decompressed messages,
# images and their arrays) faulted its pages in again, zero-filled: ~140 page faults a frame at
# 320x240, a tenth of the time outside the per-frame step. Allocations under 32 MB (the most glibc
# allows) come from the heap, which gives back only what exceeds 256 MB free. Other C libraries
# ignore these variables.
_MALLOC = {'MALLOC_MMAP_THRESHOLD_': str(32 * 2**20), 'MALLOC_TRIM_THRESHOLD_': str(256 * 2**20)}
_WORKER_ENV = {**_ONE_THREAD, **_MALLOC}


class PoolExecutor:
    """A pool of ``workers`` fresh processes (spawn) with one native thread each (and a malloc that
    keeps its memory between chunks)."""

    local = True  # shares this machine's file system
    reads_bag = True  # workers open the input bag themselves (jobs by reference, no images pickled)

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp

        self.workers = int(workers)
        saved = {k: os.environ.get(k) for k in _WORKER_ENV}
        os.environ.update(_WORKER_ENV)  # read by the children at start-up
        # Children spawned while SIGINT is ignored ignore it from their first instruction on (before
        # the initializer runs, a Ctrl-C would otherwise print a traceback from their imports).
        main = threading.current_thread() is threading.main_thread()
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self._pool = mp.get_context('spawn').Pool(self.workers, initializer=_init_worker)
        finally:
            if main:
                signal.signal(signal.SIGINT, sigint)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def submit(self, fn: Callable, job: Any):
        return self._pool.apply_async(fn, (job,))

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        self._pool.terminate()
        self._pool.join()


class _RayHandle:
    def __init__(self, ray, ref, pending: set) -> None:
        self._ray, self._ref, self._pending = ray, ref, pending

    def get(self) -> Any:
        value = self._ray.get(self._ref)
        self._pending.discard(self._ref)
        return value


class RayExecutor:
    """One Ray task per chunk on the cluster at ``address`` ('auto', 'ray://host:10001', or
    'local' to start a local instance with ``workers`` CPUs). An already initialised Ray is used
    as it is."""

    def __init__(self, address: str, workers: Optional[int] = None) -> None:
        try:
            import ray
        except ImportError as err:
            raise OfflineError('--ray needs the ray package; install with pip install "ray==2.60.0"',
                               kind='dependency') from err
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            try:
                if address == 'local':
                    ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except Exception as err:  # noqa: BLE001 - connection errors come in many types
                raise OfflineError(f'cannot connect to the Ray cluster at {address!r}: {err}', kind='ray') from err
            self._started = True
        self.workers = int(ray.cluster_resources().get('CPU', 1))
        self._remote: dict = {}
        self._pending: set = set()  # submitted tasks whose result was not taken yet

    def submit(self, fn: Callable, job: Any) -> _RayHandle:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        ref = self._remote[fn].remote(job)
        self._pending.add(ref)
        return _RayHandle(self._ray, ref, self._pending)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def terminate(self) -> None:
        """Cancel the tasks not taken yet (a cluster keeps running the others' work otherwise)."""
        for ref in list(self._pending):
            try:
                self._ray.cancel(ref, force=True)
            except Exception as err:  # noqa: BLE001 - best effort: the task may have finished meanwhile
                logger.debug('cannot cancel a Ray task: %s', err)
        self._pending.clear()
        self.close()


def make_executor(workers: Optional[int] = None, ray_address: Optional[str] = None):
    """Ray when ``ray_address`` is given; else a pool of ``workers`` (default: every core);
    ``workers=1``: in this process."""
    if ray_address:
        return RayExecutor(ray_address, workers)
    n = (os.cpu_count() or 1) if workers is None else int(workers)
    if n < 1:
        raise OfflineError(f'workers: expected an integer >= 1, got {workers}', kind='params')
    return SerialExecutor() if n == 1 else PoolExecutor(n)
