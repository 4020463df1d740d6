"""Sensor and segmenter models for the realistic scenes (:mod:`.realistic`): how real depth cameras degrade
exact depth, and how real segmenters degrade exact masks.

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
The functions take a :class:`~.realistic.Scene` and fill its ``depth`` / return a mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .shapes import Plane

__all__ = ['SENSORS', 'Sensor', 'apply_sensor', 'degrade_mask']


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


def _smooth_noise(rng, shape, sigma_px):
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma_px)
    return n / max(float(n.std()), 1e-9)


def apply_sensor(scene, sen: Sensor, rng) -> None:
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


def degrade_mask(scene, i: int, rng) -> np.ndarray:
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
