"""Realistic RGB-D scenes with exact ground truth: tabletops and bedrooms, ray cast in numpy.

No MuJoCo and no ROS: every scene is a set of analytic primitives (planes, yawed boxes, vertical
cylinders and cups, bowls) in a world frame whose z is up, seen by a pinhole camera placed at a
sampled height, pitch and roll. The renderer returns the exact depth (the ray parameter of a ray
with optical z = 1 is the depth) and a label image; a sensor model then degrades the depth the way
real cameras do, and a mask model degrades each object's mask the way real segmenters do:

Sensor and mask models: :mod:`.sensors`; primitives: :mod:`.shapes`.

Ground truth per object: its gravity-frame box (min/max of its exact geometry along the true
right/forward/up of the camera, :func:`gravity_basis` of the true up), so (width, height, depth)
as ``core.sizes`` reports them; the true up in the optical frame; the support each object stands on.

:func:`make_scene` is deterministic in its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..core.gravity import gravity_basis
from ..core.types import Frame, Intrinsics

from .sensors import SENSORS, Sensor, apply_sensor, degrade_mask
from .shapes import Box, Bowl, Cup, Plane

__all__ = ['SENSORS', 'Sensor', 'Part', 'SceneObject', 'Scene', 'make_scene', 'render', 'degrade_mask', 'soften_bed']


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


# A camera keeps this clearance (metres) from the walls and from every piece of furniture: a real
# one is not placed inside a cabinet or a lamp shade (it would see nothing but its inside).
_WALL_CLEARANCE_M, _OBJECT_CLEARANCE_M = 0.3, 0.05


def _object_boxes(objects) -> np.ndarray:
    """(K, 2, 3) float64 world axis-aligned (min, max) corners of each object's parts."""
    out = []
    for o in objects:
        c = np.concatenate([np.asarray(part.shape.corners(), float).reshape(-1, 3) for part in o.parts])
        out.append((c.min(axis=0), c.max(axis=0)))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2, 3)


def _camera_free(pos: np.ndarray, room: tuple, boxes: np.ndarray) -> bool:
    """Whether a room camera at ``pos`` (world, metres) is inside the room, at a height of 0.4-1.6 m,
    and clear of every object's box (``boxes`` (K, 2, 3))."""
    X, Y = room
    c = _WALL_CLEARANCE_M
    if not (c < pos[0] < X - c and c < pos[1] < Y - c and 0.4 <= pos[2] <= 1.6):
        return False
    return _clear_of(pos, boxes)


def _clear_of(pos: np.ndarray, boxes: np.ndarray) -> bool:
    """Whether ``pos`` (3,) lies outside every box of ``boxes`` (K, 2, 3) by the object clearance."""
    m = _OBJECT_CLEARANCE_M
    inside = np.all((pos > boxes[:, 0] - m) & (pos < boxes[:, 1] + m), axis=1)
    return not bool(inside.any())


def _closer_free(target: np.ndarray, offset: np.ndarray, room: tuple, boxes: np.ndarray) -> tuple[np.ndarray, float]:
    """A free camera position ``target + s * offset`` turned about the vertical through ``target``
    (the pitch and the view of the target kept), at the largest range share ``s`` and the smallest
    turn that is free. Clipped into the room when none is. Returns (position (3,), turn in radians, to add to the heading)."""
    for s in np.linspace(1.0, 0.3, 15):
        for turn in np.radians(np.arange(0.0, 360.0, 15.0)):
            c, n = math.cos(turn), math.sin(turn)
            rot = np.array([[c, -n, 0.0], [n, c, 0.0], [0.0, 0.0, 1.0]])
            cand = target + s * (rot @ offset)
            if _camera_free(cand, room, boxes):
                return cand, turn
    X, Y = room
    w = _WALL_CLEARANCE_M
    pos = target + offset
    return np.array([np.clip(pos[0], w, X - w), np.clip(pos[1], w, Y - w), np.clip(pos[2], 0.4, 1.6)]), 0.0


def _support_of(obj: SceneObject, objects) -> Optional[str]:
    return obj.support


def make_scene(seed: int, kind: str = 'tabletop', sensor: Optional[str] = None, soft_bed: bool = False) -> Scene:
    """A random scene of ``kind`` ('tabletop' or 'room'), rendered with its sensor model and masks.

    soft_bed: a room's bed top is a duvet (:func:`soften_bed`), not a flat box face; everything
    else, its truth included, is the same scene."""
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
        boxes = _object_boxes(objects)
        for _ in range(50):
            yaw = float(rng.uniform(0, 2 * np.pi))
            h = np.array([math.cos(yaw), math.sin(yaw), 0.0])
            pos = target - rng_m * (math.cos(p) * h - math.sin(p) * np.array([0, 0, 1.0]))
            if _camera_free(pos, room, boxes):
                break
        else:
            # No sampled heading fits the room at this range: the camera goes into the room's
            # bounds (at most 1.6 m up), unless that puts it inside furniture.
            w = _WALL_CLEARANCE_M
            clipped = np.array([np.clip(pos[0], w, X - w), np.clip(pos[1], w, Y - w), np.clip(pos[2], 0.4, 1.6)])
            if _clear_of(clipped, boxes):
                pos = clipped
            else:
                pos, turn = _closer_free(target, pos - target, room, boxes)
                yaw += turn
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
    if soft_bed and kind == 'room':
        soften_bed(scene, np.random.default_rng([seed, 1]))  # its own generator: the scene stays the same
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


def soften_bed(scene: Scene, rng) -> None:
    """The bed's top as a duvet: smooth bumps of 1-3 cm (a few random waves 0.3-0.8 m long) on a
    mattress sagging by 0.5-3 degrees, applied to the exact depth of the pixels that see the top
    (each ray meets the raised surface earlier by its height over the ray's downward slope)."""
    beds = [i for i, o in enumerate(scene.objects) if o.kind == 'bed']
    if not beds:
        return
    i = beds[0]
    top_box = scene.objects[i].parts[0].shape
    top = top_box.center[2] + top_box.size[2] / 2
    wp = scene.world_points
    on = (scene.label == i + 1) & (scene.part == 0) & (np.abs(wp[..., 2] - top) < 1e-3)
    if not on.any():
        return
    x, y = wp[on, 0] - top_box.center[0], wp[on, 1] - top_box.center[1]
    bumps = np.zeros_like(x)
    for _ in range(4):
        wavelength, heading, phase = rng.uniform(0.3, 0.8), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        bumps += np.sin(2 * np.pi * (x * math.cos(heading) + y * math.sin(heading)) / wavelength + phase)
    amp, sag, sag_dir = rng.uniform(0.01, 0.03), math.radians(rng.uniform(0.5, 3.0)), rng.uniform(0, 2 * np.pi)
    h = amp * bumps / 2.0 + math.tan(sag) * (x * math.cos(sag_dir) + y * math.sin(sag_dir))
    rays = _rays_world(scene)[on]  # optical z = 1: the ray parameter is the depth
    t = scene.depth_true[on] - h / np.maximum(-rays[:, 2], 1e-3)
    depth = scene.depth_true.copy()
    depth[on] = t
    scene.depth_true = depth
    points = scene.world_points.copy()
    points[on] = np.asarray(scene.cam_pos, float) + rays * t[:, None]
    scene.world_points = points


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
