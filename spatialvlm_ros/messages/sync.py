"""Approximate-time pairing of streams on header stamps (message_filters is not a dependency).

The live node and the offline bag labeller both feed messages in arrival order and get the
same matched sets out, so replaying a bag gives exactly the frames the robot saw.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ['ApproximateTimeSync', 'SyncStats']


@dataclass
class SyncStats:
    """Counters for diagnostics."""

    matched: int = 0
    dropped: int = 0  # messages that aged out without a partner
    out_of_order: int = 0  # stamps older than the last match on that stream
    time_jumps: int = 0  # resets after time went backwards by more than reset_jump_ns


class ApproximateTimeSync:
    """Match one message from every stream whose stamps lie within ``slop_ns`` of each other.

    Policy: when a message arrives, look for the set (one per stream) whose stamps are all
    within ``slop_ns`` of the newest message, choosing for every other stream the closest
    stamp. A match consumes the matched messages and everything older on every stream (an
    older frame can never be emitted after a newer one). Queues are bounded by
    ``queue_size`` per stream, so a dead stream cannot grow memory.

    ``add`` returns the matched tuple (in stream order) or None.
    """

    def __init__(
        self, streams: Sequence[str], slop_ns: int, queue_size: int = 10, reset_jump_ns: int = 1_000_000_000
    ) -> None:
        if len(streams) < 2:
            raise ValueError(f'need at least two streams to pair, got {list(streams)}')
        if slop_ns < 0:
            raise ValueError(f'slop must be >= 0, got {slop_ns} ns')
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        self.streams = tuple(streams)
        self.slop_ns = int(slop_ns)
        self.queue_size = int(queue_size)
        # A stamp this far behind the last match means time jumped back (bag loop, sim reset).
        self.reset_jump_ns = int(reset_jump_ns)
        self._queues: dict[str, deque] = {s: deque() for s in self.streams}
        self._last_match_ns: int | None = None
        self.stats = SyncStats()

    def add(self, stream: str, stamp_ns: int, msg: Any) -> tuple | None:
        if stream not in self._queues:
            raise KeyError(f'unknown stream {stream!r}; expected one of {self.streams}')
        if self._last_match_ns is not None and stamp_ns < self._last_match_ns - self.reset_jump_ns:
            self.stats.time_jumps += 1
            self.reset()
        if self._last_match_ns is not None and stamp_ns <= self._last_match_ns:
            self.stats.out_of_order += 1
            return None
        q = self._queues[stream]
        q.append((int(stamp_ns), msg))
        if len(q) > self.queue_size:
            q.popleft()
            self.stats.dropped += 1
        return self._try_match(int(stamp_ns), stream)

    def _try_match(self, pivot_ns: int, pivot_stream: str) -> tuple | None:
        picked: dict[str, tuple[int, Any]] = {}
        for s, q in self._queues.items():
            if not q:
                return None
            if s == pivot_stream:
                picked[s] = q[-1]
                continue
            best = min(q, key=lambda item: abs(item[0] - pivot_ns))
            if abs(best[0] - pivot_ns) > self.slop_ns:
                return None
            picked[s] = best
        stamps = [p[0] for p in picked.values()]
        if max(stamps) - min(stamps) > self.slop_ns:
            return None
        newest = max(stamps)
        for s, q in self._queues.items():
            # Drop the match and everything older: those can no longer be emitted in order.
            while q and q[0][0] <= picked[s][0]:
                item = q.popleft()
                if item is not picked[s]:
                    self.stats.dropped += 1
        self._last_match_ns = newest
        self.stats.matched += 1
        return tuple(picked[s][1] for s in self.streams)

    def reset(self) -> None:
        """Forget everything (e.g. after a time jump backwards when a bag loops)."""
        for q in self._queues.values():
            q.clear()
        self._last_match_ns = None
