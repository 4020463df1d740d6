"""RViz markers of the objects and their distances, ROS-free: the layout (:func:`marker_specs`) and
the one builder of ``visualization_msgs/MarkerArray`` (:func:`marker_array`), which the live node
(rclpy messages) and the offline labeller (rosbags messages) both call, so a labelled bag shows in
RViz exactly what the live node shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from typing import Any, Callable

import numpy as np

from ..core.types import ObjectObservation, SpatialFact, ns_to_stamp

__all__ = ['MarkerSpec', 'PALETTE', 'marker_specs', 'marker_array']

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
