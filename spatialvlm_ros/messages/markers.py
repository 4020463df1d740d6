"""RViz markers of the objects and their distances, ROS-free: the layout (:func:`marker_specs`) and
the one builder of ``visualization_msgs/MarkerArray`` (:func:`marker_array`), which the live node
(rclpy messages) and the offline labeller (rosbags messages) both call, so a labelled bag shows in
RViz exactly what the live node shows."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from typing import Any, Callable

import numpy as np

from ..core.types import ObjectObservation, SpatialFact, ns_to_stamp

__all__ = ['MarkerSpec', 'PALETTE', 'marker_specs', 'marker_array', 'marker_array_cdr']

# Marker colours per object index (RGB in 0..1), shared by the markers of every output.
PALETTE = np.array(
    [[0.9, 0.2, 0.2], [0.2, 0.4, 0.95], [0.95, 0.85, 0.1], [0.2, 0.8, 0.3], [0.8, 0.3, 0.9], [0.1, 0.8, 0.9]]
)


@dataclass(frozen=True)
class MarkerSpec:
    """One visualization_msgs/Marker, message-free. ``kind``: 'cube', 'text' or 'line_list'."""

    ns: str
    id: int
    kind: str
    position: tuple = (0.0, 0.0, 0.0)
    scale: tuple = (0.0, 0.0, 0.0)
    color: tuple = (1.0, 1.0, 1.0, 1.0)
    text: str = ''
    points: tuple = ()


def marker_specs(objects: Mapping[str, Optional[ObjectObservation]], facts: Sequence[SpatialFact]) -> list[MarkerSpec]:
    """A box and a name label per object, a line and a distance label per 'distance' fact. Ids are
    stable per object/pair, so RViz updates markers in place."""
    names = list(objects)
    out: list[MarkerSpec] = []
    for i, name in enumerate(names):
        obs = objects[name]
        if obs is None:
            continue
        r, g, b = (float(v) for v in PALETTE[i % len(PALETTE)])
        c = tuple(float(v) for v in obs.center)
        out.append(MarkerSpec('objects', i, 'cube', c, tuple(max(float(v), 0.005) for v in obs.extent), (r, g, b, 0.5)))
        label = (c[0], c[1] - (float(obs.extent[1]) / 2 + 0.03), c[2])  # optical y is down: above the box
        out.append(MarkerSpec('labels', i, 'text', label, (0.0, 0.0, 0.03), text=name))
    for fact in facts:
        if fact.type != 'distance' or objects.get(fact.subject) is None or objects.get(fact.object) is None:
            continue
        a, b = objects[fact.subject], objects[fact.object]
        mid = names.index(fact.subject) * len(names) + names.index(fact.object)
        ends = (tuple(float(v) for v in a.center), tuple(float(v) for v in b.center))
        out.append(MarkerSpec('distances', mid, 'line_list', scale=(0.004, 0.0, 0.0), points=ends))
        centre = tuple(float(v) for v in (np.asarray(a.center) + np.asarray(b.center)) / 2)
        out.append(MarkerSpec('distance_labels', mid, 'text', centre, (0.0, 0.0, 0.025), (0.6, 1.0, 0.6, 1.0),
                              text=f'{fact.value * 100:.1f} cm'))
    return out


# visualization_msgs/Marker type and action constants
_TYPES = {'cube': 1, 'line_list': 5, 'text': 9}
_ADD = 0


def marker_array(
    new: Callable[..., Any],
    objects: Mapping[str, Optional[ObjectObservation]],
    facts: Sequence[SpatialFact],
    header: Any,
    lifetime_s: float = 0.5,
) -> Any:
    """visualization_msgs/MarkerArray of :func:`marker_specs`.

    new: ``new(msgtype, **fields)`` -> message: :func:`.bag.rclpy_message` for the live node,
        :func:`.bag.message_factory` of a typestore for a bag.
    header: the std_msgs/Header of every marker (the frame's stamp, the objects' frame).
    """
    sec, nanosec = ns_to_stamp(int(lifetime_s * 1e9))

    def point(p) -> Any:
        return new('geometry_msgs/msg/Point', x=float(p[0]), y=float(p[1]), z=float(p[2]))

    markers = [
        new('visualization_msgs/msg/Marker', header=header, ns=s.ns, id=int(s.id), type=_TYPES[s.kind], action=_ADD,
            pose=new('geometry_msgs/msg/Pose', position=point(s.position),
                     orientation=new('geometry_msgs/msg/Quaternion', x=0.0, y=0.0, z=0.0, w=1.0)),
            scale=new('geometry_msgs/msg/Vector3', x=float(s.scale[0]), y=float(s.scale[1]), z=float(s.scale[2])),
            color=new('std_msgs/msg/ColorRGBA', r=float(s.color[0]), g=float(s.color[1]), b=float(s.color[2]),
                      a=float(s.color[3])),
            lifetime=new('builtin_interfaces/msg/Duration', sec=sec, nanosec=nanosec),
            points=[point(p) for p in s.points], text=s.text,
            # the texture is unused (no texture_resource) but carries the marker's header, as bags did before
            texture=new('sensor_msgs/msg/CompressedImage', header=header))
        for s in marker_specs(objects, facts)
    ]
    return new('visualization_msgs/msg/MarkerArray', markers=markers)


_U32 = struct.Struct('<I')
_HEAD = struct.Struct('<iiI')  # a marker's header stamp (sec, nanosec) then its frame_id's length
_IDS = struct.Struct('<iii')
_POSE_SCALE = struct.Struct('<10d')
_COLOR_LIFETIME = struct.Struct('<ffffiI')
_D3 = struct.Struct('<ddd')


def marker_array_cdr(objects: Mapping[str, Optional[ObjectObservation]], facts: Sequence[SpatialFact], stamp_ns: int,
                     frame_id: str, lifetime_s: float = 0.5) -> bytes:
    """The little-endian CDR of :func:`marker_array` with a header of ``stamp_ns`` and ``frame_id``, written
    directly: byte for byte what rosbags' serializer gives for that message (tested), without building the
    ~70 messages of a frame's markers. CDR as rosbags writes it: each value aligned to its size from the end
    of the 4-byte encapsulation header, zero padding, strings as a uint32 length counting their NUL."""
    sec, nanosec = ns_to_stamp(stamp_ns)
    life = ns_to_stamp(int(lifetime_s * 1e9))
    frame = frame_id.encode() + b'\x00'
    header = (sec, nanosec, len(frame))
    specs = marker_specs(objects, facts)
    buf = bytearray(b'\x00\x01\x00\x00')  # CDR_LE encapsulation
    buf += _U32.pack(len(specs))

    def pad(size: int) -> None:
        n = -(len(buf) - 4) % size
        if n:
            buf.extend(bytes(n))

    def string(text: str) -> None:
        data = text.encode() + b'\x00'
        pad(4)
        buf.extend(_U32.pack(len(data)))
        buf.extend(data)

    for s in specs:  # visualization_msgs/Marker, field by field
        pad(4)
        buf.extend(_HEAD.pack(*header))  # header.stamp, header.frame_id
        buf.extend(frame)
        string(s.ns)
        pad(4)
        buf.extend(_IDS.pack(int(s.id), _TYPES[s.kind], _ADD))  # id, type, action
        pad(8)
        p, sc, c = s.position, s.scale, s.color
        buf.extend(_POSE_SCALE.pack(float(p[0]), float(p[1]), float(p[2]), 0.0, 0.0, 0.0, 1.0,  # pose
                                    float(sc[0]), float(sc[1]), float(sc[2])))  # scale
        buf.extend(_COLOR_LIFETIME.pack(float(c[0]), float(c[1]), float(c[2]), float(c[3]), *life))  # color, lifetime
        buf.append(0)  # frame_locked
        pad(4)
        buf.extend(_U32.pack(len(s.points)))  # points
        for q in s.points:
            pad(8)
            buf.extend(_D3.pack(float(q[0]), float(q[1]), float(q[2])))
        pad(4)
        buf.extend(b'\x00\x00\x00\x00\x01\x00\x00\x00\x00')  # colors: none; texture_resource: ''
        pad(4)
        buf.extend(_HEAD.pack(*header))  # texture: the marker's header, format '', no data
        buf.extend(frame)
        pad(4)
        buf.extend(b'\x01\x00\x00\x00\x00')
        pad(4)
        buf.extend(b'\x00\x00\x00\x00\x00\x00\x00\x00')  # texture data: none; uv_coordinates: none
        string(s.text)
        string('')  # mesh_resource
        string('')  # mesh_file.filename
        pad(4)
        buf.extend(b'\x00\x00\x00\x00\x00')  # mesh_file.data: none; mesh_use_embedded_materials: False
    return bytes(buf)
