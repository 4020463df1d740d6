"""Shared test set-up: a private, loopback-only ROS graph per test run, and headless MuJoCo."""

import os
import random
from pathlib import Path

import pytest

# Before anything imports rclpy or mujoco: they read these once.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(101, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_LOCALHOST_ONLY', None)  # it would switch Fast DDS to UDP only, no shared memory
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(Path(__file__).resolve().parents[1] / 'config' / 'fastdds_localhost_shm.xml'))
os.environ.setdefault('MUJOCO_GL', 'egl')



@pytest.fixture
def ros_context():
    """A private rclpy context for nodes built in the test process (on this run's private graph)."""
    rclpy = pytest.importorskip('rclpy')
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)
