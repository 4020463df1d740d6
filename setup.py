"""ament_python package: nodes and the ``spatialvlm`` CLI as console scripts."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'spatialvlm_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.xml')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml') + glob('config/*.xml')),
        (f'share/{PACKAGE}/config/tasks', glob('config/tasks/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='spatialvlm_ros maintainers',
    maintainer_email='maintainers@spatialvlm-ros.dev',
    description='Metric spatial facts and dense rewards from RGB-D for ROS 2.',
    license='Apache-2.0',
    python_requires='>=3.10',
    entry_points={
        'console_scripts': [
            'spatial_facts_node = spatialvlm_ros.ros.spatial_facts_node:main',
            'reward_node = spatialvlm_ros.ros.reward_node:main',
            'vlm_reward_node = spatialvlm_ros.ros.vlm_reward_node:main',
            'spatialvlm = spatialvlm_ros.cli:main',
        ],
    },
)
