"""Simulated RGB-D source: a scripted Fetch pick-and-place episode with ground truth.

Importing this package needs only numpy; mujoco and gymnasium-robotics are imported when a
scene is created (``pip install -r requirements/sim.txt``), rosbags when a bag is written
or read.
"""

from .policy import ScriptedPickPlacePolicy, iter_episode
from .record import read_ground_truth, record_episode
from .scene import FetchPickPlaceScene, SimFrame

__all__ = [
    'FetchPickPlaceScene',
    'ScriptedPickPlacePolicy',
    'SimFrame',
    'iter_episode',
    'read_ground_truth',
    'record_episode',
]
