"""Reading rosbag2 files (sqlite3 or mcap) with ``rosbags``: no ROS install needed.

Messages come out as rosbags dataclasses with the same field names as rclpy messages, so
``ros.convert`` works on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

__all__ = ['BagError', 'BagMessage', 'read_messages', 'topics']


class BagError(Exception):
    """A bag cannot be read, or lacks the topics asked for."""


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    msg: object


def _reader(path: Path):
    from rosbags.highlevel import AnyReader

    if not path.exists():
        raise BagError(f'no bag at {path}')
    try:
        return AnyReader([path])
    except Exception as err:  # rosbags raises several types for unreadable bags
        raise BagError(f'cannot open bag {path}: {err}') from err


def topics(path: str | Path) -> dict[str, str]:
    """topic -> message type of a bag."""
    with _reader(Path(path)) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def read_messages(path: str | Path, wanted: Sequence[str]) -> Iterator[BagMessage]:
    """Messages of ``wanted`` topics in log-time order. Raises BagError naming missing topics."""
    path = Path(path)
    with _reader(path) as reader:
        have = {c.topic for c in reader.connections}
        missing = [t for t in wanted if t not in have]
        if missing:
            raise BagError(f'bag {path} has no topic(s) {missing}; it has {sorted(have)}')
        conns = [c for c in reader.connections if c.topic in wanted]
        for conn, log_time, raw in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, int(log_time), reader.deserialize(raw, conn.msgtype))
