"""Offline tools, ROS-free: label rosbags with facts and rewards, synthesise spatial QA.

Reads and writes bags with ``rosbags`` (no ROS install); perception, pairing and reward are the
live nodes' own core code.
"""

from .config import LabelConfig, load_params, resolve_task
from .errors import OfflineError
from .runner import RunOptions, label_bags

__all__ = ['LabelConfig', 'OfflineError', 'RunOptions', 'label_bags', 'load_params', 'resolve_task']
