"""The requirement files agree: the Kilted and Jazzy test environments differ only where numpy 1 forces
it, and the robot's ranges (numpy 1, apt ROS) cover the Jazzy pins and are all in the dev environment."""

from pathlib import Path

import pytest

requirements = pytest.importorskip('packaging.requirements')

REQ = Path(__file__).resolve().parents[1] / 'requirements'
# What numpy 1.26 forces in the Jazzy environment (and the ROS wheels, which are per release).
NUMPY1_DIFFERENCES = {'numpy', 'opencv-python-headless', 'pyarrow'}


def _read(name: str, follow: bool = False) -> dict:
    """{normalised name: Requirement} of a requirements file (its -r includes with ``follow``)."""
    out = {}
    for line in (REQ / name).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        if line.startswith('-r '):
            if follow:
                out.update(_read(line[3:].strip(), follow))
            continue
        r = requirements.Requirement(line)
        out[r.name.lower().replace('_', '-')] = r
    return out


def _pin(r) -> str:
    (spec,) = r.specifier
    assert spec.operator == '==', r
    return spec.version


def test_kilted_and_jazzy_pin_the_same_except_numpy1s_constraints():
    kilted, jazzy = _read('dev.txt'), _read('dev-jazzy.txt')
    assert set(kilted) - {'pillow', 'pyyaml', 'tqdm'} == set(jazzy)
    differ = {n for n in jazzy if str(kilted[n].specifier) != str(jazzy[n].specifier)}
    assert differ == NUMPY1_DIFFERENCES, differ
    assert _pin(jazzy['numpy']).startswith('1.26')


def test_the_ros_wheels_are_the_same_packages_for_both_releases():
    kilted, jazzy = _read('ros-pypi.txt'), _read('ros-pypi-jazzy.txt')
    assert set(kilted) == set(jazzy)
    assert _pin(kilted['ros-rclpy']).startswith('9.') and _pin(jazzy['ros-rclpy']).startswith('7.')


def test_the_jazzy_pins_are_within_the_robot_ranges():
    robot, jazzy = _read('robot.txt'), _read('dev-jazzy.txt', follow=True)
    for name, r in robot.items():
        if name in jazzy and jazzy[name].specifier:
            pins = [s.version for s in jazzy[name].specifier if s.operator == '==']
            assert all(r.specifier.contains(v) for v in pins), (name, str(r.specifier), pins)


def test_the_robot_ranges_keep_numpy_1():
    robot = _read('robot.txt')
    assert robot['numpy'].specifier.contains('1.26.4')
    # The releases of these that need numpy 2 (pip would upgrade numpy for opencv; pyarrow 26 says nothing
    # in its metadata and fails at import) are excluded.
    assert not robot['opencv-python-headless'].specifier.contains('4.12.0.88')
    assert not robot['pyarrow'].specifier.contains('26.0.0')


def test_every_robot_package_is_in_the_kilted_environment():
    robot, kilted = _read('robot.txt'), _read('dev.txt', follow=True)
    assert set(robot) <= set(kilted), set(robot) - set(kilted)
