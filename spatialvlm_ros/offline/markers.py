"""RViz markers for a labelled bag, built as rosbags messages (no ROS install needed).

The layout comes from :func:`spatialvlm_ros.viz.marker_specs`, as for the live node's
:func:`spatialvlm_ros.ros.convert.markers_from_objects`, so a labelled bag shows in RViz exactly
what the live node shows (a test compares the two).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..core.types import ObjectObservation, SpatialFact, ns_to_stamp
from ..viz import marker_specs

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
        """visualization_msgs/MarkerArray (rosbags) of :func:`spatialvlm_ros.viz.marker_specs`."""
        kinds = {'cube': _CUBE, 'text': _TEXT, 'line_list': _LINE_LIST}
        out = [self._base(header, s.ns, s.id, kinds[s.kind], s.position, s.scale, s.color, text=s.text,
                          points=s.points) for s in marker_specs(objects, facts)]
        return self._t['visualization_msgs/msg/MarkerArray'](markers=out)
