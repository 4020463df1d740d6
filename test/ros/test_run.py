"""run_node's bounded teardown: a node whose teardown never ends still leaves the process, with
0 when only the teardown of the node's entities was left, 1 when a callback never finished, and
with every stack dumped when the stuck call holds the GIL (faulthandler's backstop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip('rclpy')

from spatialvlm_ros.demo.processes import ros_environment  # noqa: E402
from spatialvlm_ros.ros.run import TEARDOWN_DEADLINE_S  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import re, sys, time
    from rclpy.node import Node
    from spatialvlm_ros.ros.run import run_node

    STUCK = sys.argv[1]

    class Stuck(Node):
        def __init__(self):
            super().__init__('teardown_test')
            self.create_timer(0.05, self._tick)
            self._ticks = 0

        def _tick(self):
            self._ticks += 1
            if self._ticks == 1:
                print('READY', flush=True)
            if STUCK == 'callback' and self._ticks == 2:
                time.sleep(3600)  # a callback that never returns

        def destroy_node(self):
            if STUCK == 'sleep':
                time.sleep(3600)   # blocked, GIL released (a thread join, a DDS wait)
            elif STUCK == 'gil':
                re.match(r'(a+)+$', 'a' * 64 + 'b')  # blocked inside C code that holds the GIL
            super().destroy_node()

    run_node(Stuck)
    print('RETURNED', flush=True)
''')


def _run(stuck: str, tmp_path: Path):
    script = tmp_path / 'stuck.py'
    script.write_text(SCRIPT)
    env = ros_environment(int(os.environ.get('ROS_DOMAIN_ID', '0')))
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    p = subprocess.Popen([sys.executable, str(script), stuck], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    head = []
    for line in p.stdout:  # middleware warnings may come first
        head.append(line)
        if line.strip() == 'READY':
            break
    else:
        pytest.fail(f'{stuck}: the node never started:\n{"".join(head)}')
    time.sleep(0.3 if stuck == 'callback' else 0.0)  # the callback is stuck by now
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        out, _ = p.communicate(timeout=TEARDOWN_DEADLINE_S + 10)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail(f'{stuck}: the process did not end within {TEARDOWN_DEADLINE_S + 10} s')
    return p.returncode, time.monotonic() - t, ''.join(head) + out


def test_a_teardown_stuck_in_the_middleware_ends_with_0_and_says_where(tmp_path):
    rc, seconds, out = _run('sleep', tmp_path)
    assert rc == 0, out
    assert TEARDOWN_DEADLINE_S - 0.5 < seconds < TEARDOWN_DEADLINE_S + 3, seconds
    assert 'teardown did not finish within' in out and 'phase middleware' in out and 'destroy_node' in out, out
    assert 'RETURNED' not in out and 'Traceback' not in out


def test_a_callback_that_never_returns_ends_the_process_with_1(tmp_path):
    rc, seconds, out = _run('callback', tmp_path)
    assert rc == 1, out
    assert seconds < TEARDOWN_DEADLINE_S + 3, seconds
    assert 'phase spin' in out and '_tick' in out, out


def test_a_stuck_call_holding_the_gil_is_dumped_by_faulthandler_and_ends_with_1(tmp_path):
    rc, seconds, out = _run('gil', tmp_path)
    assert rc == 1, out
    assert seconds < TEARDOWN_DEADLINE_S + 3, seconds
    assert 'Timeout (' in out and 'destroy_node' in out, out  # faulthandler's dump names the frame
