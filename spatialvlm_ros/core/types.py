"""Domain types shared by every layer: frames, intrinsics, observations, facts, rewards.

Conventions (everywhere in this package):
- SI units: metres, seconds, radians.
- 3D points are in the camera *optical* frame unless a field says otherwise
  (REP 103: x right, y down, z forward).
- Stamps are integer nanoseconds (the ROS header stamp as ``sec * 1e9 + nanosec``),
  so a result is attributable to the exact input frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import FrameError

__all__ = [
    'Intrinsics',
    'Frame',
    'ObjectObservation',
    'SpatialFact',
    'RewardSample',
    'stamp_to_ns',
    'ns_to_stamp',
    'published',
]


def stamp_to_ns(sec: int, nanosec: int) -> int:
    """ROS (sec, nanosec) stamp -> integer nanoseconds."""
    return int(sec) * 1_000_000_000 + int(nanosec)


def ns_to_stamp(ns: int) -> tuple[int, int]:
    """Integer nanoseconds -> ROS (sec, nanosec)."""
    return int(ns) // 1_000_000_000, int(ns) % 1_000_000_000


def published(values) -> list[float]:
    """Metric values as the documents publish them: rounded to 6 decimals (a micrometre), far below
    any depth camera's noise. What a consumer computes from a document (the reward node's reward)
    is computed from these, so the per-frame step rounds the same way."""
    return [round(float(v), 6) for v in values]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one image stream (pixels).

    ``width``/``height`` are the image size these intrinsics belong to; a depth
    image of another size is resampled with :meth:`scaled`.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        vals = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(v) for v in vals):
            raise FrameError(f'intrinsics must be finite, got fx={self.fx} fy={self.fy} cx={self.cx} cy={self.cy}')
        if self.fx <= 0 or self.fy <= 0:
            raise FrameError(
                f'focal lengths must be positive, got fx={self.fx} fy={self.fy}; '
                'check that camera_info.k is filled (an uncalibrated camera publishes zeros)'
            )
        if self.width <= 0 or self.height <= 0:
            raise FrameError(f'image size must be positive, got {self.width}x{self.height}')

    @classmethod
    def from_k(cls, k, width: int, height: int) -> 'Intrinsics':
        """Build from a row-major 3x3 K (``sensor_msgs/CameraInfo.k``)."""
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise FrameError(f'K must have 9 entries, got {k.size}')
        return cls(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]), width=int(width), height=int(height))

    def scaled(self, width: int, height: int) -> 'Intrinsics':
        """Intrinsics of the same camera resampled to ``width`` x ``height``.

        Pixel centres are kept aligned (the +0.5/-0.5 shift), as OpenCV resize does.
        """
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=int(width),
            height=int(height),
        )

    def as_matrix(self) -> np.ndarray:
        """3x3 float64 K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, eq=False)
class Frame:
    """One registered RGB-D frame.

    rgb: HxWx3 uint8, RGB order.
    depth: HxW float32 metres, NaN = invalid (zeros, inf and out-of-range values are
        converted to NaN by :func:`spatialvlm_ros.core.depth.depth_to_metres`).
    intrinsics: of ``rgb`` (and ``depth``: they must be registered and the same size).
    stamp_ns: header stamp of the colour image, integer nanoseconds.
    frame_id: the optical frame the 3D results are expressed in.
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    stamp_ns: int = 0
    frame_id: str = 'camera_color_optical_frame'

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise FrameError(f'rgb must be HxWx3 uint8, got shape {self.rgb.shape} dtype {self.rgb.dtype}')
        if self.depth.ndim != 2 or self.depth.dtype != np.float32:
            raise FrameError(f'depth must be HxW float32 metres, got shape {self.depth.shape} dtype {self.depth.dtype}')
        if self.depth.shape != self.rgb.shape[:2]:
            raise FrameError(
                f'depth {self.depth.shape[1]}x{self.depth.shape[0]} and colour '
                f'{self.rgb.shape[1]}x{self.rgb.shape[0]} differ in size; register depth to colour '
                '(e.g. RealSense align_depth) or resample it with depth.resample_depth()'
            )
        h, w = self.depth.shape
        if (self.intrinsics.width, self.intrinsics.height) != (w, h):
            raise FrameError(
                f'intrinsics are for {self.intrinsics.width}x{self.intrinsics.height} but the images are {w}x{h}; '
                'use the camera_info of the colour stream or Intrinsics.scaled()'
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape


@dataclass(frozen=True, eq=False)
class ObjectObservation:
    """One grounded object lifted to 3D.

    name: the name the task uses ("block").
    points: Nx3 float32 metres in ``frame_id`` (after cleaning).
    center: (3,) metres, the object's estimated centre in ``frame_id``.
    extent: (3,) metres, axis-aligned size along x, y, z of ``frame_id``.
    pixel_count: mask pixels before cleaning; ``points`` has len <= pixel_count.
    source: 'depth' (measured from the image) or 'kinematic' (a pose the robot knows, e.g. its
        gripper from forward kinematics; ``points`` is then that one point, ``extent`` zeros).
    size: (3,) gravity-aligned (width, height, depth) metres (the order of ``extent_m``) when the centre mode measured the
        whole object ('support': a box on its support; 'grip': a gripper), else None.
    border_m: lateral size the mask erosion took off the visible points, at the object's depth.
    visible_fraction: estimated share of the object in view, in (0, 1]: below 1 where the centre
        mode completed a part hidden by an occluder or the image border (a disc behind an arm,
        fingertips behind a disc, a box's hidden bottom); scales ``evidence``, hence the
        confidence of the object's facts.
    """

    name: str
    center: np.ndarray
    extent: np.ndarray
    points: np.ndarray
    pixel_count: int
    frame_id: str = 'camera_color_optical_frame'
    stamp_ns: int = 0
    mask: Optional[np.ndarray] = field(default=None, repr=False)
    source: str = 'depth'
    size: Optional[np.ndarray] = None
    border_m: float = 0.0
    visible_fraction: float = 1.0

    @property
    def point_count(self) -> int:
        return int(len(self.points))

    @property
    def evidence(self) -> float:
        """Points behind the estimate, for confidences: a kinematic pose counts as certain; the
        points of a mostly hidden object count for the share of it in view (what they say about
        the rest is a completion)."""
        return float('inf') if self.source != 'depth' else float(len(self.points)) * self.visible_fraction


@dataclass(frozen=True)
class SpatialFact:
    """One spatial relation between two objects (or a property of one).

    type: 'distance', 'left_of', 'right_of', 'above', 'below', 'in_front_of', 'behind', ...
    value: the metric value in ``unit`` (for qualitative facts: the signed margin in metres
        that decided it).
    holds: for qualitative facts, True/False; None for quantitative ones.
    """

    type: str
    subject: str
    object: str
    value: float
    unit: str
    frame: str
    holds: Optional[bool] = None
    confidence: float = 1.0
    stamp_ns: int = 0

    def to_dict(self) -> dict:
        return {
            'type': self.type,
            'subject': self.subject,
            'object': self.object,
            'value': float(self.value),
            'unit': self.unit,
            'frame': self.frame,
            'holds': self.holds,
            'confidence': float(self.confidence),
            'stamp_ns': int(self.stamp_ns),
        }


@dataclass(frozen=True)
class RewardSample:
    """Dense reward for one frame.

    reward: the scalar the policy gets.
    stage: index of the active stage in the task; stage_name its name.
    distances: metres, keyed "a-b" for every distance the task uses (None: not measurable).
    terms: the named additive terms whose sum is ``reward``.
    valid: False when an object the active stage needs was not found; ``reward`` is
        then NaN (never a made-up value).
    done: the frame is terminal: the task's success holds (False when not valid).
    form: the task's reward form ('staged_distance' or 'stacked_progress', see core.reward).
    """

    stamp_ns: int
    reward: float
    stage: int
    stage_name: str
    success: bool
    distances: dict
    terms: dict
    valid: bool = True
    missing: tuple = ()
    done: bool = False
    form: str = 'staged_distance'

    def to_dict(self) -> dict:
        return {
            'stamp_ns': int(self.stamp_ns),
            'reward': None if not np.isfinite(self.reward) else float(self.reward),
            'stage': int(self.stage),
            'stage_name': self.stage_name,
            'success': bool(self.success),
            'distances': {k: (None if v is None else float(v)) for k, v in self.distances.items()},
            'terms': {k: float(v) for k, v in self.terms.items()},
            'valid': bool(self.valid),
            'missing': list(self.missing),
            'done': bool(self.done),
            'form': self.form,
        }
