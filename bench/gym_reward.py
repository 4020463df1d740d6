"""The Gymnasium wrapper (spatialvlm_ros.sim.gym_reward.SpatialReward) on FetchPickAndPlace with the
scripted policy: its reward against the privileged-state reward, and steps/s.

    .venv/bin/python bench/gym_reward.py [--seeds 0-7] [--steps 100] [--json-out bench/results/gym_reward.json]

Per seed: Spearman of the wrapper's reward (colour + depth rendered from ``external_camera_0``,
block and target measured, the gripper from the grip site) against the same task evaluated on the
simulator's true positions, over the episode's steps with a reward (all objects found); pooled: over all steps of all seeds.
Throughput: the bare env, the wrapper at 320x240 and 640x480, and a SyncVectorEnv of 2 wrapped envs
(steps of all envs per second), on whatever cores the machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from spatialvlm_ros.offline.score import spearman  # noqa: E402
from spatialvlm_ros.sim.gym_reward import SpatialReward, make_fetch_env  # noqa: E402
from spatialvlm_ros.sim.policy import ScriptedPickPlacePolicy  # noqa: E402


def episode(env, seed: int, steps: int) -> dict:
    policy = ScriptedPickPlacePolicy()
    obs, info = env.reset(seed=seed)
    rewards, truth, success, valid = [], [], [], []
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, reward, _, _, info = env.step(policy.act(obs))
        s = info['spatial']
        rewards.append(reward)
        truth.append(s['privileged_reward'])
        success.append((s['success'], s['privileged_reward'] is not None and s['privileged_reward'] >= 2.0))
        valid.append(s['valid'])
    wall = time.perf_counter() - t0
    # Over the steps with a reward (an object out of view has none; the wrapper then returns missing_reward).
    rewards = [r for r, v in zip(rewards, valid) if v]
    truth = [t for t, v in zip(truth, valid) if v]
    rho = spearman(rewards, truth)
    return {'seed': seed, 'steps': steps, 'valid_steps': int(sum(valid)),
            'spearman_vs_privileged': None if rho is None else round(rho, 5),
            'final_success': bool(success[-1][0]), 'steps_per_s': round(steps / wall, 2),
            'rewards': rewards, 'truth': truth}


def throughput(make, steps: int = 40) -> float:
    env = make()
    policy = ScriptedPickPlacePolicy()
    obs, _ = env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, *_ = env.step(policy.act(obs))
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return round(rate, 2)


def vector_throughput(n: int, steps: int = 30, **kwargs) -> float:
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv([lambda: SpatialReward(make_fetch_env(), 'pick_and_place', **kwargs)
                                     for _ in range(n)])
    envs.reset(seed=list(range(n)))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.uniform(-1, 1, size=(n, 4)).astype(np.float32))
    rate = n * steps / (time.perf_counter() - t0)
    envs.close()
    return round(rate, 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', default='0-7')
    ap.add_argument('--steps', type=int, default=100)
    ap.add_argument('--json-out')
    args = ap.parse_args()
    a, _, b = args.seeds.partition('-')
    seeds = list(range(int(a), int(b or a) + 1))
    env = SpatialReward(make_fetch_env(max_episode_steps=args.steps + 1), 'pick_and_place')
    per_seed = [episode(env, s, args.steps) for s in seeds]
    env.close()
    pooled = spearman([r for e in per_seed for r in e['rewards']], [t for e in per_seed for t in e['truth']])
    for e in per_seed:
        del e['rewards'], e['truth']
    result = {
        'env': 'FetchPickAndPlace-v4 (gymnasium-robotics 1.4.2), camera external_camera_0, scripted policy',
        'task': 'pick_and_place (stacked_progress)', 'image': '320x240', 'cpu_count': os.cpu_count(),
        'spearman_vs_privileged': {'min': min(e['spearman_vs_privileged'] for e in per_seed),
                                   'pooled': round(pooled, 5)},
        'per_seed': per_seed,
        'steps_per_s': {
            'bare_env': throughput(lambda: make_fetch_env(max_episode_steps=1000), 200),
            'wrapped_320x240': throughput(lambda: SpatialReward(make_fetch_env(), 'pick_and_place')),
            'wrapped_640x480': throughput(lambda: SpatialReward(make_fetch_env(), 'pick_and_place',
                                                                width=640, height=480)),
            'wrapped_320x240_with_facts': throughput(lambda: SpatialReward(make_fetch_env(), 'pick_and_place',
                                                                           facts=True)),
            'sync_vector_2x_320x240': vector_throughput(2),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
