"""RViz markers for a labelled bag, built as rosbags messages (no ROS install needed).

Mirrors :func:`spatialvlm_ros.ros.convert.markers_from_objects` marker for marker (same
namespaces, ids, poses, sizes, colours and texts; a test compares the two), so a labelled bag
shows in RViz exactly what the live node shows.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..core.types import ObjectObservation, SpatialFact, ns_to_stamp
from ..ros.convert import _PALETTE

__all__ = ['MarkerFactory']

# visualization_msgs/Marker constants
_CUBE, _LINE_LIST, _TEXT, _ADD = 1, 5, 9, 0


class MarkerFactory:
    """Builds ``visualization_msgs/msg/MarkerArray`` messages of one typestore."""

    def __init__(self, typestore: Any, lifetime_s: float = 0.5) -> None:
        t = typestore.types
        self._t = t
        self._lifetime = ns_to_stamp(int(lifetime_s * 1e9))

    def _base(self, header, ns: str, mid: int, mtype: int, position, scale, color, text: str = '', points=()):
        t = self._t
        return t['visualization_msgs/msg/Marker'](
            header=header,
            ns=ns,
            id=int(mid),
            type=mtype,
            action=_ADD,
            pose=t['geometry_msgs/msg/Pose'](
                position=t['geometry_msgs/msg/Point'](x=float(position[0]), y=float(position[1]), z=float(position[2])),
                orientation=t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0),
            ),
            scale=t['geometry_msgs/msg/Vector3'](x=float(scale[0]), y=float(scale[1]), z=float(scale[2])),
            color=t['std_msgs/msg/ColorRGBA'](r=float(color[0]), g=float(color[1]), b=float(color[2]), a=float(color[3])),
            lifetime=t['builtin_interfaces/msg/Duration'](sec=self._lifetime[0], nanosec=self._lifetime[1]),
            frame_locked=False,
            points=[t['geometry_msgs/msg/Point'](x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in points],
            colors=[],
            texture_resource='',
            texture=t['sensor_msgs/msg/CompressedImage'](header=header, format='', data=np.zeros(0, np.uint8)),
            uv_coordinates=[],
            text=text,
            mesh_resource='',
            mesh_file=t['visualization_msgs/msg/MeshFile'](filename='', data=np.zeros(0, np.uint8)),
            mesh_use_embedded_materials=False,
        )

    def markers(
        self, objects: Mapping[str, Optional[ObjectObservation]], facts: Sequence[SpatialFact], header
    ) -> Any:
        """A box and a label per object, a line and a distance label per 'distance' fact."""
        names = list(objects)
        out = []
        for i, name in enumerate(names):
            obs = objects[name]
            if obs is None:
                continue
            r, g, b = _PALETTE[i % len(_PALETTE)]
            c = [float(v) for v in obs.center]
            out.append(self._base(header, 'objects', i, _CUBE, c, [max(float(v), 0.005) for v in obs.extent],
                                  (r, g, b, 0.5)))
            label_pos = [c[0], c[1] - (float(obs.extent[1]) / 2 + 0.03), c[2]]  # optical y down: above the box
            out.append(self._base(header, 'labels', i, _TEXT, label_pos, (0.0, 0.0, 0.03), (1.0, 1.0, 1.0, 1.0),
                                  text=name))
        for fact in facts:
            if fact.type != 'distance' or fact.subject not in objects or fact.object not in objects:
                continue
            a, b = objects[fact.subject], objects[fact.object]
            if a is None or b is None:
                continue
            mid = names.index(fact.subject) * len(names) + names.index(fact.object)
            out.append(self._base(header, 'distances', mid, _LINE_LIST, (0.0, 0.0, 0.0), (0.004, 0.0, 0.0),
                                  (1.0, 1.0, 1.0, 1.0), points=(a.center, b.center)))
            mid_pt = (np.asarray(a.center) + np.asarray(b.center)) / 2
            out.append(self._base(header, 'distance_labels', mid, _TEXT, mid_pt, (0.0, 0.0, 0.025),
                                  (0.6, 1.0, 0.6, 1.0), text=f'{fact.value * 100:.1f} cm'))
        return self._t['visualization_msgs/msg/MarkerArray'](markers=out)
