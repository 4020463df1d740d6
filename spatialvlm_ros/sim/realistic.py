"""Realistic RGB-D scenes with exact ground truth: tabletops and bedrooms, ray cast in numpy.

No MuJoCo and no ROS: every scene is a set of analytic primitives (planes, yawed boxes, vertical
cylinders and cups, bowls) in a world frame whose z is up, seen by a pinhole camera placed at a
sampled height, pitch and roll. The renderer returns the exact depth (the ray parameter of a ray
with optical z = 1 is the depth) and a label image; a sensor model then degrades the depth the way
real cameras do, and a mask model degrades each object's mask the way real segmenters do:

Sensors (:data:`SENSORS`):

- ``d435`` / ``d415`` (Intel RealSense D4xx, active stereo): axial noise sigma = a + b z^2 (half of it
  spatially correlated over a few pixels, as stereo matching smooths it), disparity sub-pixel
  quantisation, the stereo shadow (background just left of a nearer object is not seen by the
  right imager: no depth), flying pixels at depth edges (a value between the two sides), holes on
  dark or specular objects (blobs of invalid pixels);
- ``xtion`` (Asus Xtion / Kinect v1, structured light): disparity quantised in 1/8 pixel, noise
  growing with z^2, ragged edges (flying pixels) and holes on dark/shiny surfaces;
- ``kinect_v2`` (time of flight, 512x424): noise a + b z^2, strong flying pixels (mixed returns along
  edges, 2 px wide), multipath: depth too far near concave corners (floor-wall, the foot of
  furniture standing on the floor), decaying with the distance to the other surface.

Masks (:func:`degrade_mask`): bleed of 2-5 px into whatever surrounds the object (a smooth random
width along the contour), thin parts (a mug's handle, a lamp's pole, table legs) partly missing.

Ground truth per object: its gravity-frame box (min/max of its exact geometry along the true
right/forward/up of the camera, :func:`gravity_basis` of the true up), so (width, height, depth)
as ``core.sizes`` reports them; the true up in the optical frame; the support each object stands on.

:func:`make_scene` is deterministic in its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from ..core.gravity import gravity_basis
from ..core.types import Frame, Intrinsics

__all__ = ['SENSORS', 'Sensor', 'Part', 'SceneObject', 'Scene', 'make_scene', 'render', 'degrade_mask']


# ------------------------------------------------------------------------------------ primitives


def _quad(a, b, c):
    """Roots (t1 <= t2) of a t^2 + b t + c = 0, NaN where none."""
    with np.errstate(invalid='ignore', divide='ignore'):
        disc = b * b - 4 * a * c
        s = np.sqrt(disc)
        t1 = (-b - s) / (2 * a)
        t2 = (-b + s) / (2 * a)
    return t1, t2


def _valid(t, ok):
    return np.where(ok & (t > 1e-6), t, np.inf)


@dataclass(frozen=True)
class Plane:
    """Infinite plane n . p = n . point (world)."""

    point: tuple
    normal: tuple

    def hit(self, o, d):
        n = np.asarray(self.normal, float)
        with np.errstate(divide='ignore', invalid='ignore'):
            t = (n @ (np.asarray(self.point, float) - o)) / (d @ n)
        return _valid(t, np.isfinite(t))

    def corners(self):
        return np.zeros((0, 3))


@dataclass(frozen=True)
class Box:
    """Box with vertical axis: centre (world), size (sx, sy, sz), yaw about z (radians)."""

    center: tuple
    size: tuple
    yaw: float = 0.0

    def _rot(self):
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def hit(self, o, d):
        r = self._rot()
        ol = r.T @ (o - np.asarray(self.center, float))
        dl = d @ r
        half = np.asarray(self.size, float) / 2
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-half - ol) / dl
            t2 = (half - ol) / dl
        tnear = np.nanmax(np.minimum(t1, t2), axis=-1)
        tfar = np.nanmin(np.maximum(t1, t2), axis=-1)
        return _valid(tnear, tnear <= tfar)

    def corners(self):
        half = np.asarray(self.size, float) / 2
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        return (signs * half) @ self._rot().T + np.asarray(self.center, float)


@dataclass(frozen=True)
class Cup:
    """Vertical cylinder from z0 to z0 + height about (x, y); ``inner`` > 0 makes it a cup (open top,
    wall thickness radius - inner, floor of ``floor`` metres; ``floor`` < 0: open at the bottom too,
    a lamp shade). inner = 0: a solid cylinder (a can)."""

    base: tuple  # (x, y, z0)
    radius: float
    height: float
    inner: float = 0.0
    floor: float = 0.005

    def hit(self, o, d):
        cx, cy, z0 = self.base
        z1 = z0 + self.height
        ox, oy = o[0] - cx, o[1] - cy
        dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
        a = dx * dx + dy * dy
        b = 2 * (ox * dx + oy * dy)
        best = np.full(d.shape[:-1], np.inf)

        def zat(t):
            return o[2] + t * dz

        def rho2(t):
            return (ox + t * dx) ** 2 + (oy + t * dy) ** 2

        t1, _ = _quad(a, b, ox * ox + oy * oy - self.radius**2)
        z = zat(t1)
        best = np.minimum(best, _valid(t1, (z >= z0) & (z <= z1)))
        with np.errstate(divide='ignore', invalid='ignore'):
            ttop = (z1 - o[2]) / dz
            tbot = (z0 - o[2]) / dz
        r2 = rho2(ttop)
        best = np.minimum(best, _valid(ttop, (r2 <= self.radius**2) & (r2 >= self.inner**2)))
        if self.floor >= 0:
            r2 = rho2(tbot)
            best = np.minimum(best, _valid(tbot, r2 <= self.radius**2))
        if self.inner > 0:
            zf = z0 + max(self.floor, 0.0) if self.floor >= 0 else -np.inf
            _, t2 = _quad(a, b, ox * ox + oy * oy - self.inner**2)
            z = zat(t2)
            best = np.minimum(best, _valid(t2, (z >= zf) & (z <= z1)))
            if self.floor >= 0:
                with np.errstate(divide='ignore', invalid='ignore'):
                    tf = (zf - o[2]) / dz
                best = np.minimum(best, _valid(tf, rho2(tf) <= self.inner**2))
        return best

    def corners(self):
        a = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        cx, cy, z0 = self.base
        ring = np.stack([cx + self.radius * np.cos(a), cy + self.radius * np.sin(a)], axis=1)
        return np.concatenate([np.c_[ring, np.full(72, z0)], np.c_[ring, np.full(72, z0 + self.height)]])


@dataclass(frozen=True)
class Bowl:
    """Spherical bowl: sphere of ``radius`` centred at the rim (x, y, z_rim), material from the rim
    down to ``depth`` below it (a flat foot there), wall ``wall`` thick; open at the top."""

    rim: tuple
    radius: float
    depth: float
    wall: float = 0.005

    def hit(self, o, d):
        c = np.asarray(self.rim, float)
        oc = o - c
        a = np.einsum('...i,...i', d, d)
        b = 2 * d @ oc
        zr, zb = c[2], c[2] - self.depth
        best = np.full(d.shape[:-1], np.inf)
        t1, _ = _quad(a, b, oc @ oc - self.radius**2)
        z = o[2] + t1 * d[..., 2]
        best = np.minimum(best, _valid(t1, (z <= zr) & (z >= zb)))
        ri = self.radius - self.wall
        _, t2 = _quad(a, b, oc @ oc - ri**2)
        z = o[2] + t2 * d[..., 2]
        zib = zb + self.wall
        best = np.minimum(best, _valid(t2, (z <= zr) & (z >= zib)))
        with np.errstate(divide='ignore', invalid='ignore'):
            for zz, lo, hi in ((zr, ri, self.radius), (zib, 0.0, math.sqrt(max(ri**2 - (zr - zib) ** 2, 0.0))),
                               (zb, 0.0, math.sqrt(max(self.radius**2 - self.depth**2, 0.0)))):
                t = (zz - o[2]) / d[..., 2]
                r2 = (oc[0] + t * d[..., 0]) ** 2 + (oc[1] + t * d[..., 1]) ** 2
                best = np.minimum(best, _valid(t, (r2 <= hi**2) & (r2 >= lo**2)))
        return best

    def corners(self):
        a = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        x, y, zr = self.rim
        rf = math.sqrt(max(self.radius**2 - self.depth**2, 0.0))
        return np.concatenate([np.c_[x + self.radius * np.cos(a), y + self.radius * np.sin(a), np.full(72, zr)],
                               np.c_[x + rf * np.cos(a), y + rf * np.sin(a), np.full(72, zr - self.depth)]])


# ------------------------------------------------------------------------------------ scenes


@dataclass(frozen=True)
class Part:
    shape: object
    thin: bool = False  # a real segmenter tends to miss it (handle, pole, leg)


@dataclass(frozen=True)
class SceneObject:
    name: str
    kind: str  # box, can, mug, bowl, bottle, tool, stacked, bed, table, cabinet, nightstand, dresser, lamp, ...
    parts: tuple
    dark: bool = False  # dark or specular: holes in the depth
    support: str = 'table'  # what it stands on (name of an object, 'table' or 'floor')


@dataclass
class Scene:
    """One rendered scene. Arrays in the optical frame of the camera."""

    kind: str  # 'tabletop' or 'room'
    sensor: str
    intrinsics: Intrinsics
    cam_to_world: np.ndarray  # 3x3, columns = optical x, y, z in the world
    cam_pos: np.ndarray
    objects: list  # SceneObject, measured ones first (label = index + 1)
    background: list  # shapes, labels from len(objects) + 1
    up: np.ndarray = None  # true up (3,) in the optical frame
    depth_true: np.ndarray = None
    label: np.ndarray = None
    depth: np.ndarray = None  # after the sensor model
    masks: dict = field(default_factory=dict)  # name -> degraded HxW bool mask
    truth: dict = field(default_factory=dict)  # name -> dict(size=(w,h,d), center=(3,) optical, ...)
    camera_height: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0

    def frame(self) -> Frame:
        rgb = np.full(self.depth.shape + (3,), 128, np.uint8)
        return Frame(rgb=rgb, depth=self.depth.astype(np.float32), intrinsics=self.intrinsics, stamp_ns=0,
                     frame_id='camera_optical')


@dataclass(frozen=True)
class Sensor:
    name: str
    width: int
    height: int
    fx: float
    noise_a: float  # m
    noise_b: float  # m per m^2
    min_z: float
    max_z: float
    baseline_m: float = 0.0  # stereo/structured light: shadow and disparity quantisation
    quant_px: float = 0.0  # disparity quantisation step (px); 0 = none
    fly_prob: float = 0.5  # share of edge pixels that take a mixed value
    fly_px: int = 1  # edge band half-width
    multipath_m: float = 0.0  # depth excess at a concave corner (ToF)
    multipath_len_m: float = 0.15
    dark_hole_share: float = 0.4  # share of a dark object's pixels lost in blobs


SENSORS = {
    'd435': Sensor('d435', 640, 480, 385.0, 0.0005, 0.0040, 0.2, 6.0, baseline_m=0.050, quant_px=0.08),
    'd415': Sensor('d415', 640, 480, 600.0, 0.0005, 0.0025, 0.3, 6.0, baseline_m=0.055, quant_px=0.08),
    'xtion': Sensor('xtion', 640, 480, 570.0, 0.0010, 0.0020, 0.45, 6.0, baseline_m=0.075, quant_px=0.125,
                    fly_prob=0.6),
    'kinect_v2': Sensor('kinect_v2', 512, 424, 365.0, 0.0015, 0.0012, 0.5, 4.5, fly_prob=0.8, fly_px=2,
                        multipath_m=0.012, multipath_len_m=0.15, dark_hole_share=0.25),
}


def _camera(rng, pitch_deg, roll_deg, yaw):
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    h = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    zup = np.array([0.0, 0.0, 1.0])
    zo = math.cos(p) * h - math.sin(p) * zup
    yo = -(math.sin(p) * h + math.cos(p) * zup)
    xo = np.cross(yo, zo)
    # roll about the optical axis
    xr = math.cos(r) * xo + math.sin(r) * yo
    yr = -math.sin(r) * xo + math.cos(r) * yo
    return np.stack([xr, yr, zo], axis=1)


def _tabletop_objects(rng, table_z, n):
    """n objects on a table top at height table_z, around the origin, not overlapping."""
    objs, placed = [], []  # placed: (x, y, footprint radius)

    def spot(radius):
        for _ in range(60):
            x, y = rng.uniform(-0.3, 0.3), rng.uniform(-0.22, 0.22)
            if all(math.hypot(x - px, y - py) > radius + pr + 0.03 for px, py, pr in placed):
                placed.append((x, y, radius))
                return x, y
        return None

    kinds = ['box', 'can', 'mug', 'bowl', 'bottle', 'tool', 'stacked', 'small', 'box', 'can']
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        dark = bool(rng.random() < 0.25)
        yaw = float(rng.uniform(0, np.pi))
        name = f'{kind}_{i}'
        if kind == 'box':
            s = (rng.uniform(0.05, 0.2), rng.uniform(0.04, 0.1), rng.uniform(0.06, 0.25))
            xy = spot(math.hypot(s[0], s[1]) / 2)
            if xy is None:
                continue
            objs.append(SceneObject(name, kind, (Part(Box((*xy, table_z + s[2] / 2), s, yaw)),), dark))
        elif kind in ('can', 'small'):
            r = rng.uniform(0.03, 0.05) if kind == 'can' else rng.uniform(0.025, 0.05)
            hgt = rng.uniform(0.08, 0.2) if kind == 'can' else rng.uniform(0.015, 0.04)
            xy = spot(r)
            if xy is None:
                continue
            if kind == 'small' and rng.random() < 0.5:  # a flat box (a sponge, a jello box)
                s = (rng.uniform(0.06, 0.12), rng.uniform(0.04, 0.09), hgt)
                objs.append(SceneObject(name, kind, (Part(Box((*xy, table_z + hgt / 2), s, yaw)),), dark))
            else:
                objs.append(SceneObject(name, kind, (Part(Cup((*xy, table_z), r, hgt)),), dark))
        elif kind == 'mug':
            r, hgt = rng.uniform(0.035, 0.05), rng.uniform(0.08, 0.11)
            xy = spot(r + 0.035)
            if xy is None:
                continue
            x, y = xy
            reach, t = rng.uniform(0.025, 0.035), 0.01
            c, s_ = math.cos(yaw), math.sin(yaw)
            hx, hy = x + (r + reach / 2 - 0.003) * c, y + (r + reach / 2 - 0.003) * s_
            gx, gy = x + (r + reach - t / 2) * c, y + (r + reach - t / 2) * s_
            z0, z1 = table_z + 0.25 * hgt, table_z + 0.8 * hgt
            parts = (Part(Cup((x, y, table_z), r, hgt, inner=r - 0.004, floor=0.008)),
                     Part(Box((hx, hy, z1), (reach, 0.012, t), yaw), thin=True),
                     Part(Box((hx, hy, z0), (reach, 0.012, t), yaw), thin=True),
                     Part(Box((gx, gy, (z0 + z1) / 2), (t, 0.012, z1 - z0 + t), yaw), thin=True))
            objs.append(SceneObject(name, kind, parts, dark))
        elif kind == 'bowl':
            r, dep = rng.uniform(0.06, 0.1), 0.0
            dep = r * rng.uniform(0.5, 0.75)
            xy = spot(r)
            if xy is None:
                continue
            objs.append(SceneObject(name, kind, (Part(Bowl((*xy, table_z + dep), r, dep)),), dark))
        elif kind == 'bottle':
            r, hb = rng.uniform(0.03, 0.045), rng.uniform(0.12, 0.2)
            rn, hn = rng.uniform(0.012, 0.018), rng.uniform(0.04, 0.07)
            xy = spot(r)
            if xy is None:
                continue
            x, y = xy
            parts = (Part(Cup((x, y, table_z), r, hb)), Part(Cup((x, y, table_z + hb), 0.6 * r, 0.02)),
                     Part(Cup((x, y, table_z + hb + 0.02), rn, hn)))
            objs.append(SceneObject(name, kind, parts, dark))
        elif kind == 'tool':
            length, wd, hgt = rng.uniform(0.14, 0.25), rng.uniform(0.015, 0.035), rng.uniform(0.012, 0.03)
            xy = spot(length / 2)
            if xy is None:
                continue
            x, y = xy
            c, s_ = math.cos(yaw), math.sin(yaw)
            hl = length * 0.45  # handle: thicker part at one end
            parts = (Part(Box((x - (length - hl) / 2 * c, y - (length - hl) / 2 * s_, table_z + hgt / 2),
                              (hl, wd, hgt), yaw)),
                     Part(Box((x + hl / 2 * c, y + hl / 2 * s_, table_z + 0.004), (length - hl, 0.006, 0.008), yaw),
                          thin=True))
            objs.append(SceneObject(name, kind, parts, dark))
        elif kind == 'stacked':
            s = (rng.uniform(0.1, 0.2), rng.uniform(0.08, 0.14), rng.uniform(0.04, 0.12))
            xy = spot(math.hypot(s[0], s[1]) / 2)
            if xy is None:
                continue
            base_name = f'box_{i}'
            objs.append(SceneObject(base_name, 'box', (Part(Box((*xy, table_z + s[2] / 2), s, yaw)),), dark))
            r, hgt = rng.uniform(0.03, 0.04), rng.uniform(0.07, 0.13)
            objs.append(SceneObject(f'can_on_box_{i}', 'stacked', (Part(Cup((*xy, table_z + s[2]), r, hgt)),),
                                    bool(rng.random() < 0.25), support=base_name))
    return objs


def _room_objects(rng, room):
    """Bedroom furniture against the walls of a room [0, X] x [0, Y]; the camera is near (X, Y)."""
    X, Y = room
    objs = []
    bw, bl, bh = rng.uniform(1.0, 1.6), rng.uniform(1.9, 2.1), rng.uniform(0.4, 0.6)
    bx = rng.uniform(0.6, X - bw - 0.7)
    # bed: mattress with its head at the wall y = 0, a headboard
    objs.append(SceneObject('bed', 'bed', (Part(Box((bx + bw / 2, bl / 2, bh / 2), (bw, bl, bh))),
                                           Part(Box((bx + bw / 2, 0.03, 0.5), (bw, 0.06, 1.0))))))
    nw, nh = rng.uniform(0.4, 0.55), rng.uniform(0.45, 0.65)
    nx = bx - nw / 2 - 0.05
    objs.append(SceneObject('nightstand', 'nightstand', (Part(Box((nx, 0.22, nh / 2), (nw, 0.42, nh))),)))
    # a box on the night stand: its support is the night stand
    s = rng.uniform(0.1, 0.25, 3)
    objs.append(SceneObject('book_box', 'box', (Part(Box((nx, 0.2, nh + s[2] / 2), tuple(s), rng.uniform(0, 1))),),
                            support='nightstand'))
    dw, dh = rng.uniform(0.9, 1.4), rng.uniform(0.75, 1.0)
    dy = rng.uniform(0.6 + dw / 2, Y - dw / 2 - 0.3)
    objs.append(SceneObject('dresser', 'dresser', (Part(Box((0.25, dy, dh / 2), (0.5, dw, dh))),)))
    # lamp in the corner beyond the bed: base, pole, shade
    lx, ly = min(bx + bw + 0.35, X - 0.3), 0.3
    lh = rng.uniform(1.3, 1.7)
    sh, sr = rng.uniform(0.2, 0.3), rng.uniform(0.15, 0.22)
    objs.append(SceneObject('lamp', 'lamp', (Part(Cup((lx, ly, 0.0), 0.13, 0.025)),
                                             Part(Cup((lx, ly, 0.025), 0.012, lh - sh - 0.025), thin=True),
                                             Part(Cup((lx, ly, lh - sh), sr, sh, inner=sr - 0.004, floor=-1.0)))))
    # table with legs in the open, and a cabinet on the wall x = X
    tw, td, th = rng.uniform(0.6, 1.0), rng.uniform(0.5, 0.7), rng.uniform(0.7, 0.78)
    tx, ty = rng.uniform(1.0, X - 1.0), rng.uniform(bl + 0.4, Y - 0.8)
    legs = tuple(Part(Box((tx + sx * (tw / 2 - 0.03), ty + sy * (td / 2 - 0.03), (th - 0.03) / 2),
                          (0.04, 0.04, th - 0.03)), thin=True) for sx in (-1, 1) for sy in (-1, 1))
    objs.append(SceneObject('table', 'table', (Part(Box((tx, ty, th - 0.015), (tw, td, 0.03))),) + legs))
    cw, chh = rng.uniform(0.6, 1.0), rng.uniform(1.6, 2.0)
    objs.append(SceneObject('cabinet', 'cabinet', (Part(Box((X - 0.23, rng.uniform(0.5, 1.2), chh / 2),
                                                            (0.45, cw, chh))),)))
    return [o for o in objs]


def _support_of(obj: SceneObject, objects) -> Optional[str]:
    return obj.support


def make_scene(seed: int, kind: str = 'tabletop', sensor: Optional[str] = None) -> Scene:
    """A random scene of ``kind`` ('tabletop' or 'room'), rendered with its sensor model and masks."""
    rng = np.random.default_rng(seed)
    if kind == 'tabletop':
        sensor = sensor or ('d435', 'd415', 'xtion')[int(rng.integers(3))]
        table_z = float(rng.uniform(0.4, 0.8))
        objects = _tabletop_objects(rng, table_z, int(rng.integers(3, 7)))
        background = [Plane((0, 0, 0), (0, 0, 1)), Box((0, 0, table_z - 0.02), (1.2, 0.9, 0.04)),
                      Plane((0, 1.2, 0), (0, -1, 0)), Plane((-1.6, 0, 0), (1, 0, 0))]
        pitch = float(rng.uniform(10, 80))
        roll = float(rng.uniform(-15, 15))
        yaw = float(rng.uniform(np.pi / 2 - 0.7, np.pi / 2 + 0.7))
        rng_m = float(rng.uniform(0.45, 1.3))  # range to the table centre
        target = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), table_z])
    elif kind == 'room':
        sensor = sensor or 'kinect_v2'
        room = (float(rng.uniform(3.5, 5.0)), float(rng.uniform(3.5, 4.8)))
        objects = _room_objects(rng, room)
        X, Y = room
        background = [Plane((0, 0, 0), (0, 0, 1)), Plane((0, 0, 0), (0, 1, 0)), Plane((0, 0, 0), (1, 0, 0)),
                      Plane((X, Y, 0), (-1, 0, 0)), Plane((X, Y, 0), (0, -1, 0)), Plane((0, 0, 2.6), (0, 0, -1))]
        pitch = float(rng.uniform(10, 60))
        roll = float(rng.uniform(-15, 15))
        target = np.array([rng.uniform(0.8, X - 0.8), rng.uniform(0.6, Y * 0.55), rng.uniform(0.2, 0.7)])
        rng_m = float(rng.uniform(2.0, 3.5))
        yaw = float(rng.uniform(0, 2 * np.pi))  # replaced below: looking at the target
    else:
        raise ValueError(f'unknown scene kind {kind!r}')
    sen = SENSORS[sensor]
    # camera placed at range rng_m from the target along the sampled pitch, heading ``yaw``
    p = math.radians(pitch)
    if kind == 'room':
        X, Y = room
        for _ in range(50):
            yaw = float(rng.uniform(0, 2 * np.pi))
            h = np.array([math.cos(yaw), math.sin(yaw), 0.0])
            pos = target - rng_m * (math.cos(p) * h - math.sin(p) * np.array([0, 0, 1.0]))
            if 0.3 < pos[0] < X - 0.3 and 0.3 < pos[1] < Y - 0.3 and 0.4 <= pos[2] <= 1.6:
                break
        else:
            pos[2] = float(np.clip(pos[2], 0.4, 1.6))
            pos[0], pos[1] = float(np.clip(pos[0], 0.3, X - 0.3)), float(np.clip(pos[1], 0.3, Y - 0.3))
    else:
        h = np.array([math.cos(yaw), math.sin(yaw), 0.0])
        pos = target - rng_m * (math.cos(p) * h - math.sin(p) * np.array([0, 0, 1.0]))
        if pos[2] > 1.6:  # camera heights 0.4-1.6 m: come closer
            pos = target + (pos - target) * (1.6 - target[2]) / (pos[2] - target[2])
    r_wc = _camera(rng, pitch, roll, yaw)
    k = Intrinsics(sen.fx, sen.fx, (sen.width - 1) / 2 + rng.uniform(-4, 4), (sen.height - 1) / 2 + rng.uniform(-4, 4),
                   sen.width, sen.height)
    scene = Scene(kind, sensor, k, r_wc, pos, objects, background, camera_height=float(pos[2]), pitch_deg=pitch,
                  roll_deg=roll)
    scene.up = r_wc.T @ np.array([0.0, 0.0, 1.0])
    render(scene)
    apply_sensor(scene, sen, rng)
    scene.masks = {}
    for i, obj in enumerate(scene.objects):
        scene.masks[obj.name] = degrade_mask(scene, i, rng)
    _truth(scene)
    return scene


# ------------------------------------------------------------------------------------ rendering


def _rays_world(scene: Scene) -> np.ndarray:
    k = scene.intrinsics
    v, u = np.mgrid[0:k.height, 0:k.width].astype(np.float64)
    d = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1)
    return d @ scene.cam_to_world.T


def render(scene: Scene) -> None:
    """Exact depth and labels (0 nothing, i + 1 object i, then the background shapes); per object its
    label of every part (``scene.part_label``: -1 not an object, else the part index)."""
    d = _rays_world(scene)
    o = np.asarray(scene.cam_pos, float)
    best = np.full(d.shape[:2], np.inf)
    label = np.zeros(d.shape[:2], np.int32)
    part = np.full(d.shape[:2], -1, np.int32)
    for i, obj in enumerate(scene.objects):
        for j, pt in enumerate(obj.parts):
            t = pt.shape.hit(o, d)
            closer = t < best
            best[closer] = t[closer]
            label[closer] = i + 1
            part[closer] = j
    for j, shape in enumerate(scene.background):
        t = shape.hit(o, d)
        closer = t < best
        best[closer] = t[closer]
        label[closer] = len(scene.objects) + 1 + j
        part[closer] = -1
    best[~np.isfinite(best)] = np.nan
    scene.depth_true = best
    scene.label = label
    scene.part = part
    scene.world_points = o + d * best[..., None]


def _smooth_noise(rng, shape, sigma_px):
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma_px)
    return n / max(float(n.std()), 1e-9)


def apply_sensor(scene: Scene, sen: Sensor, rng) -> None:
    z = scene.depth_true.copy()
    valid = np.isfinite(z)
    h, w = z.shape
    zf = np.where(valid, z, 0.0)
    # multipath (ToF): too far near concave corners between large planes and what stands on them
    if sen.multipath_m > 0:
        pts = scene.world_points
        n_obj = len(scene.objects)
        excess = np.zeros_like(z)
        for j, shape in enumerate(scene.background):
            if not isinstance(shape, Plane):
                continue
            nrm, p0 = np.asarray(shape.normal, float), np.asarray(shape.point, float)
            dist = np.abs((pts - p0) @ nrm)
            own = scene.label == n_obj + 1 + j
            # a surface at a concave corner with this plane: its points near the plane, not on it
            near = np.nan_to_num(np.exp(-dist / sen.multipath_len_m), nan=0.0) * (~own)
            excess += near
        zf = zf + sen.multipath_m * np.clip(excess, 0, 1.5)
    # axial noise: half white, half correlated over ~2 px
    sigma = sen.noise_a + sen.noise_b * zf**2
    noise = (rng.standard_normal((h, w)) + _smooth_noise(rng, (h, w), 2.0)) / math.sqrt(2.0)
    zn = zf + sigma * noise
    if sen.quant_px > 0:  # disparity quantisation
        fb = sen.fx * sen.baseline_m
        with np.errstate(divide='ignore', invalid='ignore'):
            disp = fb / zn
            zn = fb / (np.round(disp / sen.quant_px) * sen.quant_px)
    # flying pixels: at depth edges a pixel mixes both sides
    zmax = cv2.dilate(np.where(valid, z, 0).astype(np.float32), np.ones((2 * sen.fly_px + 1,) * 2, np.uint8))
    zmin = -cv2.dilate(np.where(valid, -z, -1e3).astype(np.float32), np.ones((2 * sen.fly_px + 1,) * 2, np.uint8))
    edge = valid & (zmax - zmin > 0.03 + 0.02 * zf)
    fly = edge & (rng.random((h, w)) < sen.fly_prob)
    mix = rng.random((h, w))
    zn = np.where(fly, zmin + mix * (zmax - zmin), zn)
    out = np.where(valid, zn, np.nan)
    # stereo shadow: background left of a nearer surface is not seen by the right imager
    if sen.baseline_m > 0:
        fb = sen.fx * sen.baseline_m
        disp = np.where(valid, fb / np.maximum(z, 1e-3), 0.0)
        shadow = np.zeros((h, w), bool)
        max_k = int(min(np.nanmax(disp) - np.nanmin(disp[valid]) if valid.any() else 0, 120))
        for kk in range(1, max_k + 1):
            shifted = np.zeros_like(disp)
            shifted[:, :-kk] = disp[:, kk:]
            shadow |= shifted >= disp + kk
        out[shadow] = np.nan
    # holes on dark / specular objects
    for i, obj in enumerate(scene.objects):
        if not obj.dark:
            continue
        own = scene.label == i + 1
        field_ = _smooth_noise(rng, (h, w), 4.0)
        thr = np.quantile(field_[own], 1.0 - sen.dark_hole_share) if own.any() else 0.0
        out[own & (field_ > thr)] = np.nan
    # a few random dropouts everywhere, out of range
    out[rng.random((h, w)) < 0.005] = np.nan
    out[(out < sen.min_z) | (out > sen.max_z)] = np.nan
    scene.depth = out.astype(np.float32)


# ------------------------------------------------------------------------------------ masks and truth


def degrade_mask(scene: Scene, i: int, rng) -> np.ndarray:
    """The visible mask of object ``i`` as a real segmenter returns it: 2-5 px of bleed into its
    surroundings (a smooth random width along the contour), thin parts partly missing."""
    own = scene.label == i + 1
    if not own.any():
        return own
    obj = scene.objects[i]
    h, w = own.shape
    keep = own.copy()
    thin_parts = [j for j, p in enumerate(obj.parts) if p.thin]
    if thin_parts:
        thin = own & np.isin(scene.part, thin_parts)
        field_ = _smooth_noise(rng, (h, w), 6.0)
        share = rng.uniform(0.2, 0.6)
        if thin.any():
            thr = np.quantile(field_[thin], 1.0 - share)
            keep &= ~(thin & (field_ > thr))
    bleed = rng.uniform(2.0, 5.0)
    width = bleed * (0.5 + 0.5 * (_smooth_noise(rng, (h, w), 15.0) * 0.5 + 0.5).clip(0, 1.5))
    dist = cv2.distanceTransform((~keep).astype(np.uint8), cv2.DIST_L2, 3)
    out = keep | (dist <= width)
    return out


def _truth(scene: Scene) -> None:
    basis = gravity_basis(scene.up)  # rows right, forward, up in the optical frame
    w2o = scene.cam_to_world.T
    n_obj = len(scene.objects)
    h, w = scene.label.shape
    d = _rays_world(scene)
    for i, obj in enumerate(scene.objects):
        pts_w = np.concatenate([p.shape.corners() for p in obj.parts])
        pts_o = (pts_w - scene.cam_pos) @ w2o.T
        g = pts_o @ basis.T
        lo, hi = g.min(axis=0), g.max(axis=0)
        size = hi - lo
        centre_g = (lo + hi) / 2
        own = scene.label == i + 1
        vs, us = np.nonzero(own)
        touches = own.any() and (vs.min() <= 1 or us.min() <= 1 or vs.max() >= h - 2 or us.max() >= w - 2)
        # visible share: this object's pixels among those of its own silhouette
        t = np.min([p.shape.hit(scene.cam_pos, d) for p in obj.parts], axis=0)
        sil = int(np.count_nonzero(np.isfinite(t)))
        scene.truth[obj.name] = {
            'size': np.array([size[0], size[2], size[1]]),  # (width, height, depth)
            'center': basis.T @ centre_g,
            'kind': obj.kind,
            'support': obj.support,
            'pixels': int(own.sum()),
            'visible_share': float(own.sum() / max(sil, 1)),
            'touches_border': bool(touches),
            'label': i + 1,
        }
    del n_obj
