"""spatialvlm_ros: metric spatial facts and dense rewards from RGB-D, for ROS 2.

``spatialvlm_ros.core`` is ROS-free (geometry, grounding, facts, reward); ``spatialvlm_ros.ros``
holds the thin nodes; ``spatialvlm_ros.cli`` the ``spatialvlm`` command.
"""

__version__ = '0.1.0'
__all__ = ['__version__']
