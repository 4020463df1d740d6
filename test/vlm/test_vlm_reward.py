"""The VLM as reward source (``vlm.reward``): one distance question per task pair about the objects'
descriptions, the core stage rule itself, and the VLM-vs-depth disagreement."""
from __future__ import annotations

import pytest

from spatialvlm_ros.core import reward as core_reward
from spatialvlm_ros.core.task import load_task, task_path
from spatialvlm_ros.vlm.prompts import make_question
from spatialvlm_ros.vlm.reward import disagreement, reward_from_distances, task_questions


@pytest.fixture(scope='module')
def task():
    return load_task(task_path('pick_and_place'))


def test_one_distance_question_per_pair_about_the_descriptions(task):
    questions = task_questions(task)
    assert list(questions) == ['gripper-block', 'block-target']
    for (a, b), q in zip(task.pairs(), questions.values()):
        assert q == make_question('distance', task.objects[a], task.objects[b]).text
        assert task.objects[a] in q and task.objects[b] in q
    other = task_questions(task, template=1)
    assert list(other) == list(questions) and other != questions


def test_the_stage_rule_is_the_cores():
    assert reward_from_distances is core_reward.reward_from_distances


@pytest.mark.parametrize('vlm, depth, expected', [
    (0.25, 0.2, {'abs_m': 0.05, 'rel': 0.25}),
    (0.1, 0.3, {'abs_m': 0.2, 'rel': 0.666667}),
    (0.2, 0.2, {'abs_m': 0.0, 'rel': 0.0}),
    (0.1, 0.0, {'abs_m': 0.1, 'rel': None}),
    (None, 0.2, {'abs_m': None, 'rel': None}),
    (0.2, None, {'abs_m': None, 'rel': None}),
])
def test_disagreement(vlm, depth, expected):
    assert disagreement(vlm, depth) == expected
