"""Everything outside ``spatialvlm_ros/ros/`` imports without ROS: rclpy and every ROS message
package are blocked in a fresh interpreter, and every module of the package is imported (found by
walking the package directories, so a new module is checked without being listed here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from support.paths import REPO

ROOT = REPO

# Run in a subprocess: ``python -c GUARD ROOT_PACKAGE [EXCLUDED_SUBPACKAGE ...]``. Prints one JSON
# object: {"imported": [module, ...], "failed": {module: "error"}, "ros_loaded": [module, ...]}.
GUARD = textwrap.dedent(r'''
    import importlib
    import importlib.abc
    import json
    import os
    import pkgutil
    import sys
    import traceback

    BLOCKED = ['rclpy', 'rcl', 'rcl_interfaces', 'rcl_logging_interface', 'rclpy_message_converter', 'rmw',
               'rpyutils', 'rosidl_runtime_py', 'rosidl_parser', 'rosidl_generator_py', 'rosgraph_msgs',
               'std_msgs', 'std_srvs', 'sensor_msgs', 'geometry_msgs', 'visualization_msgs', 'diagnostic_msgs',
               'lifecycle_msgs', 'builtin_interfaces', 'unique_identifier_msgs', 'action_msgs', 'nav_msgs',
               'shape_msgs', 'stereo_msgs', 'trajectory_msgs', 'tf2_msgs', 'tf2_ros', 'tf2_py',
               'tf2_geometry_msgs', 'ament_index_python', 'launch', 'launch_ros', 'message_filters',
               'cv_bridge', 'image_transport', 'rosbag2_py', 'ros2cli', 'type_description_interfaces',
               'service_msgs']
    for name in BLOCKED:
        sys.modules[name] = None  # ``import name`` (and name.anything) now raises ImportError

    class BlockRos(importlib.abc.MetaPathFinder):
        """And any other ROS package by its name: *_msgs, *_srvs, *_interfaces, rcl*, rosidl*, tf2*."""

        def find_spec(self, fullname, path=None, target=None):
            top = fullname.split('.')[0]
            if (top.endswith(('_msgs', '_srvs', '_interfaces')) or top.startswith(('rcl', 'rosidl', 'tf2', 'rmw'))
                    or top in ('ament_index_python', 'launch_ros')):
                raise ModuleNotFoundError(f'{top} is blocked (a ROS package)', name=top)
            return None

    sys.meta_path.insert(0, BlockRos())

    root, excluded = sys.argv[1], set(sys.argv[2:])
    top = importlib.import_module(root.split('.')[0])
    base = os.path.join(os.path.dirname(top.__file__), *root.split('.')[1:])

    def walk(directory, prefix):
        """Module names under ``directory`` from the file system (importing nothing), packages first."""
        for info in sorted(pkgutil.iter_modules([directory]), key=lambda i: i.name):
            name = prefix + info.name
            if name in excluded:
                continue
            yield name
            if info.ispkg:
                yield from walk(os.path.join(directory, info.name), name + '.')

    names = ([root] if root not in excluded else []) + list(walk(base, root + '.'))
    imported, failed = [], {}
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException as err:  # noqa: BLE001 - report every module that does not import
            failed[name] = ''.join(traceback.format_exception_only(type(err), err)).strip()
        else:
            imported.append(name)
    ros_loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED and sys.modules[m] is not None)
    print(json.dumps({'imported': imported, 'failed': failed, 'ros_loaded': ros_loaded}))
''')


def run_guard(root: str, *excluded: str) -> dict:
    proc = subprocess.run([sys.executable, '-c', GUARD, root, *excluded], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**__import__('os').environ, 'PYTHONPATH': str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def package_without_ros():
    return run_guard('spatialvlm_ros', 'spatialvlm_ros.ros')


def test_every_module_outside_ros_imports_without_rclpy(package_without_ros):
    result = package_without_ros
    failed = result['failed']
    assert not failed, 'modules that need ROS (or otherwise do not import) with rclpy blocked:\n' + '\n'.join(
        f'  {name}: {error.splitlines()[-1]}' for name, error in sorted(failed.items()))
    assert result['ros_loaded'] == []


def test_the_guard_walks_the_whole_package_but_not_ros(package_without_ros):
    imported = package_without_ros['imported']
    assert len(imported) > 40, imported  # not trivially green: every subpackage was walked
    assert not [m for m in imported if m == 'spatialvlm_ros.ros' or m.startswith('spatialvlm_ros.ros.')]
    on_disk = {p.relative_to(ROOT).with_suffix('').as_posix().replace('/', '.').removesuffix('.__init__')
               for p in (ROOT / 'spatialvlm_ros').rglob('*.py')
               if 'ros' not in p.relative_to(ROOT / 'spatialvlm_ros').parts[:1]}
    assert on_disk == set(imported) | set(package_without_ros['failed']), on_disk ^ set(imported)
    for module in ('spatialvlm_ros', 'spatialvlm_ros.messages.serialize', 'spatialvlm_ros.messages.markers',
                   'spatialvlm_ros.core.options', 'spatialvlm_ros.demo.processes', 'spatialvlm_ros.cli'):
        assert module in imported


def test_the_guard_catches_a_module_that_imports_rclpy():
    result = run_guard('spatialvlm_ros.ros')
    assert 'spatialvlm_ros.ros.spatial_facts_node' in result['failed'], result
    assert 'rclpy' in result['failed']['spatialvlm_ros.ros.spatial_facts_node']
    assert result['ros_loaded'] == []
