"""Shared test set-up: a private, loopback-only ROS graph per test run, and headless MuJoCo."""

import os
import random
from pathlib import Path

# Before anything imports rclpy or mujoco: they read these once.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(101, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_LOCALHOST_ONLY', None)  # it would switch Fast DDS to UDP only, no shared memory
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(Path(__file__).resolve().parents[1] / 'config' / 'fastdds_localhost_shm.xml'))
os.environ.setdefault('MUJOCO_GL', 'egl')
