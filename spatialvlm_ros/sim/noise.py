"""Realistic depth noise for the simulated camera (structured-light / stereo RGB-D sensors).

:func:`apply_depth_noise` turns MuJoCo's exact depth into what a Kinect/RealSense-class sensor
reports, deterministically per (seed, frame index):

1. axial Gaussian noise with sigma(z) = ``sigma_a_m + sigma_b_per_m * z^2`` (Khoshelham & Elberink
   2012 measured ~1.4 mm at 1 m, growing with z^2), on a ``block_px`` grid (stereo matching and
   structured-light decoding give correlated errors over a few pixels);
2. quantisation of the reported depth to ``quant_m`` (a 16UC1 millimetre stream), or to the
   disparity step of a stereo sensor when ``disparity_step`` > 0;
3. edge dropout: pixels next to a depth discontinuity larger than ``edge_jump_m`` return nothing
   with probability ``edge_dropout`` (shadowing / mixed pixels at silhouettes);
4. random holes with probability ``hole_prob`` per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from ..core.options import check_int, check_number
from .errors import SimError

__all__ = ['DepthNoise', 'apply_depth_noise', 'NOISE_PRESETS']


@dataclass(frozen=True)
class DepthNoise:
    """Parameters of :func:`apply_depth_noise` (metres)."""

    # Axial noise sigma(z) = sigma_a_m + sigma_b_per_m * z^2.
    sigma_a_m: float = 0.0005
    sigma_b_per_m: float = 0.0014
    # Side of the pixel blocks sharing one noise draw (1 = independent pixels).
    block_px: int = 2
    # Reported depth is rounded to this step (0 = off).
    quant_m: float = 0.001
    # Pixels next to a depth jump larger than edge_jump_m drop out with this probability.
    edge_jump_m: float = 0.02
    edge_dropout: float = 0.5
    # Probability of a random hole per pixel.
    hole_prob: float = 0.002
    # Random seed; the frame index is mixed in so every frame differs but a rerun is identical.
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ('sigma_a_m', 'sigma_b_per_m', 'quant_m', 'edge_jump_m'):
            check_number(self, name, allow_zero=True, error=SimError)
        for name in ('edge_dropout', 'hole_prob'):
            check_number(self, name, allow_zero=True, error=SimError, upper=1.0)
        check_int(self, 'block_px', 1, SimError)


# Named noise levels for the command line.
NOISE_PRESETS: dict[str, DepthNoise] = {
    'none': None,  # type: ignore[dict-item]
    'realsense': DepthNoise(),
    'kinect': DepthNoise(sigma_a_m=0.001, sigma_b_per_m=0.0019, block_px=3, quant_m=0.001, hole_prob=0.005),
}


def apply_depth_noise(depth: np.ndarray, noise: DepthNoise, index: int = 0) -> np.ndarray:
    """HxW float32 metres (NaN = invalid) -> a noisy copy (NaN = no return), deterministic per index."""
    rng = np.random.default_rng([int(noise.seed), int(index)])
    h, w = depth.shape
    out = depth.astype(np.float32, copy=True)
    valid = np.isfinite(out)
    b = int(noise.block_px)
    gh, gw = -(-h // b), -(-w // b)
    draw = rng.standard_normal((gh, gw)).astype(np.float32)
    unit = np.repeat(np.repeat(draw, b, axis=0), b, axis=1)[:h, :w]
    z = np.where(valid, out, 0.0)
    out = out + unit * (noise.sigma_a_m + noise.sigma_b_per_m * z * z)
    if noise.quant_m > 0:
        out = np.round(out / noise.quant_m) * noise.quant_m
    # Edge dropout next to depth discontinuities of the *true* depth.
    filled = np.where(valid, depth, np.float32(1e3)).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    jump = (cv2.dilate(filled, kernel) - cv2.erode(filled, kernel)) > noise.edge_jump_m
    drop = jump & (rng.random((h, w)) < noise.edge_dropout)
    drop |= rng.random((h, w)) < noise.hole_prob
    out[drop | ~valid] = np.nan
    return out.astype(np.float32)
