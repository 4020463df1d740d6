"""A ray caster for RGB-D scenes with known geometry (spheres, boxes, planes) and the scenes the lifting,
facts and step tests share; ``tilted_result``: a box on a table seen 45 degrees down, run through the pipeline."""
from __future__ import annotations
from dataclasses import dataclass
import numpy as np
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.types import Frame, Intrinsics
import functools
from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline


K = Intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)


def _rays(k: Intrinsics) -> np.ndarray:
    """HxWx3 ray directions with z = 1, so the ray parameter t is the depth z."""
    v, u = np.mgrid[0 : k.height, 0 : k.width].astype(np.float64)
    return np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1)


@dataclass(frozen=True)
class Sphere:
    center: tuple
    radius: float

    def hit(self, d: np.ndarray) -> np.ndarray:
        c = np.asarray(self.center)
        a = np.einsum('...i,...i', d, d)
        b = -2.0 * d @ c
        disc = b * b - 4 * a * (c @ c - self.radius**2)
        with np.errstate(invalid='ignore'):
            t = (-b - np.sqrt(disc)) / (2 * a)
        return np.where(disc >= 0, t, np.inf)


@dataclass(frozen=True)
class Box:
    center: tuple
    size: tuple
    rotation: object = None  # 3x3, columns: box axes in the camera frame; None = aligned

    def hit(self, d: np.ndarray) -> np.ndarray:
        r = np.eye(3) if self.rotation is None else np.asarray(self.rotation)
        o = r.T @ (-np.asarray(self.center))  # camera origin in box coordinates
        dl = d @ r  # ray directions in box coordinates
        half = np.asarray(self.size) / 2
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-half - o) / dl
            t2 = (half - o) / dl
        tnear = np.nanmax(np.minimum(t1, t2), axis=-1)
        tfar = np.nanmin(np.maximum(t1, t2), axis=-1)
        return np.where((tnear <= tfar) & (tnear > 0), tnear, np.inf)


@dataclass(frozen=True)
class Plane:
    point: tuple
    normal: tuple

    def hit(self, d: np.ndarray) -> np.ndarray:
        n = np.asarray(self.normal)
        with np.errstate(divide='ignore'):
            t = (n @ np.asarray(self.point)) / (d @ n)
        return np.where(t > 0, t, np.inf)


def render(shapes, k: Intrinsics = K, noise_m: float = 0.0, seed: int = 0):
    """(depth HxW float32 with NaN where nothing was hit, label HxW int: index into shapes, -1 none)."""
    d = _rays(k)
    ts = np.stack([s.hit(d) for s in shapes])
    label = np.argmin(ts, axis=0)
    depth = np.take_along_axis(ts, label[None], 0)[0]
    label[~np.isfinite(depth)] = -1
    if noise_m:
        depth = depth + np.random.default_rng(seed).normal(0, noise_m, depth.shape)
    depth[~np.isfinite(depth)] = np.nan
    return depth.astype(np.float32), label


def frame_of(depth: np.ndarray, label: np.ndarray) -> Frame:
    rgb = np.zeros(depth.shape + (3,), np.uint8)
    rgb[label == 0] = (200, 30, 30)
    rgb[label > 0] = (150, 150, 150)
    return Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=123, frame_id='cam')


def rot_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _table_scene():
    """A 5 cm cube resting on a table, camera 0.7 m away looking 45 degrees down."""
    up = np.array([0.0, -1.0, -1.0]) / np.sqrt(2)  # world up in the optical frame (y down, z forward)
    x = np.array([1.0, 0.0, 0.0])
    rot = np.stack([x, up, np.cross(x, up)], axis=1)
    c = np.array([0.0, 0.0, 0.7])
    return c, [Box(tuple(c), (0.05, 0.05, 0.05), rot), Plane(tuple(c - 0.025 * up), tuple(up))]


BACKWALL = Plane((0, 0, 1.2), (0, 0, 1))


# name -> (true centre, shapes); shape 0 is the object, the rest is background
SCENES = {
    'sphere on axis': ((0.0, 0.0, 0.6), [Sphere((0.0, 0.0, 0.6), 0.03), BACKWALL]),
    'sphere off axis': ((0.2, 0.0, 0.7), [Sphere((0.2, 0.0, 0.7), 0.03), BACKWALL]),
    'cube face-on': ((0.0, 0.0, 0.6), [Box((0.0, 0.0, 0.6), (0.05, 0.05, 0.05)), BACKWALL]),
    'cube yawed 30 deg': ((0.05, 0.0, 0.6), [Box((0.05, 0.0, 0.6), (0.05, 0.05, 0.05), rot_y(30)), BACKWALL]),
    'cube on table, 45 deg down': _table_scene(),
}


def _with_flying_pixels(depth: np.ndarray, obj: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mix object and background depth on a 2 px band either side of the border, as ToF/stereo do.

    Returns (depth, mask) where mask is the object dilated by 2 px: a segmenter's mask also
    bleeds over the border, so the flying pixels really are inside the mask.
    """
    import cv2

    k = np.ones((5, 5), np.uint8)
    grown = cv2.dilate(obj.astype(np.uint8), k).astype(bool)
    band = grown & ~cv2.erode(obj.astype(np.uint8), k).astype(bool)
    fg = np.where(obj, depth, np.nan)
    near = cv2.dilate(np.nan_to_num(-fg, nan=-1e9).astype(np.float32), k)  # -(object depth) nearby
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0, 1, depth.shape)
    mixed = alpha * (-near) + (1 - alpha) * depth
    out = depth.copy()
    out[band] = mixed[band]
    return out.astype(np.float32), grown


# width (camera right), height (up), depth (away from the camera): three different sizes, so a
# swapped axis shows
SIZE = (0.04, 0.10, 0.06)


STAMP = 1_700_000_000_000_000_001


@functools.lru_cache(maxsize=None)
def tilted_result():
    """A box standing on a table, the camera 0.7 m away looking 45 degrees down: the camera-axis
    box of an upright object is not its gravity-aligned size here."""
    up = np.array([0.0, -1.0, -1.0]) / np.sqrt(2)  # world up in the optical frame
    x = np.array([1.0, 0.0, 0.0])
    rot = np.stack([x, up, np.cross(x, up)], axis=1)  # box axes: width, height, depth
    c = np.array([0.0, 0.0, 0.7])
    depth, label = render([Box(tuple(c), SIZE, rot), Plane(tuple(c - SIZE[1] / 2 * up), tuple(up))], noise_m=0.001)
    rgb = np.full(depth.shape + (3,), 128, np.uint8)
    frame = Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=STAMP, frame_id='cam')
    pipe = SpatialPipeline(PipelineConfig(queries=(ObjectQuery('box', 'box'),), grounder='mask',
                                          lift=LiftConfig(center_mode='support')))  # the node's default
    pipe.grounder.set_masks(masks={'box': label == 0})
    result = pipe.process(frame)
    assert result.gravity is not None and result.gravity.source == 'plane'
    return result


def _extents(result):
    return result.sizes
