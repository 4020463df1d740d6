"""ROS messages <-> core types. No math here beyond unit bookkeeping.

Works on rclpy messages and on rosbags-deserialised messages alike (same field names), so the
offline tools share it with the nodes.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from ..core.depth import make_frame
from ..core.errors import FrameError
from ..core.image_codec import image_from_msg
from ..core.types import Frame, Intrinsics, ObjectObservation, SpatialFact, ns_to_stamp, stamp_to_ns

__all__ = [
    'header_stamp_ns',
    'intrinsics_from_camera_info',
    'frame_from_msgs',
    'markers_from_objects',
]


def header_stamp_ns(msg) -> int:
    return stamp_to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def intrinsics_from_camera_info(info) -> Intrinsics:
    """sensor_msgs/CameraInfo -> Intrinsics of the image it describes.

    Raises FrameError for a zero/NaN K (uncalibrated driver) or a zero size.
    """
    k = np.asarray(info.k, dtype=np.float64)
    if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
        raise FrameError(
            f'camera_info has an unusable K {list(np.round(k, 3))} (focal lengths must be positive and finite); '
            'calibrate the camera or check the camera_info topic',
            kind='intrinsics',
        )
    try:
        intr = Intrinsics.from_k(k, int(info.width), int(info.height))
    except FrameError as err:
        raise FrameError(str(err), kind='intrinsics') from err
    # Absurd but positive values (a K for another resolution, pixels vs metres mix-ups) would
    # silently scale every distance: reject them with the numbers.
    w, h = intr.width, intr.height
    if not (0.05 * w <= intr.fx <= 50 * w and 0.05 * h <= intr.fy <= 50 * h):
        raise FrameError(
            f'camera_info focal lengths fx={intr.fx:.1f} fy={intr.fy:.1f} are implausible for a {w}x{h} image '
            '(expected 0.05-50 x the image size); check that K belongs to this resolution',
            kind='intrinsics',
        )
    if not (-0.5 <= intr.cx <= w - 0.5 and -0.5 <= intr.cy <= h - 0.5):
        raise FrameError(
            f'camera_info principal point ({intr.cx:.1f}, {intr.cy:.1f}) lies outside the {w}x{h} image; '
            'check that K belongs to this resolution',
            kind='intrinsics',
        )
    return intr


def frame_from_msgs(color, depth, info, min_depth_m: float = 0.05, max_depth_m: float = 10.0) -> Frame:
    """colour Image + depth Image + CameraInfo (of the colour stream) -> Frame.

    The colour header's stamp and frame_id are the frame's: every result is attributable to it.
    """
    intr = intrinsics_from_camera_info(info)
    rgb = image_from_msg(color)
    d = image_from_msg(depth)
    return make_frame(
        rgb,
        color.encoding,
        d,
        depth.encoding,
        intr,
        stamp_ns=header_stamp_ns(color),
        frame_id=color.header.frame_id or info.header.frame_id,
        min_depth_m=min_depth_m,
        max_depth_m=max_depth_m,
    )


_PALETTE = np.array(
    [[0.9, 0.2, 0.2], [0.2, 0.4, 0.95], [0.95, 0.85, 0.1], [0.2, 0.8, 0.3], [0.8, 0.3, 0.9], [0.1, 0.8, 0.9]]
)


def markers_from_objects(
    objects: Mapping[str, Optional[ObjectObservation]],
    facts: Sequence[SpatialFact],
    header,
    lifetime_s: float = 0.5,
):
    """visualization_msgs/MarkerArray: a box and a label per object, a line and a distance label
    per 'distance' fact. Marker ids are stable per object/pair so RViz updates in place."""
    from geometry_msgs.msg import Point
    from visualization_msgs.msg import Marker, MarkerArray

    sec, nanosec = ns_to_stamp(int(lifetime_s * 1e9))
    names = list(objects)
    out = MarkerArray()

    def base(ns: str, mid: int, mtype: int) -> Marker:
        m = Marker()
        m.header = header
        m.ns, m.id, m.type, m.action = ns, mid, mtype, Marker.ADD
        m.pose.orientation.w = 1.0
        m.lifetime.sec, m.lifetime.nanosec = sec, nanosec
        return m

    for i, name in enumerate(names):
        obs = objects[name]
        if obs is None:
            continue
        r, g, b = _PALETTE[i % len(_PALETTE)]
        box = base('objects', i, Marker.CUBE)
        box.pose.position.x, box.pose.position.y, box.pose.position.z = (float(v) for v in obs.center)
        box.scale.x, box.scale.y, box.scale.z = (max(float(v), 0.005) for v in obs.extent)
        box.color.r, box.color.g, box.color.b, box.color.a = float(r), float(g), float(b), 0.5
        out.markers.append(box)
        label = base('labels', i, Marker.TEXT_VIEW_FACING)
        label.pose.position.x, label.pose.position.y = float(obs.center[0]), float(obs.center[1])
        label.pose.position.z = float(obs.center[2])
        label.pose.position.y -= float(obs.extent[1]) / 2 + 0.03  # optical y is down: label above the box
        label.scale.z = 0.03
        label.color.r = label.color.g = label.color.b = label.color.a = 1.0
        label.text = name
        out.markers.append(label)
    for fact in facts:
        if fact.type != 'distance' or fact.subject not in objects or fact.object not in objects:
            continue
        a, b = objects[fact.subject], objects[fact.object]
        if a is None or b is None:
            continue
        mid = names.index(fact.subject) * len(names) + names.index(fact.object)
        line = base('distances', mid, Marker.LINE_LIST)
        line.scale.x = 0.004
        line.color.r = line.color.g = line.color.b = line.color.a = 1.0
        line.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in (a.center, b.center)]
        out.markers.append(line)
        text = base('distance_labels', mid, Marker.TEXT_VIEW_FACING)
        mid_pt = (np.asarray(a.center) + np.asarray(b.center)) / 2
        text.pose.position.x, text.pose.position.y, text.pose.position.z = (float(v) for v in mid_pt)
        text.scale.z = 0.025
        text.color.g = text.color.a = 1.0
        text.color.r = text.color.b = 0.6
        text.text = f'{fact.value * 100:.1f} cm'
        out.markers.append(text)
    return out
