"""``spatialvlm sim record``: a scripted Fetch pick-and-place episode as a rosbag2 (mcap)."""

from __future__ import annotations

from pathlib import Path


def record(args) -> int:
    import dataclasses

    from ..sim import record_episode
    from ..sim.noise import NOISE_PRESETS

    noise = NOISE_PRESETS[args.depth_noise]
    if noise is not None:
        noise = dataclasses.replace(noise, seed=args.seed)
    path = record_episode(
        Path(args.out), seed=args.seed, frames=args.frames, width=args.width, height=args.height,
        depth_encoding=args.depth_encoding, noise=noise,
    )
    print(f'wrote {path}')
    return 0


def register(sub) -> None:
    sim = sub.add_parser('sim', help='simulator tools')
    simsub = sim.add_subparsers(dest='sim_command', required=True)
    rec = simsub.add_parser('record', help='record a scripted Fetch pick-and-place episode as a rosbag2 (mcap)')
    rec.add_argument('--seed', type=int, default=0)
    rec.add_argument('--frames', type=int, default=150)
    rec.add_argument('--out', required=True, help='output bag directory (must not exist)')
    rec.add_argument('--width', type=int, default=640)
    rec.add_argument('--height', type=int, default=480)
    rec.add_argument('--depth-encoding', choices=['32FC1', '16UC1'], default='32FC1',
                     help='32FC1 metres (default) or 16UC1 millimetres')
    rec.add_argument('--depth-noise', choices=['none', 'realsense', 'kinect'], default='none',
                     help='sensor noise model on the depth (sim/noise.py; deterministic per seed); default none')
    rec.set_defaults(func=record)
