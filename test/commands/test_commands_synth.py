"""``spatialvlm synth``: errors are printed and exit non-zero."""
from __future__ import annotations
import os
os.environ.setdefault('MUJOCO_GL', 'egl')
import pytest  # noqa: E402
pytest.importorskip('rosbags')
pytest.importorskip('pyarrow')


def test_synth_cli(tmp_path, capsys):
    from spatialvlm_ros.cli import main

    assert main(['synth', str(tmp_path / 'none'), '--out', str(tmp_path / 'o')]) == 1
    assert 'ERROR: no input at' in capsys.readouterr().err
