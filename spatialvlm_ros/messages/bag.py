"""Reading rosbag2 files (sqlite3 or mcap) with ``rosbags``: no ROS install needed.

The one bag reader of the package: :func:`open_reader` for raw (serialized) access, which the
offline labeller uses to read chunks by reference, and :func:`read_messages` for deserialized
messages. Messages come out as rosbags dataclasses with the same field names as rclpy messages,
so :mod:`.convert` works on both. :func:`message_factory` builds rosbags messages from the fields
a caller cares about (rosbags dataclasses want every field), so one builder (e.g. the markers)
serves rclpy and rosbags alike.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import MessageError

__all__ = ['BagMessage', 'open_reader', 'read_messages', 'topics', 'typestore_for', 'message_factory',
           'rclpy_message']


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    msg: object


def typestore_for():
    """The rosbags typestore for ROS 2 messages (Jazzy definitions; the message layouts we read
    and write are the same in Kilted)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


@contextmanager
def open_reader(path: str | Path):
    """``with open_reader(path) as reader``: an open rosbags ``Reader`` on a rosbag2 directory
    (sqlite3 or mcap), with clear errors; closed on exit."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise MessageError(f'no bag at {path}', kind='no_bag')
    if not (path / 'metadata.yaml').exists():
        raise MessageError(
            f'{path} is not a rosbag2 directory (no metadata.yaml); give the bag directory, not a file in it',
            kind='no_bag',
        )
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # noqa: BLE001 - rosbags raises several types for unreadable bags
        raise MessageError(f'cannot open bag {path}: {err}', kind='unreadable') from err
    try:
        yield reader
    finally:
        reader.close()


def topics(path: str | Path) -> dict[str, str]:
    """topic -> message type of a bag."""
    with open_reader(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def read_messages(path: str | Path, wanted: Sequence[str]) -> Iterator[BagMessage]:
    """Deserialized messages of ``wanted`` topics in log-time order. Raises MessageError naming
    missing topics."""
    path = Path(path)
    ts = typestore_for()
    with open_reader(path) as reader:
        have = {c.topic for c in reader.connections}
        missing = [t for t in wanted if t not in have]
        if missing:
            raise MessageError(f'bag {path} has no topic(s) {missing}; it has {sorted(have)}', kind='missing_topics')
        conns = [c for c in reader.connections if c.topic in wanted]
        for conn, log_time, raw in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, int(log_time), ts.deserialize_cdr(raw, conn.msgtype))


_BASE_DEFAULTS = {'string': '', 'bool': False, 'float32': 0.0, 'float64': 0.0}
_NUMPY = {'bool': np.bool_, 'int8': np.int8, 'uint8': np.uint8, 'byte': np.uint8, 'char': np.uint8,
          'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32, 'uint32': np.uint32, 'int64': np.int64,
          'uint64': np.uint64, 'float32': np.float32, 'float64': np.float64}


def message_factory(typestore) -> Callable[..., Any]:
    """``new(msgtype, **fields)`` building a message of ``typestore`` with every field not given
    at its ROS default (0, '', False, empty sequences, nested defaults), as rclpy does."""
    from rosbags.typesys.store import Nodetype

    def default(node) -> Any:
        kind, desc = node
        if kind == Nodetype.BASE:
            name = desc[0]
            return _BASE_DEFAULTS.get(name, 0)
        if kind == Nodetype.NAME:
            return new(desc)
        elem, count = desc
        if elem[0] == Nodetype.BASE and elem[1][0] in _NUMPY:
            return np.zeros(count if kind == Nodetype.ARRAY else 0, dtype=_NUMPY[elem[1][0]])
        return [default(elem) for _ in range(count)] if kind == Nodetype.ARRAY else []

    def new(msgtype: str, **fields: Any) -> Any:
        _, defs = typestore.fielddefs[msgtype]
        values = {name: fields[name] if name in fields else default(node) for name, node in defs}
        return typestore.types[msgtype](**values)

    return new


def rclpy_message(msgtype: str, **fields: Any) -> Any:
    """The rclpy message ``pkg/msg/Name`` with ``fields`` (the same signature as a
    :func:`message_factory`); imports the message package only when called."""
    import importlib

    pkg, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)(**fields)
