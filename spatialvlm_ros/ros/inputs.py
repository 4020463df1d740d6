"""Input monitoring: per-stream rates, and loud warnings while a camera topic stays silent,
naming the resolved topic and any publisher whose QoS cannot match ours.

Durations are on the node clock, so under ``use_sim_time`` a paused bag is not "silent"; the check
itself runs on a steady timer, so a ``use_sim_time`` node that never gets a /clock says so. Rates
are messages per second of wall time, as they arrive."""

from __future__ import annotations

import time

from rclpy.qos import ReliabilityPolicy

__all__ = ['InputMonitor']


class InputMonitor:
    def __init__(self, node, topics: dict, reliability: str, warn_after_s: float) -> None:
        self._node = node
        self.topics = dict(topics)  # stream -> relative topic name
        self.reliability = reliability
        self.warn_after_s = float(warn_after_s)
        self._start = self._now()
        self._last_seen = {s: None for s in topics}
        self._counts = {s: 0 for s in topics}
        self._window_start = time.monotonic()
        self._window_counts = {s: 0 for s in topics}
        self.incompatible_qos = 0

    def _now(self) -> float:
        return self._node.get_clock().now().nanoseconds * 1e-9

    def seen(self, stream: str) -> None:
        self._last_seen[stream] = self._now()
        self._counts[stream] += 1
        self._window_counts[stream] += 1

    def on_incompatible_qos(self, stream: str, event) -> None:
        self.incompatible_qos += 1
        self._node.get_logger().error(
            f'{self._resolved(stream)}: a publisher offers QoS incompatible with this subscription '
            f'(policy {getattr(event, "last_policy_kind", "?")}); this subscription wants {self.reliability}: '
            "with a best-effort camera driver set qos_reliability:=best_effort"
        )

    def _resolved(self, stream: str) -> str:
        return self._node.resolve_topic_name(self.topics[stream])

    def rates(self) -> dict:
        """Messages per second per stream since the last call, on the wall clock (as they arrive;
        under sim time a paused or absent /clock would make any rate on it meaningless)."""
        now = time.monotonic()
        dt = max(now - self._window_start, 1e-6)
        out = {f'rate_hz_{s}': round(n / dt, 2) for s, n in self._window_counts.items()}
        self._window_start = now
        self._window_counts = {s: 0 for s in self.topics}
        return out

    def check(self) -> list[str]:
        """Warn for every stream silent for longer than ``warn_after_s``; returns the warnings."""
        now = self._now()
        if now <= 0.0 and self._node.get_parameter('use_sim_time').value:
            msg = ('use_sim_time is true but no /clock has been received, so the node clock stands at 0: play '
                   'bags with their clock (ros2 bag play --clock) or set use_sim_time:=false')
            self._node.get_logger().warning(msg)
            return [msg]
        if self._start <= 0.0 or now < self._start:
            # Sim time before the first /clock reads 0, and a restarted bag goes back: silence is
            # counted from here, not from a time the jump makes look long ago.
            self._start = now
            self._last_seen = {s: None for s in self.topics}
            return []
        warnings = []
        for stream in self.topics:
            last = self._last_seen[stream]
            if (now - (last if last is not None else self._start)) < self.warn_after_s:
                continue
            topic = self._resolved(stream)
            pubs = self._node.get_publishers_info_by_topic(topic)
            if not pubs:
                why = 'no publisher on it; check the remapping and that the camera driver runs'
            else:
                best_effort = [p for p in pubs if p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT]
                if self.reliability == 'reliable' and best_effort:
                    why = (f'{len(best_effort)} publisher(s) are best-effort but this subscription is reliable: '
                           'set qos_reliability:=best_effort')
                else:
                    why = f'{len(pubs)} publisher(s) but nothing received; check their stamps, QoS and the network'
            state = 'never received' if last is None else f'nothing for {now - last:.0f} s'
            msg = f'waiting for {topic} ({state}): {why}'
            warnings.append(msg)
            self._node.get_logger().warning(msg)
        return warnings
