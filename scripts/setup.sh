#!/usr/bin/env bash
# One-time set-up for `make demo` / `make test`: Debian packages (as root) and a venv with pinned deps.
#   bash scripts/setup.sh          .venv       ROS 2 Kilted wheels, numpy 2  (requirements/dev.txt)
#   bash scripts/setup.sh jazzy    .venv-jazzy ROS 2 Jazzy wheels, numpy 1.26 (requirements/dev-jazzy.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-kilted}" in
  kilted) VENV=.venv; REQS=requirements/dev.txt ;;
  jazzy) VENV=.venv-jazzy; REQS=requirements/dev-jazzy.txt ;;
  *) echo "usage: $0 [kilted|jazzy]" >&2; exit 2 ;;
esac

APT_PACKAGES=(python3-venv libusb-1.0-0 libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglib2.0-0)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "ERROR: missing Debian packages ${missing[*]}; install them as root and run again" >&2
    exit 1
  fi
fi

# This machine's pip config may name local mirrors that do not exist; their warnings are noise.
pip_quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }

PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip_quiet "$VENV/bin/python" -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
pip_quiet "$VENV/bin/python" -m pip install -q torch==2.13.0
pip_quiet "$VENV/bin/python" -m pip install -q -r "$REQS"
pip_quiet "$VENV/bin/python" -m pip install -q --no-deps -e .
touch "$VENV/.installed"
echo "Set-up done: $VENV ready (${1:-kilted})"
