"""``spatialvlm ask``: a two-step question about a bag frame answered from its depth facts through the scripted
tool-calling server, with the trace; no frame or a bad argument count is an error."""
from __future__ import annotations

import json
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')

from support.chat_server import ChatServer, tool_call, tool_script  # noqa: E402


def test_ask_answers_a_two_step_question_about_a_bag_frame(tmp_path, capsys):
    pytest.importorskip('mujoco')
    from spatialvlm_ros.cli import main
    from spatialvlm_ros.commands.ask import _bag_frame
    from spatialvlm_ros.core.step import FrameStep
    from spatialvlm_ros.offline import LabelConfig, resolve_task
    from spatialvlm_ros.sim import record_episode

    bag = record_episode(tmp_path / 'demo', seed=0, frames=6, width=320, height=240, progress=False)
    server = ChatServer()
    server.message_fn = tool_script(
        [tool_call('c1', 'measure', relation='distance', a='block', b='target'),
         tool_call('c2', 'size', dimension='width', object='block')],
        lambda r: f"{'yes' if r[0]['value'] > r[1]['value'] else 'no'}: {r[0]['value']} m vs {r[1]['value']} m")
    try:
        code = main(['ask', str(bag), 'Is the block farther from the target than the block is wide?', '--frame', '2',
                     '--base-url', server.url, '--model', 'planner', '--json'])
    finally:
        server.close()
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    # the truth: the same frame's depth facts
    step = FrameStep(LabelConfig(task=resolve_task(None)[1]).pipeline_config(), resolve_task(None)[1])
    result = step(_bag_frame(bag, 2))
    gap = float(np.linalg.norm(result.camera_objects['block'].center - result.camera_objects['target'].center))
    width = float(result.sizes['block'][0])
    assert doc['answer'] == f"{'yes' if gap > width else 'no'}: {round(gap, 4)} m vs {round(width, 4)} m"
    assert [t['tool'] for t in doc['trace']] == ['measure', 'size'] and doc['steps'] == 2
    assert doc['trace'][0]['result']['value'] == pytest.approx(gap, abs=1e-4)


def test_ask_without_a_frame_is_an_error(capsys):
    from spatialvlm_ros.cli import main

    assert main(['ask', 'How far is the mug?', '--model', 'm']) == 1
    assert 'no frame' in capsys.readouterr().err
    assert main(['ask', 'a', 'b', 'c', '--model', 'm']) == 1
    assert 'expected [BAG] QUESTION' in capsys.readouterr().err
