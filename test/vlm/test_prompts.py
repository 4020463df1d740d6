"""vlm.prompts: every template read back as its kind, questions it cannot measure, depth-grounded prompts and marks."""
import random
import numpy as np
import pytest
from spatialvlm_ros.vlm import TEMPLATES, VLMError, interpret_question, make_question
from spatialvlm_ros.vlm.prompts import ANSWER_TYPES, depth_context, draw_marks, with_context
from support.images import RGB
pytest.importorskip('transformers')


def test_every_template_is_read_back_as_its_kind():
    rng = random.Random(0)
    for kind, phrasings in TEMPLATES.items():
        for i in range(len(phrasings)):
            q = make_question(kind, 'red block', 'blue target', template=i)
            assert interpret_question(q.text, ['yellow gripper', 'red block', 'blue target']) == (
                kind, 'red block', 'blue target'), q.text
        assert make_question(kind, 'a x', 'b y', rng=rng).answer_type == ANSWER_TYPES[kind]
    assert make_question('distance', 'a', 'b').text.endswith('Answer with a number and a unit.')


def test_interpret_question_refuses_what_it_cannot_measure():
    with pytest.raises(VLMError, match='which two objects'):
        interpret_question('How far is the red block from the moon?', ['red block', 'blue target'])
    with pytest.raises(VLMError, match='asks nothing this answerer measures'):
        interpret_question('What colour are the red block and the blue target?', ['red block', 'blue target'])


def test_depth_grounded_prompt_and_marks():
    ctx = depth_context({'red block': (0.1, -0.05, 0.8), 'blue target': None}, 'cam')
    assert 'red block is at x=0.10 m' in ctx and 'blue target was not measured' in ctx
    assert with_context('How far?', ctx).endswith('\nHow far?')
    marked = draw_marks(RGB, [('A', 20.0, 20.0), ('off', -5.0, 3.0)])
    assert marked.shape == RGB.shape and not np.array_equal(marked, RGB)
    assert np.array_equal(RGB, (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8))
