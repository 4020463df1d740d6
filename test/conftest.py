"""Shared test set-up: a private, loopback-only ROS graph per test run, and headless MuJoCo."""

import os
import random
import sys
from pathlib import Path

import pytest

# test/ on sys.path, so every test module (at any depth) imports the shared helpers as ``support.*``
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Before anything imports rclpy or mujoco: they read these once.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(101, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_LOCALHOST_ONLY', None)  # it would switch Fast DDS to UDP only, no shared memory
# The profiles file (shared memory), under the name(s) this Fast DDS reads, as the demo sets them.
from spatialvlm_ros.demo.processes import ROS_ENV_KEYS, ros_environment  # noqa: E402 - imports no rclpy

os.environ.update({k: v for k, v in ros_environment(int(os.environ['ROS_DOMAIN_ID'])).items() if k in ROS_ENV_KEYS})
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


# -- the DDS harness (test/support/harness.py): node processes and a test node, torn down cleanly ---------

_RUNNING: list = []  # NodeProcesses of the fixtures now set up: their logs go to a failing test


@pytest.fixture(scope='module')
def node_processes(request, tmp_path_factory):
    """Start node processes for this module (``.start(module, name, remaps, params)``,
    ``.start_pair(...)``); terminated at the module's end, their logs attached to any test that fails
    meanwhile (setup included)."""
    pytest.importorskip('rclpy')
    from support.harness import NodeProcesses

    procs = NodeProcesses(tmp_path_factory.mktemp(request.module.__name__.rsplit('.', 1)[-1]))
    _RUNNING.append(procs)

    def finish():
        try:
            procs.close()
        finally:
            _RUNNING.remove(procs)

    request.addfinalizer(finish)
    return procs


@pytest.fixture(scope='module')
def ros_harness(request):
    """``ros_harness(name)`` -> a :class:`support.harness.Harness` (or ``ros_harness(name, cls=Subclass)``)
    in its own rclpy context; closed at the module's end (node destroyed, executor shut down)."""
    pytest.importorskip('rclpy')
    from support.harness import Harness

    made = []

    def make(name='test_harness', cls=None, **kwargs):
        h = (cls or Harness)(name, **kwargs)
        made.append(h)
        return h

    def finish():
        for h in reversed(made):
            h.close()

    request.addfinalizer(finish)
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _RUNNING:
        from support.harness import LOG_TAIL_CHARS

        for procs in _RUNNING:
            for name, text in procs.logs().items():
                report.sections.append((f'node log {name}.log ({report.when})', text[-LOG_TAIL_CHARS:]))


@pytest.fixture(scope='session')
def real_server(tmp_path_factory):
    """A real OpenAI-compatible server, ``transformers serve`` with a tiny random LLaVA (see
    support/real_server.py), shared by the tests of the backend, ``eval`` and the node."""
    from support.real_server import RealServer, available

    why = available()
    if why:
        pytest.skip(why)
    server = RealServer(tmp_path_factory.mktemp('real_server'))
    yield server
    server.stop()
