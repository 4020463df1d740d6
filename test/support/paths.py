"""Where the tests find the repository (and the shared data next to it), wherever the test module sits."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # test/support/paths.py -> the repository root
