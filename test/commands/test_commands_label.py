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


def test_cli_lerobot_flag_writes_the_dataset(tmp_path, capsys):
    import json

    from spatialvlm_ros.cli import main
    from support.bags import write_camera_bag

    bag = write_camera_bag(tmp_path / 'cam', frames=3)
    assert main(['label', str(bag), '--out', str(tmp_path / 'o'), '--workers', '1', '--no-progress', '--no-bag',
                 '--lerobot', str(tmp_path / 'lr')]) == 0
    assert 'LeRobot v3.0: 1 episode(s), 3 frames' in capsys.readouterr().out
    info = json.loads((tmp_path / 'lr' / 'meta' / 'info.json').read_text())
    assert info['total_frames'] == 3 and 'next.reward' in info['features']


def test_the_labeller_comes_from_the_task_unless_given():
    """A task's ``labeller:`` entry picks the labeller and its options; --labeller overrides it."""
    import argparse

    from spatialvlm_ros.commands.label import _labeller_choice
    from spatialvlm_ros.core.task import parse_task

    raw = {'objects': {'a': 'red a', 'b': 'blue b'}, 'stages': [{'distance': ['a', 'b']}],
           'labeller': {'name': 'vlm', 'every_k': 5, 'backend': 'openai'}}
    task = parse_task(raw)
    assert task.labeller == {'name': 'vlm', 'every_k': 5, 'backend': 'openai'}
    ns = argparse.Namespace
    assert _labeller_choice(task, ns(labeller=None, labeller_option=['every_k=3'])) == {
        'labeller': 'vlm', 'labeller_options': {'every_k': 3, 'backend': 'openai'}}
    assert _labeller_choice(task, ns(labeller='geometric', labeller_option=[])) == {
        'labeller': 'geometric', 'labeller_options': {}}
    plain = parse_task({k: v for k, v in raw.items() if k != 'labeller'})
    assert plain.labeller is None
    assert _labeller_choice(plain, ns(labeller=None, labeller_option=[]))['labeller'] == 'geometric'
