"""A latest-frame worker for a slow model, and a rate limit on header stamps.

The VLM answers far slower than a camera publishes. :class:`LatestFrameWorker` holds at most
one pending item: a newer item replaces the pending one (counted as superseded), so the queue
never grows and a request always starts on the newest item submitted so far. Items are
ordered by their stamp: an item older than the pending one, or older than one already
started, is dropped (out-of-order delivery never makes the worker go back in time).

:class:`StampRateLimiter` admits at most one item per ``period_s`` of *header-stamp* time,
so bag replay selects the same frames on every run whatever the machine's speed (as long as
the backend keeps up with the admitted rate).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ['StampRateLimiter', 'LatestFrameWorker', 'WorkerStats']

logger = logging.getLogger(__name__)


class StampRateLimiter:
    """Admit a stamp when it is at least ``period_ns`` after the last admitted one.

    A stamp that jumps back by more than ``reset_back_ns`` (a bag restarted, /clock reset)
    resets the limiter; a smaller step back is refused (out-of-order message).
    """

    def __init__(self, period_s: float, reset_back_s: float = 1.0, tolerance_s: float = 0.005) -> None:
        if not period_s >= 0:
            raise ValueError(f'period_s must be >= 0 seconds, got {period_s!r}')
        # Camera stamps jitter (30 Hz is 33.33 ms): a frame up to ``tolerance_s`` early still counts.
        self.period_ns = max(int(round(period_s * 1e9)) - int(round(min(tolerance_s, period_s / 10) * 1e9)), 0)
        self.reset_back_ns = int(round(reset_back_s * 1e9))
        self._last: Optional[int] = None

    def admit(self, stamp_ns: int) -> bool:
        if self._last is not None and stamp_ns < self._last - self.reset_back_ns:
            self._last = None
        if self._last is None or stamp_ns >= self._last + self.period_ns:
            self._last = stamp_ns
            return True
        return False


@dataclass
class WorkerStats:
    submitted: int = 0
    superseded: int = 0  # replaced by a newer item before a request started on it
    out_of_order: int = 0  # older than the pending or last started item
    started: int = 0
    succeeded: int = 0
    failed: int = 0


class LatestFrameWorker:
    """Runs ``fn(item)`` on a thread, always on the newest submitted item.

    fn: the slow call (the VLM request); its return value goes to ``on_result(item, result)``,
        an exception to ``on_error(item, err)``: the worker never dies on a failing call.
    on_start(item): called just before ``fn`` (tests use it to check freshness).
    stamp_of(item): integer nanoseconds ordering the items (the header stamp).
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        on_result: Callable[[Any, Any], None],
        on_error: Callable[[Any, BaseException], None],
        stamp_of: Callable[[Any], int],
        on_start: Optional[Callable[[Any], None]] = None,
        name: str = 'vlm-worker',
        reset_back_s: float = 1.0,
    ) -> None:
        self.reset_back_ns = int(round(reset_back_s * 1e9))
        self._fn, self._on_result, self._on_error = fn, on_result, on_error
        self._stamp_of, self._on_start = stamp_of, on_start
        self._cond = threading.Condition()
        self._pending: Any = None
        self._has_pending = False
        self._last_started: Optional[int] = None
        self._stop = False
        self.busy = False
        self.stats = WorkerStats()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> bool:
        """Offer ``item``; returns False when it is dropped as out of order."""
        stamp = self._stamp_of(item)
        with self._cond:
            self.stats.submitted += 1
            newest = self._stamp_of(self._pending) if self._has_pending else self._last_started
            # A jump back of more than reset_back_s is a restarted bag or clock, not reordering.
            if newest is not None and newest - self.reset_back_ns <= stamp <= newest:
                self.stats.out_of_order += 1
                return False
            if self._has_pending:
                self.stats.superseded += 1
            self._pending, self._has_pending = item, True
            self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._last_started = self._stamp_of(item)
                self.stats.started += 1
                self.busy = True
            try:
                if self._on_start is not None:
                    self._on_start(item)
                result = self._fn(item)
            except BaseException as err:  # noqa: BLE001 - reported, the worker carries on
                self.stats.failed += 1
                self.busy = False
                _handle(self._on_error, item, err, what='error')
                continue
            self.stats.succeeded += 1
            self.busy = False
            _handle(self._on_result, item, result, what='result')

    def idle(self) -> bool:
        with self._cond:
            return not self._has_pending and not self.busy

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.005)
        return self.idle()

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout_s)


def _handle(handler, item, value, what: str) -> None:
    """Call a result or error handler; its own failure is logged, never the worker's end."""
    try:
        handler(item, value)
    except Exception:  # noqa: BLE001
        logger.exception('%s handler failed', what)
