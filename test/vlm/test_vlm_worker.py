"""The latest-frame worker: never a stale frame, never a growing queue, never dead on a failing
call; the stamp rate limit; the worker driving a tiny random-weight VLM through generate."""

import threading
import time

import numpy as np
import pytest

from spatialvlm_ros.vlm import make_backend
from spatialvlm_ros.vlm.worker import LatestFrameWorker, StampRateLimiter

from support import tiny_vlm  # noqa: E402


def make_worker(fn, **kw):
    results, errors, started = [], [], []
    submitted_max = {'v': None}
    lock = threading.Lock()

    def on_start(item):
        with lock:
            started.append((item, submitted_max['v']))

    w = LatestFrameWorker(fn, lambda it, r: results.append((it, r)), lambda it, e: errors.append((it, e)),
                          stamp_of=lambda it: it, on_start=on_start, **kw)

    def submit(stamp):
        with lock:
            submitted_max['v'] = stamp if submitted_max['v'] is None else max(submitted_max['v'], stamp)
        return w.submit(stamp)

    return w, submit, results, errors, started


def test_never_processes_a_frame_older_than_the_newest_available():
    gate = threading.Event()

    def slow(item):
        gate.wait(2.0)
        return item

    w, submit, results, _, started = make_worker(slow)
    try:
        submit(1)
        deadline = time.monotonic() + 2
        while not started and time.monotonic() < deadline:
            time.sleep(0.001)
        for s in range(2, 50):  # the camera keeps publishing while the VLM is busy on frame 1
            submit(s)
        gate.set()
        assert w.wait_idle(5.0)
        assert [r for r, _ in results] == [1, 49]  # 2..48 were superseded, never processed
        assert w.stats.superseded == 47 and w.stats.started == 2
        # the defining property: every request started on the newest frame submitted so far
        for item, newest in started:
            assert item == newest
    finally:
        w.stop()


def test_random_timing_keeps_the_property_and_a_bounded_backlog():
    rng = np.random.default_rng(0)

    def jitter(item):
        time.sleep(float(rng.uniform(0, 0.004)))
        return item

    w, submit, results, _, started = make_worker(jitter)
    try:
        for s in range(1, 300):
            submit(s)
            if s % 7 == 0:
                time.sleep(0.003)
        assert w.wait_idle(5.0)
        assert all(item == newest for item, newest in started)
        assert results[-1][0] == 299  # the last frame is always answered
        processed = [r for r, _ in results]
        assert processed == sorted(processed)  # never back in time
        assert w.stats.started + w.stats.superseded == w.stats.submitted
    finally:
        w.stop()


def test_out_of_order_frames_are_dropped_and_a_restart_is_accepted():
    w, submit, results, _, _ = make_worker(lambda it: it)
    try:
        assert submit(10_000_000_000)
        assert w.wait_idle(2.0)
        assert not submit(9_900_000_000)  # 0.1 s older: reordered delivery
        assert w.stats.out_of_order == 1
        assert submit(1_000_000_000)  # 9 s back: a restarted bag
        assert w.wait_idle(2.0)
        assert [r for r, _ in results] == [10_000_000_000, 1_000_000_000]
    finally:
        w.stop()


def test_a_failing_call_is_reported_and_the_worker_carries_on():
    def flaky(item):
        if item % 2:
            raise RuntimeError(f'backend down on {item}')
        return item

    w, submit, results, errors, _ = make_worker(flaky)
    try:
        for s in (1, 2, 3, 4):
            submit(s)
            assert w.wait_idle(2.0)
        assert [r for r, _ in results] == [2, 4]
        assert [str(e) for _, e in errors] == ['backend down on 1', 'backend down on 3']
        assert w.stats.failed == 2 and w.stats.succeeded == 2
    finally:
        w.stop()


def test_stamp_rate_limiter_is_deterministic_on_stamps():
    stamps = [i * 33_333_333 for i in range(30)]  # 30 Hz for 1 s
    picks = [[s for s in stamps if lim.admit(s)] for lim in (StampRateLimiter(0.1), StampRateLimiter(0.1))]
    assert picks[0] == picks[1]
    assert picks[0] == stamps[::3]  # every third 30 Hz frame, despite 99.999999 ms spacing
    lim = StampRateLimiter(0.5)
    assert lim.admit(5_000_000_000) and not lim.admit(5_100_000_000)
    assert lim.admit(1_000_000_000)  # 4 s back: bag restarted
    with pytest.raises(ValueError, match='period_s must be >= 0'):
        StampRateLimiter(-1)


def test_worker_drives_a_tiny_llava_through_generate(tmp_path):
    pytest.importorskip('transformers')
    tiny_vlm.build_llava(tmp_path / 'llava')
    backend = make_backend('llava', model=str(tmp_path / 'llava'), device='cpu', dtype='fp32', max_new_tokens=4)
    rgb = np.zeros((32, 32, 3), np.uint8)
    qs = ['How far is the yellow gripper from the red block?', 'How far is the red block from the blue target?']
    w, submit, results, errors, started = make_worker(lambda s: backend.ask_batch([([rgb], q) for q in qs]))
    try:
        for s in range(1, 6):
            submit(s)
        assert w.wait_idle(30.0)
        assert not errors
        assert results and results[-1][0] == 5
        assert all(len(r) == 2 and all(isinstance(a, str) for a in r) for _, r in results)
        assert all(item == newest for item, newest in started)
    finally:
        w.stop()
        backend.close()
