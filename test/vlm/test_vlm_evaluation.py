"""``spatialvlm eval`` on a simulator bag: the geometric backend must score near-perfectly
(an end-to-end check of questions, answers, parsing and metrics)."""

import json
import random

import pytest

from spatialvlm_ros.vlm import VLMError
from spatialvlm_ros.vlm.evaluation import EvalConfig, EvalItem, format_table, questions_from_ground_truth, score


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    return record_episode(tmp_path_factory.mktemp('eval') / 'ep', seed=1, frames=24, width=320, height=240,
                          progress=False)


def test_geometry_backend_scores_near_perfectly(bag, tmp_path, capsys):
    from spatialvlm_ros.cli import main

    out = tmp_path / 'geo.json'
    assert main(['eval', str(bag), '--frames', '6', '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    table = capsys.readouterr().out
    assert 'qualitative accuracy' in table and 'within [0.5x, 2x]' in table
    assert report['questions'] >= 20 and report['frames'] == 6
    answered = report['questions'] - report['backend_errors']
    assert answered >= 0.8 * report['questions']  # the target can be hidden under the block
    assert report['qualitative_accuracy_pct'] >= 80 and report['within_0.5x_2x_pct'] >= 80
    assert report['mean_relative_error'] < 0.15
    lines = (tmp_path / 'geo.answers.jsonl').read_text().splitlines()
    assert len(lines) == report['questions']


def test_missing_bag_and_unknown_backend_fail_with_a_message(bag, tmp_path, capsys):
    from spatialvlm_ros.cli import main

    assert main(['eval', str(tmp_path / 'nope')]) == 1
    assert 'spatialvlm sim record' in capsys.readouterr().err
    assert main(['eval', str(bag), '--backend', 'gpt5']) == 1
    assert "unknown VLM backend 'gpt5'" in capsys.readouterr().err


def test_questions_are_half_qualitative_and_skip_ambiguous_truth():
    gt = {'stamp_ns': 1, 'gripper': [0.0, 0.0, 0.7], 'block': [0.2, 0.001, 0.7], 'target': [0.2, 0.1, 1.0]}
    items = questions_from_ground_truth(gt, EvalConfig(), random.Random(0))
    assert len(items) == 6
    assert sum(it.answer_type == 'distance' for it in items) == 3
    gripper_block = [it for it in items if 'yellow gripper' in it.question and 'red block' in it.question]
    assert len(gripper_block) == 2
    # 1 mm apart vertically: no above/below/higher question, no vertical distance
    assert not {it.kind for it in gripper_block} & {'above', 'below', 'which_higher', 'vertical_distance'}


def test_metrics_by_hand():
    items = [
        EvalItem(0, 'distance', 'q', 0.5, answer='0.5 m'),  # exact
        EvalItem(0, 'distance', 'q', 0.5, answer='60 cm'),  # +20 %
        EvalItem(0, 'distance', 'q', 0.5, answer='2 m'),  # 4x
        EvalItem(0, 'distance', 'q', 0.5, answer='far away'),  # no number
        EvalItem(0, 'left_of', 'q', True, answer='Yes.'),
        EvalItem(0, 'which_left', 'q', 'red block', ('red block', 'blue target'), answer='The blue target.'),
    ]
    m = score(items)
    assert m['answers_with_number_pct'] == 75.0 and m['within_0.5x_2x_pct'] == 50.0
    assert m['within_25pct_pct'] == 50.0 and m['within_10pct_pct'] == 25.0
    assert m['qualitative_accuracy_pct'] == 50.0
    assert m['mean_relative_error'] == pytest.approx((0 + 0.2 + 3.0) / 3, abs=1e-4)
    assert '75.0%' in format_table(m)


def test_eval_config_validation():
    with pytest.raises(VLMError, match='frames: expected an integer >= 1'):
        EvalConfig(frames=0)


def _eval(bag, url, model, *extra):
    from spatialvlm_ros.cli import main

    return main(['eval', str(bag), '--frames', '2', '--backend', 'openai', '--base-url', url, '--model', model,
                 '--timeout-s', '1', '--retries', '2', '--backoff-s', '0.05', *extra])


def test_eval_fails_loudly_when_most_requests_fail_and_asks_each_question_once(bag, tmp_path, capsys):
    from support.chat_server import ChatServer

    server = ChatServer()
    try:
        server.script = ['400'] * 100
        out = tmp_path / 'bad.json'
        assert _eval(bag, server.url, 'typo', '--out', str(out)) == 1
        err = capsys.readouterr().err
        report = json.loads(out.read_text())
        assert 'unknown model' in err and 'HTTP 400' in err and f'{report["questions"]} of' in err
        assert len(server.requests) == report['questions']  # not re-asked one by one after the batch
        assert report['latency_ms_per_question_p50'] is None  # failed calls are no latency
        assert report['failure']['kind'] == 'request'
        server.script = ['length'] * 100  # answers cut at the token limit: errors, but the run is fine
        assert _eval(bag, server.url, 'm', '--out', str(out)) == 0
        lines = [json.loads(x) for x in (tmp_path / 'bad.answers.jsonl').read_text().splitlines()]
        assert all(x['error_kind'] == 'truncated' and 'max_new_tokens' in x['error'] for x in lines)
    finally:
        server.close()


def test_eval_against_a_real_server(bag, real_server, tmp_path, capsys):
    import time

    out = tmp_path / 'real.json'
    # random answers, no failure (a generous timeout: a loaded machine generates slowly)
    assert _eval(bag, real_server.url, real_server.model, '--out', str(out), '--timeout-s', '30') == 0
    report = json.loads(out.read_text())
    assert report['latency_ms_per_question_p50'] is None or report['latency_ms_per_question_p50'] > 0
    capsys.readouterr()
    assert _eval(bag, real_server.url, 'spaceqwen-typo') == 1  # wrong model: the server's own text
    assert "pinned to" in capsys.readouterr().err
    real_server.pause()  # hung: each frame costs at most (retries + 1) x timeout, not a resend each
    try:
        t0 = time.monotonic()
        assert _eval(bag, real_server.url, real_server.model) == 1
        dt = time.monotonic() - t0
    finally:
        real_server.resume()
    assert dt < 2 * 3 * 1.0 + 1.0, dt
    assert 'not resent' in capsys.readouterr().err
    t0 = time.monotonic()
    real_server.ask_raw(max_tokens=8, timeout_s=10)
    assert time.monotonic() - t0 < 2.0  # nothing piled up
