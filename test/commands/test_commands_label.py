"""Offline labelling of rosbags: outputs against ground truth and the live path, parallel and
resumed runs identical to a plain one, broken bags reported with clear errors."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import json  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
pytest.importorskip('rosbags')
pa = pytest.importorskip('pyarrow')
import pyarrow.parquet as pq  # noqa: E402
from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
from spatialvlm_ros.core.types import ns_to_stamp  # noqa: E402
from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline import chunks as chunks_mod  # noqa: E402
from spatialvlm_ros.messages.bag import typestore_for  # noqa: E402


def test_cli_prints_error_and_exits_non_zero(tmp_path, capsys):
    from spatialvlm_ros.cli import main

    assert main(['label', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'o')]) == 1
    assert 'ERROR: no bag at' in capsys.readouterr().err
    (tmp_path / 'notabag').mkdir()
    assert main(['label', str(tmp_path / 'notabag'), '--out', str(tmp_path / 'o')]) == 1
    assert 'is not a rosbag2 directory (no metadata.yaml)' in capsys.readouterr().err
