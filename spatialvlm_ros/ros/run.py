"""The one ``main`` body every node shares: init, spin, and a clean shutdown on Ctrl-C, SIGTERM or
a lifecycle shutdown, with exit code 0 and no traceback.

How shutdown goes (``ros2 launch`` sends SIGINT to every node, then SIGTERM after a timeout;
``ros2 run`` forwards Ctrl-C's SIGINT):

1. SIGINT and SIGTERM only *request* a stop (:class:`StopRequest`): rclpy's own handlers are not
   installed, since they shut the context down from another thread at once, under callbacks still
   running (their publish then fails: "publisher's context is invalid"), and Python's default
   KeyboardInterrupt can surface anywhere, even inside rclpy's C++ ``take_message``, where pybind11
   turns it into ``RuntimeError: Unable to convert call argument '0' to Python object``.
2. The spin loop (``spin_once`` with a short timeout) sees the request, or a lifecycle node that
   reached *finalized* (``ros2 lifecycle set NODE shutdown``: nothing is left for the process to
   do, so it ends with 0 like on Ctrl-C), and stops taking work.
3. The executor is shut down (its running callbacks finish), the node is destroyed (it stops its
   own threads, which must not publish from then on), and only then the context.

A signal before spinning started (a model still loading) stops the start-up with KeyboardInterrupt,
ended quietly too. An error raised once a stop was requested or the context is gone is part of the
shutdown, logged at debug level; any other error is a crash and propagates (exit code 1).
``try_shutdown`` works on Humble, Jazzy and Kilted alike.

Teardown is bounded: a stuck middleware teardown (rare; seen once in CI on Jazzy's Fast DDS,
with three nodes signalled together) must not keep the process until ``ros2 launch`` escalates to
SIGTERM and SIGKILL. If the teardown has not finished :data:`TEARDOWN_DEADLINE_S` after the signal (or after it
began, on a lifecycle shutdown),
a watchdog prints where it is stuck and ends the process: with 0 when only the middleware was left
(the executor is shut down, every callback finished: nothing of the node's work is lost), with 1
otherwise. Should the stuck call hold the GIL, :mod:`faulthandler` dumps every stack and exits with
1 half a second later.

``kill -USR1 PID`` prints every thread's Python stack to the node's stderr (:mod:`faulthandler`):
where a node that does not answer is stuck, without stopping it.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import traceback

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

__all__ = ['run_node', 'StopRequest', 'SPIN_PERIOD_S', 'TEARDOWN_DEADLINE_S']

logger = logging.getLogger(__name__)

# How often the spin loop looks at the stop request (seconds): the longest delay from a signal
# to the start of shutdown when no message arrives meanwhile.
SPIN_PERIOD_S = 0.1

# Longest teardown (seconds) before the watchdog ends the process: above the node's own bounded
# steps (the VLM node joins its worker for up to 2 s), below ros2 launch's 5 s SIGTERM escalation.
TEARDOWN_DEADLINE_S = 4.0

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """SIGINT and SIGTERM set :attr:`signal_name`; before :meth:`spinning` they also raise
    KeyboardInterrupt (nothing runs yet that a stop could tear). Used as a context manager, it
    restores the previous handlers on exit. Outside the main thread it installs nothing."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._spinning = False
        self._saved: dict = {}
        self.watchdog: _TeardownWatchdog | None = None

    def arm(self) -> '_TeardownWatchdog':
        """Start the teardown watchdog (once; see the module doc)."""
        if self.watchdog is None:
            self.watchdog = _TeardownWatchdog(TEARDOWN_DEADLINE_S)
        return self.watchdog

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def spinning(self) -> None:
        self._spinning = True

    def _handler(self, signum, frame) -> None:  # noqa: ARG002 - the signal module's signature
        first = self.signal_name is None
        if first:
            self.signal_name = signal.Signals(signum).name
        if first and not self._spinning:
            raise KeyboardInterrupt
        if first:
            self.arm()  # from the signal on: a callback that never returns must not keep the process
        # A repeated signal while shutting down changes nothing: shutdown is bounded (threads are
        # joined with timeouts), and ros2 launch escalates to SIGKILL if it ever is not.

    def __enter__(self) -> 'StopRequest':
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handler)
            if hasattr(signal, 'SIGUSR1'):
                faulthandler.register(signal.SIGUSR1, all_threads=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved and hasattr(signal, 'SIGUSR1'):
            faulthandler.unregister(signal.SIGUSR1)
        for sig, old in self._saved.items():
            signal.signal(sig, old)
        self._saved.clear()


def _shutting_down(stop: StopRequest, context) -> bool:
    return stop.requested or not context.ok()


def _finalized(node) -> bool:
    """A lifecycle node (:class:`.lifecycle.ModelNode`) after its shutdown transition."""
    return getattr(node, 'lifecycle_state', None) == 'finalized'


def run_node(node_factory, args=None, executor_factory=None) -> None:
    """Create the node with ``node_factory()`` and spin it (in ``executor_factory()`` if given:
    executors need an initialised context) until SIGINT, SIGTERM, an external shutdown or the
    node's finalized state; always destroys it (see the module doc)."""
    with StopRequest() as stop:
        context = rclpy.get_default_context()
        node = executor = None
        try:
            # Our handlers are in place before init: a signal from here on is only a request.
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
            node = node_factory()
            executor = executor_factory() if executor_factory is not None else SingleThreadedExecutor()
            executor.add_node(node)
            stop.spinning()
            while not stop.requested and not _finalized(node) and context.ok():
                executor.spin_once(timeout_sec=SPIN_PERIOD_S)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except Exception as err:
            if not _shutting_down(stop, context):
                raise
            # Only now: the context is being torn down under a callback, an error of the shutdown.
            logger.debug('during shutdown: %s: %s', type(err).__name__, err)
        finally:
            _shutdown(node, executor, stop, context)


class _TeardownWatchdog:
    """Ends the process if the teardown outlives ``deadline_s`` from the stop (see the module doc).
    ``phase`` names the step under way: 'spin' (a callback still running), 'executor' (shutting
    it down), 'middleware' (destroying the node and the context)."""

    def __init__(self, deadline_s: float) -> None:
        self.phase = 'spin'
        self.deadline_s = float(deadline_s)
        self._main = threading.main_thread().ident
        self._timer = threading.Timer(self.deadline_s, self._expired)
        self._timer.daemon = True
        self._timer.start()
        # The backstop for a stuck call that holds the GIL (then the timer above cannot run).
        faulthandler.dump_traceback_later(self.deadline_s + 0.5, exit=True)

    def cancel(self) -> None:
        self._timer.cancel()
        faulthandler.cancel_dump_traceback_later()

    def _expired(self) -> None:
        frame = sys._current_frames().get(self._main)
        where = ' <- '.join(f'{os.path.basename(f.filename)}:{f.lineno} {f.name}'
                            for f in reversed(traceback.extract_stack(frame)[-4:])) if frame else 'unknown'
        code = 0 if self.phase == 'middleware' else 1
        level = 'WARN' if code == 0 else 'FATAL'
        sys.stderr.write(f'[{level}] [spatialvlm_ros.run]: teardown did not finish within {self.deadline_s:g} s '
                         f'(phase {self.phase}: {where}); ending the process with {code}\n')
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)


def _shutdown(node, executor, stop: StopRequest, context) -> None:
    stop.spinning()  # from here a signal never raises
    watchdog = stop.arm()
    watchdog.phase = 'executor'
    try:
        if node is not None and context.ok():
            if stop.requested:
                node.get_logger().info(f'{stop.signal_name}: shutting down')
            elif _finalized(node):
                node.get_logger().info('finalized (lifecycle shutdown): exiting')
        if executor is not None:
            executor.shutdown(timeout_sec=TEARDOWN_DEADLINE_S - 1.0)  # running callbacks finish first
        watchdog.phase = 'middleware'
        if node is not None:
            node.destroy_node()
    except Exception as err:
        if not _shutting_down(stop, context):
            raise
        logger.debug('during shutdown: %s: %s', type(err).__name__, err)
    finally:
        try:
            rclpy.try_shutdown()
        finally:
            watchdog.cancel()
