"""Analytic primitives ray cast in numpy for the realistic scenes (:mod:`.realistic`): planes, yawed boxes,
vertical cylinders and cups (with a handle), bowls. Each has ``hit(origin, directions)`` -> (N,) ray
parameter (inf where missed) and ``corners()`` -> points bounding its exact geometry (world frame, z up,
metres)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ['Plane', 'Box', 'Cup', 'Bowl']


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
