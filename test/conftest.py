"""Shared test set-up: a private, loopback-only ROS graph per test run, and headless MuJoCo."""

import os
import random

# Before anything imports rclpy or mujoco: they read these once.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(101, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'
os.environ.setdefault('MUJOCO_GL', 'egl')
