"""Rigid transforms for re-expressing results in another frame (camera optical -> base_link).

A ``RigidTransform`` maps points from ``child`` (the camera optical frame) into ``parent``
(e.g. base_link): p_parent = R @ p_child + t. Quaternions are (x, y, z, w) as in ROS.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .errors import SpatialError
from .types import ObjectObservation

__all__ = [
    'TransformError',
    'RigidTransform',
    'quaternion_to_matrix',
    'matrix_to_quaternion',
    'StampedBuffer',
    'TransformBuffer',
    'transform_observation',
    'kinematic_observation',
]


class TransformError(SpatialError):
    """A transform is malformed or not available for a frame."""

    kind = 'transform'


def quaternion_to_matrix(q: Sequence[float]) -> np.ndarray:
    """(x, y, z, w) unit quaternion -> 3x3 rotation. Normalises; rejects a zero quaternion."""
    x, y, z, w = (float(v) for v in q)
    n = x * x + y * y + z * z + w * w
    if not np.isfinite(n) or n < 1e-12:
        raise TransformError(f'quaternion {list(q)} is zero or not finite; give (x, y, z, w) with norm 1')
    s = 2.0 / n
    return np.array(
        [
            [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
            [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
            [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """3x3 rotation -> (x, y, z, w) unit quaternion with w >= 0."""
    r = np.asarray(rotation, dtype=np.float64)
    # Shepperd's method: pivot on the largest of w, x, y, z for numerical stability.
    tr = np.trace(r)
    cands = [tr, r[0, 0], r[1, 1], r[2, 2]]
    i = int(np.argmax(cands))
    if i == 0:
        w = 0.5 * np.sqrt(1 + tr)
        x, y, z = (r[2, 1] - r[1, 2]) / (4 * w), (r[0, 2] - r[2, 0]) / (4 * w), (r[1, 0] - r[0, 1]) / (4 * w)
    elif i == 1:
        x = 0.5 * np.sqrt(1 + r[0, 0] - r[1, 1] - r[2, 2])
        w, y, z = (r[2, 1] - r[1, 2]) / (4 * x), (r[0, 1] + r[1, 0]) / (4 * x), (r[0, 2] + r[2, 0]) / (4 * x)
    elif i == 2:
        y = 0.5 * np.sqrt(1 - r[0, 0] + r[1, 1] - r[2, 2])
        w, x, z = (r[0, 2] - r[2, 0]) / (4 * y), (r[0, 1] + r[1, 0]) / (4 * y), (r[1, 2] + r[2, 1]) / (4 * y)
    else:
        z = 0.5 * np.sqrt(1 - r[0, 0] - r[1, 1] + r[2, 2])
        w, x, y = (r[1, 0] - r[0, 1]) / (4 * z), (r[0, 2] + r[2, 0]) / (4 * z), (r[1, 2] + r[2, 1]) / (4 * z)
    q = np.array([x, y, z, w])
    q = q / np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    return tuple(float(v) for v in q)


@dataclass(frozen=True, eq=False)
class RigidTransform:
    """p_parent = rotation @ p_child + translation (metres)."""

    rotation: np.ndarray
    translation: np.ndarray
    parent: str
    child: str
    stamp_ns: int = 0

    @classmethod
    def from_xyz_quat(cls, values: Sequence[float], parent: str, child: str, stamp_ns: int = 0) -> 'RigidTransform':
        """From [x, y, z, qx, qy, qz, qw] (the static_transform_publisher order)."""
        if len(values) != 7:
            raise TransformError(
                f'a static transform needs 7 numbers [x, y, z, qx, qy, qz, qw], got {len(values)}: {list(values)}'
            )
        return cls(quaternion_to_matrix(values[3:]), np.asarray(values[:3], dtype=np.float64), parent, child, stamp_ns)

    def inverse(self) -> 'RigidTransform':
        """The transform from ``parent`` back to ``child``."""
        rt = self.rotation.T
        return RigidTransform(rt, -rt @ np.asarray(self.translation, dtype=np.float64), self.child, self.parent,
                              self.stamp_ns)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Nx3 (or 3,) points in ``child`` -> ``parent``."""
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.rotation.T + self.translation


def transform_observation(obs: ObjectObservation, tf: RigidTransform) -> ObjectObservation:
    """The observation re-expressed in ``tf.parent``.

    The centre is transformed exactly; the extent, axis-aligned in the new frame, is the
    extent of the transformed box corners (a conservative bound when points are not kept).
    """
    if obs.frame_id != tf.child:
        raise TransformError(f'observation {obs.name!r} is in {obs.frame_id!r} but the transform is from {tf.child!r}')
    half = np.asarray(obs.extent, dtype=np.float64) / 2
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
    rotated = corners @ tf.rotation.T
    extent = rotated.max(axis=0) - rotated.min(axis=0)
    points = tf.apply(obs.points).astype(np.float32) if len(obs.points) else obs.points
    return replace(obs, center=tf.apply(obs.center), extent=extent, points=points, frame_id=tf.parent)


def kinematic_observation(name: str, point: np.ndarray, frame_id: str, stamp_ns: int) -> ObjectObservation:
    """An object whose position the robot knows (its gripper from forward kinematics), as an
    observation: the one known point, zero extent, ``source='kinematic'``."""
    p = np.asarray(point, dtype=np.float64).reshape(3)
    if not np.all(np.isfinite(p)):
        raise TransformError(f'kinematic position of {name!r} is not finite: {p.tolist()}', kind='kinematic')
    return ObjectObservation(name=name, center=p, extent=np.zeros(3), points=p[None].astype(np.float32),
                             pixel_count=0, frame_id=frame_id, stamp_ns=int(stamp_ns), source='kinematic')


class StampedBuffer:
    """Time-stamped items (transforms, points; anything with ``stamp_ns``), looked up at a frame's stamp.

    Returns the transform nearest in time within ``tolerance_ns``; never extrapolates further
    than that, so a stale pose is an error, not a silently wrong result.
    """

    def __init__(self, tolerance_ns: int, max_items: int = 200) -> None:
        self.tolerance_ns = int(tolerance_ns)
        self.max_items = int(max_items)
        self._stamps: list[int] = []
        self._items: list = []

    def add(self, item) -> None:
        i = bisect.bisect(self._stamps, item.stamp_ns)
        self._stamps.insert(i, item.stamp_ns)
        self._items.insert(i, item)
        if len(self._items) > self.max_items:
            del self._stamps[0], self._items[0]

    def lookup(self, stamp_ns: int):
        if not self._items:
            return None
        i = bisect.bisect(self._stamps, stamp_ns)
        best = min((j for j in (i - 1, i) if 0 <= j < len(self._items)), key=lambda j: abs(self._stamps[j] - stamp_ns))
        if abs(self._stamps[best] - stamp_ns) > self.tolerance_ns:
            return None
        return self._items[best]


# The name the transform use reads best under.
TransformBuffer = StampedBuffer
