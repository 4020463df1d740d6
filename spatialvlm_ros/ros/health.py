"""Per-node health: counts of processed frames and of rejected inputs by kind, throttled
logging of each kind, and the diagnostic_msgs/DiagnosticStatus that reports it all.

A node never dies on one bad message: the callback catches, calls :meth:`NodeHealth.reject`
and moves on; ``/diagnostics`` then shows what was wrong and how often.
"""

from __future__ import annotations

import time
from collections import Counter, deque

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ['NodeHealth', 'steady_timer']


def steady_timer(node, period_s: float, callback):
    """A timer on the steady (wall) clock: it runs while a bag is paused or before any /clock
    arrives under ``use_sim_time``, when timers on the node's ROS clock stand still. For what
    reports on the process (diagnostics, silent inputs); durations it judges stay on the node clock."""
    from rclpy.clock import Clock, ClockType

    return node.create_timer(float(period_s), callback, clock=Clock(clock_type=ClockType.STEADY_TIME))


class NodeHealth:
    def __init__(self, node, name: str, throttle_s: float = 5.0) -> None:
        self._node = node
        self.name = name
        self.throttle_s = float(throttle_s)
        self.processed = 0
        self.rejected: Counter = Counter()
        self.events: Counter = Counter()  # not errors: e.g. an object not visible in a frame
        self.last_error: dict[str, str] = {}
        self._last_logged: dict[str, float] = {}
        self._latency_ms: deque = deque(maxlen=300)

    def ok(self, latency_ms: float | None = None) -> None:
        self.processed += 1
        if latency_ms is not None:
            self._latency_ms.append(latency_ms)

    def reject(self, kind: str, message: str) -> None:
        """Count a rejected input of ``kind`` and log it (first time at once, then throttled)."""
        self.rejected[kind] += 1
        self.last_error[kind] = message
        now = time.monotonic()
        if now - self._last_logged.get(kind, -1e9) >= self.throttle_s:
            self._last_logged[kind] = now
            n = self.rejected[kind]
            self._node.get_logger().warning(f'skipped input ({kind}, {n} so far): {message}')

    def note(self, kind: str, message: str) -> None:
        """Count an expected event (object out of view) and log it throttled, without raising the level."""
        self.events[kind] += 1
        now = time.monotonic()
        key = 'event:' + kind
        if now - self._last_logged.get(key, -1e9) >= self.throttle_s:
            self._last_logged[key] = now
            self._node.get_logger().info(f'{message} ({self.events[kind]} so far)')

    def status(self, extra: dict | None = None, warning: str | None = None) -> DiagnosticStatus:
        """warning: what makes the outputs doubtful although every input was taken (level WARN)."""
        st = DiagnosticStatus()
        st.name = f'{self._node.get_fully_qualified_name()}: {self.name}'
        st.hardware_id = self._node.get_name()
        total_bad = sum(self.rejected.values())
        if total_bad and not self.processed:
            st.level, st.message = DiagnosticStatus.ERROR, 'every input so far was rejected; see last_error_*'
        elif total_bad:
            st.level, st.message = DiagnosticStatus.WARN, f'{total_bad} inputs rejected'
            if warning:
                st.message += f'; {warning}'
        elif warning:
            st.level, st.message = DiagnosticStatus.WARN, warning
        else:
            st.level, st.message = DiagnosticStatus.OK, 'ok'
        values = {'processed': self.processed, 'rejected_total': total_bad}
        for kind, n in sorted(self.rejected.items()):
            values[f'rejected_{kind}'] = n
            values[f'last_error_{kind}'] = self.last_error[kind]
        for kind, n in sorted(self.events.items()):
            values[kind] = n
        if self._latency_ms:
            lat = sorted(self._latency_ms)
            values['latency_ms_p50'] = round(lat[len(lat) // 2], 3)
            values['latency_ms_max'] = round(lat[-1], 3)
        values.update(extra or {})
        st.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        return st

    def publish(self, publisher, extra: dict | None = None, warning: str | None = None) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self._node.get_clock().now().to_msg()
        arr.status = [self.status(extra, warning)]
        publisher.publish(arr)
