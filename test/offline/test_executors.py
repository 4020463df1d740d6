"""Where chunk jobs run (``offline.executors``): in this process, a spawned pool with one native thread per
worker, or Ray; the same results from each, bad worker counts and a missing ray refused."""
from __future__ import annotations

import os
import sys

import pytest

from spatialvlm_ros.core.types import ns_to_stamp
from spatialvlm_ros.offline import OfflineError
from spatialvlm_ros.offline.executors import PoolExecutor, SerialExecutor, make_executor


def test_one_worker_runs_in_this_process():
    ex = make_executor(1)
    assert isinstance(ex, SerialExecutor) and ex.workers == 1 and ex.local
    calls = []
    handle = ex.submit(lambda job: calls.append(job) or job * 2, 21)
    assert calls == [21] and handle.get() == 42  # run at submit time
    ex.close()


@pytest.mark.parametrize('workers', [0, -2])
def test_bad_worker_counts_are_refused(workers):
    with pytest.raises(OfflineError, match=rf'workers: expected an integer >= 1, got {workers}') as err:
        make_executor(workers)
    assert err.value.kind == 'params'


def test_a_pool_runs_jobs_in_other_processes_with_one_native_thread(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('MALLOC_TRIM_THRESHOLD_', raising=False)
    monkeypatch.setenv('OPENBLAS_NUM_THREADS', '7')
    ex = make_executor(2)
    try:
        assert isinstance(ex, PoolExecutor) and ex.workers == 2 and ex.local and ex.reads_bag
        threads = [ex.submit(os.getenv, k) for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')]
        assert [h.get(timeout=120) for h in threads] == ['1', '1', '1']
        # glibc keeps a worker's freed memory for its next chunk (no page faults on every chunk)
        malloc = [ex.submit(os.getenv, k) for k in ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')]
        assert [h.get(timeout=120) for h in malloc] == [str(32 * 2**20), str(256 * 2**20)]
        roots = [ex.submit(abs, -n) for n in range(6)]
        assert [h.get(timeout=120) for h in roots] == list(range(6))
    finally:
        ex.close()
    # this process's environment is as it was
    assert 'OMP_NUM_THREADS' not in os.environ and os.environ['OPENBLAS_NUM_THREADS'] == '7'
    assert 'MALLOC_TRIM_THRESHOLD_' not in os.environ


def test_ray_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'ray', None)
    with pytest.raises(OfflineError, match=r'--ray needs the ray package; install with pip install') as err:
        make_executor(2, ray_address='auto')
    assert err.value.kind == 'dependency'


def test_ray_runs_the_same_jobs():
    ray = pytest.importorskip('ray')
    ex = make_executor(2, ray_address='local')
    try:
        assert ex.workers == 2
        stamps = [ex.submit(ns_to_stamp, n * 1_500_000_000) for n in range(4)]
        assert [h.get() for h in stamps] == [(0, 0), (1, 500_000_000), (3, 0), (4, 500_000_000)]
    finally:
        ex.close()
    assert not ray.is_initialized()
