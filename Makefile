# The two commands: `make demo` and `make test`. Both do the set-up on first use.
# `make test` runs the whole suite twice: ROS 2 Kilted (.venv, numpy 2), then ROS 2 Jazzy (.venv-jazzy,
# numpy 1.26); `make test-kilted` / `make test-jazzy` run one.
VENV := .venv
PY := $(VENV)/bin/python
VENV_JAZZY := .venv-jazzy
PY_JAZZY := $(VENV_JAZZY)/bin/python
export MUJOCO_GL ?= egl

.PHONY: demo test test-kilted test-jazzy setup setup-jazzy clean

$(VENV)/.installed: scripts/setup.sh requirements/dev.txt requirements/robot.txt requirements/ros-pypi.txt requirements/sim.txt setup.py
	bash scripts/setup.sh kilted

$(VENV_JAZZY)/.installed: scripts/setup.sh requirements/dev-jazzy.txt requirements/robot.txt requirements/ros-pypi-jazzy.txt requirements/sim.txt setup.py
	bash scripts/setup.sh jazzy

setup: $(VENV)/.installed

setup-jazzy: $(VENV_JAZZY)/.installed

demo: setup
	$(PY) -m spatialvlm_ros.cli demo

# Both suites run even when the first fails; the exit status is non-zero if either failed.
test: setup setup-jazzy
	@status=0; \
	echo "== ROS 2 Kilted ($(VENV)) =="; $(PY) -m pytest -q test || status=1; \
	echo "== ROS 2 Jazzy ($(VENV_JAZZY)) =="; $(PY_JAZZY) -m pytest -q test || status=1; \
	exit $$status

test-kilted: setup
	$(PY) -m pytest -q test

test-jazzy: setup-jazzy
	$(PY_JAZZY) -m pytest -q test

clean:
	rm -rf runs build install log
