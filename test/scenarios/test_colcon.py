"""`colcon build` the package into a temp install and check what `ros2 run` / `ros2 launch` look for."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import REPO

ROOT = REPO
COLCON = Path(sys.executable).parent / 'colcon'


@pytest.fixture(scope='module')
def install(tmp_path_factory):
    if not COLCON.exists():
        pytest.skip('colcon is not installed in this environment (requirements/dev.txt installs it)')
    work = tmp_path_factory.mktemp('colcon')
    src = work / 'src' / 'spatialvlm_ros'
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.venv', '.venv-*', '.git', 'runs', 'build', 'install', 'log',
                                                             '*.egg-info', '__pycache__'))
    r = subprocess.run([str(COLCON), 'build', '--base-paths', 'src'], cwd=work, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return work / 'install' / 'spatialvlm_ros'


def test_executables_are_where_ros2_run_looks(install):
    for exe in ('spatial_facts_node', 'reward_node', 'spatialvlm'):
        path = install / 'lib' / 'spatialvlm_ros' / exe
        assert path.is_file() and os.access(path, os.X_OK), f'{path} missing or not executable'


def test_share_has_launch_config_tasks_and_marker(install):
    share = install / 'share' / 'spatialvlm_ros'
    for rel in ('package.xml', 'launch/spatialvlm.launch.xml', 'launch/replay.launch.xml',
                'config/spatial_facts.yaml', 'config/reward.yaml', 'config/tasks/pick_and_place.yaml'):
        assert (share / rel).is_file(), f'{rel} not installed'
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'spatialvlm_ros').is_file()


def test_installed_node_starts_from_the_install_space(install, tmp_path):
    """What `ros2 run spatialvlm_ros reward_node` does: the installed script, config found via ament_index."""
    site = next((install / 'lib').glob('python3*/site-packages'))
    env = dict(os.environ)
    env['PYTHONPATH'] = f'{site}{os.pathsep}{env.get("PYTHONPATH", "")}'
    env['AMENT_PREFIX_PATH'] = f'{install}{os.pathsep}{env.get("AMENT_PREFIX_PATH", "")}'
    env['PYTHONUNBUFFERED'] = '1'
    exe = install / 'lib' / 'spatialvlm_ros' / 'reward_node'
    log = tmp_path / 'node.log'
    with open(log, 'w') as fh:
        proc = subprocess.Popen([sys.executable, str(exe)], env=env, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "task 'pick_and_place'" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = log.read_text()
    assert "task 'pick_and_place': reach -> carry" in text, text
    # it ran the installed copy, not the source tree
    assert str(install) in subprocess.run(
        [sys.executable, '-c', 'import spatialvlm_ros.core.params as p; print(p.config_dir())'],
        env=env, cwd=tmp_path, capture_output=True, text=True).stdout
