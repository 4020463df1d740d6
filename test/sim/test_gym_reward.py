"""sim.gym_reward.SpatialReward: the wrapped FetchPickAndPlace's reward through the per-frame step,
against the privileged-state reward, and under gymnasium.vector.SyncVectorEnv."""

import numpy as np
import pytest

pytest.importorskip('mujoco')
pytest.importorskip('gymnasium_robotics')

from spatialvlm_ros.core.errors import SpatialVLMError  # noqa: E402
from spatialvlm_ros.offline.score import spearman  # noqa: E402
from spatialvlm_ros.sim.gym_reward import SpatialReward, make_fetch_env  # noqa: E402
from spatialvlm_ros.sim.policy import ScriptedPickPlacePolicy  # noqa: E402


@pytest.fixture(scope='module')
def rollout():
    env = SpatialReward(make_fetch_env(max_episode_steps=200), 'pick_and_place', facts=True)
    policy = ScriptedPickPlacePolicy()
    obs, info = env.reset(seed=0)
    steps = [(None, info)]
    for _ in range(70):
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        steps.append((reward, info))
    env.close()
    return steps


def test_reset_and_step_infos_carry_the_spatial_detail(rollout):
    first = rollout[0][1]['spatial']
    assert first['valid'] and first['stage_name'] == 'reach' and first['env_reward'] is None
    reward, info = rollout[-1]
    s = info['spatial']
    assert set(s['distances']) == {'gripper-block', 'block-target'}
    assert s['form'] == 'stacked_progress' and isinstance(s['env_reward'], float)
    assert reward == pytest.approx(s['reward'])
    assert s['facts'] and {'type', 'subject', 'object', 'value'} <= set(s['facts'][0])


def test_reward_tracks_the_privileged_reward(rollout):
    pairs = [(r, i['spatial']['privileged_reward']) for r, i in rollout[1:] if i['spatial']['valid']]
    assert len(pairs) == 70
    rho = spearman(*zip(*pairs))
    assert rho >= 0.99
    stages = [i['spatial']['stage'] for _, i in rollout[1:]]
    assert stages[0] == 0 and stages[-1] == 1


def test_terminate_on_success_and_missing_reward():
    env = SpatialReward(make_fetch_env(), 'pick_and_place', terminate_on_success=True, width=160, height=120)
    policy = ScriptedPickPlacePolicy()
    obs, _ = env.reset(seed=0)
    terminated, n = False, 0
    while not terminated and n < 90:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        n += 1
    env.close()
    assert terminated and info['spatial']['done'] and reward == pytest.approx(2.0, abs=1e-6)


def test_sync_vector_env():
    gym = pytest.importorskip('gymnasium')
    envs = gym.vector.SyncVectorEnv([lambda: SpatialReward(make_fetch_env(), 'pick_and_place', width=160,
                                                           height=120) for _ in range(2)])
    obs, info = envs.reset(seed=[0, 1])
    obs, reward, terminated, truncated, info = envs.step(np.zeros((2, 4), np.float32))
    envs.close()
    assert reward.shape == (2,) and np.isfinite(reward).all()
    assert info['spatial']['distances']['gripper-block'].shape == (2,)
    assert info['spatial']['valid'].all()


def test_known_objects_must_be_task_objects():
    with pytest.raises(SpatialVLMError, match='not among the task objects'):
        SpatialReward(make_fetch_env(), 'pick_and_place', known={'cup': 'robot0:grip'})
