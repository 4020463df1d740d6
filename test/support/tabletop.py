"""A synthetic tabletop image with analytic masks, shared by the colour and mask grounder tests."""
from __future__ import annotations
import numpy as np
from spatialvlm_ros.core.types import Frame, Intrinsics


H, W = 480, 640


K = Intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=W, height=H)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def tabletop(seed: int = 0):
    """A MuJoCo-like render: shaded red block, blue sphere with a highlight, yellow fingers, grey table.

    Returns (frame, {name: analytic HxW bool mask}).
    """
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    # light grey table with a lighting gradient and sensor noise
    img = np.empty((H, W, 3))
    img[:] = (200 + 30 * (v / H))[..., None]
    masks = {}
    # red block: a front face and a brighter top face (different shading, same hue)
    top = (u >= 140) & (u < 240) & (v >= 250) & (v < 280)
    front = (u >= 140) & (u < 240) & (v >= 280) & (v < 360)
    img[top] = (230, 30, 25)
    img[front] = np.array([230, 30, 25]) * (0.55 + 0.2 * (u[front] - 140) / 100)[:, None]
    masks['block'] = top | front
    # blue sphere with Lambertian shading and a specular highlight
    r2 = ((u - 430) ** 2 + (v - 200) ** 2) / 55.0**2
    sphere = r2 <= 1
    shade = np.sqrt(np.clip(1 - r2, 0, 1)) * 0.6 + 0.35
    blue = np.array([25, 45, 210])[None] * shade[sphere][:, None]
    spot = np.exp(-(((u - 415) ** 2 + (v - 185) ** 2) / 12.0**2))[sphere][:, None] * 0.35
    img[sphere] = blue * (1 - spot) + 255 * spot
    masks['target'] = sphere
    # two yellow gripper fingers
    fingers = ((u >= 300) & (u < 318) | (u >= 342) & (u < 360)) & (v >= 60) & (v < 150)
    img[fingers] = (225, 200, 30)
    masks['gripper'] = fingers
    img += rng.normal(0, 3, img.shape)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    depth = np.full((H, W), 0.8, np.float32)
    return Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=1), masks
