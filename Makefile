# The two commands: `make demo` and `make test`. Both do the set-up on first use.
VENV := .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: demo test setup clean

$(VENV)/.installed: scripts/setup.sh requirements/dev.txt requirements/robot.txt requirements/ros-pypi.txt requirements/sim.txt setup.py
	bash scripts/setup.sh

setup: $(VENV)/.installed

demo: setup
	$(PY) -m spatialvlm_ros.cli demo

test: setup
	$(PY) -m pytest -q test

clean:
	rm -rf runs build install log
