"""``spatialvlm label``: errors are printed and exit non-zero."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import pytest  # noqa: E402
pytest.importorskip('rosbags')
pa = pytest.importorskip('pyarrow')


def test_cli_prints_error_and_exits_non_zero(tmp_path, capsys):
    from spatialvlm_ros.cli import main

    assert main(['label', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'o')]) == 1
    assert 'ERROR: no bag at' in capsys.readouterr().err
    (tmp_path / 'notabag').mkdir()
    assert main(['label', str(tmp_path / 'notabag'), '--out', str(tmp_path / 'o')]) == 1
    assert 'is neither a rosbag2 directory (no metadata.yaml' in capsys.readouterr().err
