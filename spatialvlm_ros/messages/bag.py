"""Reading rosbag2 files (sqlite3 or mcap) and ROS 1 bags with ``rosbags``: no ROS install needed.

The one bag reader of the package: :func:`open_reader` for raw (serialized) access, which the
offline labeller uses to read chunks by reference, and :func:`read_messages` for deserialized
messages. Messages come out as rosbags dataclasses with the same field names as rclpy messages,
so :mod:`.convert` works on both. :func:`message_factory` builds rosbags messages from the fields
a caller cares about (rosbags dataclasses want every field), so one builder (e.g. the markers)
serves rclpy and rosbags alike.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import MessageError

__all__ = ['BagMessage', 'Ros1Reader', 'open_reader', 'read_messages', 'topics', 'typestore_for', 'message_factory',
           'rclpy_message']


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    msg: object


@functools.lru_cache(maxsize=1)
def typestore_for():
    """The rosbags typestore for ROS 2 messages (Jazzy definitions; the message layouts we read
    and write are the same in Kilted), one per process: the types of a ROS 1 bag's own messages
    are registered into it when the bag is opened."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


@contextmanager
def open_reader(path: str | Path):
    """``with open_reader(path) as reader``: an open reader of a rosbag2 directory (sqlite3 or mcap)
    or a ROS 1 ``.bag`` file, with clear errors; closed on exit. Either way its ``connections``
    carry ROS 2 message types and ``messages(...)`` yields ``(connection, log time ns, CDR bytes)``:
    a ROS 1 bag's messages are converted to CDR as they are read (:class:`Ros1Reader`), so the
    labeller, the labelled-bag writer and the stamp reader work on both."""
    path = Path(path)
    if not path.exists():
        raise MessageError(f'no bag at {path}', kind='no_bag')
    ros1 = path.is_file() and path.suffix == '.bag'
    if not ros1 and not (path / 'metadata.yaml').exists():
        raise MessageError(
            f'{path} is neither a rosbag2 directory (no metadata.yaml: give the bag directory, not a file in it) '
            'nor a ROS 1 .bag file', kind='no_bag')
    try:
        if ros1:
            from rosbags.rosbag1 import Reader as Ros1

            reader = Ros1Reader(Ros1(path), typestore_for())
        else:
            from rosbags.rosbag2 import Reader

            reader = Reader(path)
        reader.open()
    except MessageError:
        raise
    except Exception as err:  # noqa: BLE001 - rosbags raises several types for unreadable bags
        raise MessageError(f'cannot open bag {path}: {err}', kind='unreadable') from err
    try:
        yield reader
    finally:
        reader.close()


class Ros1Reader:
    """A rosbags ROS 1 reader that looks like a rosbag2 one: connections as ROS 2 CDR connections,
    messages converted to CDR (``typestore.ros1_to_cdr``). Message types the typestore lacks are
    registered from the bag's own definitions."""

    def __init__(self, reader, typestore) -> None:
        self._reader, self._ts = reader, typestore
        self.connections: list = []
        self._by_id: dict = {}

    def open(self) -> None:
        from rosbags.interfaces import ConnectionExtRosbag2
        from rosbags.typesys import get_types_from_msg

        self._reader.open()
        for c in self._reader.connections:
            if c.msgtype not in self._ts.fielddefs:
                self._ts.register(get_types_from_msg(c.msgdef.data, c.msgtype))
            # No ROS 1 definition or md5 travels on: a rosbag2 writer takes the type from the typestore.
            ros2 = c._replace(msgdef=None, digest='', ext=ConnectionExtRosbag2('cdr', []), owner=self)
            self.connections.append(ros2)
            self._by_id[c.id] = c

    def messages(self, connections=(), start=None, stop=None):
        wanted = [self._by_id[c.id] for c in connections] or list(self._by_id.values())
        ours = {c.id: c for c in self.connections}
        for conn, log_time, raw in self._reader.messages(connections=wanted, start=start, stop=stop):
            yield ours[conn.id], log_time, self._ts.ros1_to_cdr(raw, conn.msgtype)

    def close(self) -> None:
        self._reader.close()


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
    at its ROS default (0, '', False, empty sequences, nested defaults), as rclpy does.

    Each type's fields and how to make their defaults are worked out once (a marker array builds
    some 70 messages a frame); immutable defaults are shared, every other one is made anew."""
    from rosbags.typesys.store import Nodetype

    plans: dict[str, tuple] = {}

    def maker(node) -> tuple[bool, Any]:
        """(True, the default) for an immutable default, else (False, a function making one)."""
        kind, desc = node
        if kind == Nodetype.BASE:
            return True, _BASE_DEFAULTS.get(desc[0], 0)
        if kind == Nodetype.NAME:
            return False, functools.partial(new, desc)
        elem, count = desc
        if elem[0] == Nodetype.BASE and elem[1][0] in _NUMPY:
            return False, functools.partial(np.zeros, count if kind == Nodetype.ARRAY else 0, dtype=_NUMPY[elem[1][0]])
        if kind != Nodetype.ARRAY:
            return False, list
        const, value = maker(elem)
        if const:
            return False, functools.partial(lambda v, n: [v] * n, value, count)
        return False, functools.partial(lambda make, n: [make() for _ in range(n)], value, count)

    def plan(msgtype: str) -> tuple:
        if msgtype not in plans:
            _, defs = typestore.fielddefs[msgtype]
            plans[msgtype] = (typestore.types[msgtype], tuple((name, *maker(node)) for name, node in defs))
        return plans[msgtype]

    def new(msgtype: str, **fields: Any) -> Any:
        cls, fields_plan = plan(msgtype)
        values = {}
        for name, const, value in fields_plan:
            if name in fields:
                values[name] = fields[name]
            else:
                values[name] = value if const else value()
        return cls(**values)

    return new


def rclpy_message(msgtype: str, **fields: Any) -> Any:
    """The rclpy message ``pkg/msg/Name`` with ``fields`` (the same signature as a
    :func:`message_factory`); imports the message package only when called."""
    import importlib

    pkg, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)(**fields)
