"""Spatial QA synthesis: answers match the measured geometry, seeded and order-independent,
chat-format JSONL and Parquet with images, .npz frames and bags, errors with clear texts."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402
from spatialvlm_ros.offline import OfflineError, RunOptions, resolve_task  # noqa: E402
from spatialvlm_ros.offline.qa import UNITS, QUALITATIVE, QUANTITATIVE, make_questions, pair_geometry  # noqa: E402
from spatialvlm_ros.offline.synth import SynthConfig, synth_dataset  # noqa: E402
from spatialvlm_ros.core.types import ObjectObservation  # noqa: E402


def test_synth_cli(tmp_path, capsys):
    from spatialvlm_ros.cli import main

    assert main(['synth', str(tmp_path / 'none'), '--out', str(tmp_path / 'o')]) == 1
    assert 'ERROR: no input at' in capsys.readouterr().err
