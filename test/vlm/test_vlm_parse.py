"""Answer parsing: a table of real phrasings (SpatialVLM / SpaceLLaVA / SpaceThinker / GPT-style
answers) -> metres, and qualitative answers. Target: 100% of the table."""

import pytest

from spatialvlm_ros.vlm import parse_choice, parse_distance, parse_side, parse_yes_no

FT, IN, YD = 0.3048, 0.0254, 0.9144

DISTANCES = [
    # metric units, digits
    ('1.5 meters', 1.5),
    ('The red block is 1.5 meters from the blue target.', 1.5),
    ('30cm', 0.30),
    ('30 cm', 0.30),
    ('The distance is 30 cm.', 0.30),
    ('about 45 centimeters', 0.45),
    ('approximately 0.8 m', 0.8),
    ('roughly 12.5 centimetres', 0.125),
    ('It is 250 mm away.', 0.25),
    ('250 millimeters', 0.25),
    ('1,200 mm', 1.2),
    ('0.35 metres', 0.35),
    ('.5 m', 0.5),
    ('~2 m', 2.0),
    ('The gap is 3.2m wide.', 3.2),
    ('1 meter', 1.0),
    ('2 km', 2000.0),
    ('15 cm.', 0.15),
    ('a 1.5-meter gap separates them', 1.5),
    ('The yellow gripper is 7.3 centimeters away from the red block.', 0.073),
    # imperial
    ('about 3 and a half feet', 3.5 * FT),
    ('2\'6"', 2 * FT + 6 * IN),
    ("5' 3\"", 5 * FT + 3 * IN),
    ('5 ft 3 in', 5 * FT + 3 * IN),
    ('5 ft. 3 in.', 5 * FT + 3 * IN),
    ('6 feet', 6 * FT),
    ('1 foot', FT),
    ('12 inches', 12 * IN),
    ('12 in', 12 * IN),
    ('8"', 8 * IN),
    ('3 yards', 3 * YD),
    ('2 yd', 2 * YD),
    ('The block is 10 inches to the left of the target.', 10 * IN),
    ('1½ feet', 1.5 * FT),
    ('1 1/2 feet', 1.5 * FT),
    ('1/2 meter', 0.5),
    ('3 ft 0 in', 3 * FT),
    # words for numbers
    ('two meters', 2.0),
    ('twenty-five centimeters', 0.25),
    ('one hundred and twenty centimeters', 1.2),
    ('one point five meters', 1.5),
    ('half a meter', 0.5),
    ('about half a foot', 0.5 * FT),
    ('a quarter of a meter', 0.25),
    ('three quarters of a meter', 0.75),
    ('about a meter', 1.0),
    ('an inch', IN),
    ('a foot and a half', 1.5 * FT),
    ('one and a half meters', 1.5),
    ('two feet six inches', 2 * FT + 6 * IN),
    ('Thirty centimeters.', 0.30),
    ('eleven inches apart', 11 * IN),
    ('fifteen cm', 0.15),
    # compounds and ranges
    ('1 m 20 cm', 1.2),
    ('1 meter and 20 centimeters', 1.2),
    ('between 20 and 30 cm', 0.25),
    ('20-30 cm', 0.25),
    ('from 1 to 2 meters', 1.5),
    ('somewhere between 2 and 3 feet', 2.5 * FT),
    ('between 50 cm and 1 m', 0.75),
    ('0.5 to 1 meter', 0.75),
    ('between twenty and thirty centimeters', 0.25),
    # model output formats
    ('<think>The block is about 5 cm wide, the gap is larger.</think><answer>40 cm</answer>', 0.40),
    ('Reasoning: the gripper spans 8 cm. Final answer: 0.3 m', 0.3),
    ('The red block is 23.4 centimeters from the blue target.', 0.234),
    ('It is 0 cm away: they touch.', 0.0),
    ('The distance between them is about 3 feet, or roughly one meter.', 3 * FT),
    ('The block is approximately 0.62 meters (62 cm) from the target.', 0.62),
    ('I estimate 18 cm.', 0.18),
]

NO_DISTANCE = [
    '',
    'I cannot determine the distance from this image.',
    'The red block is to the left of the blue target.',
    'They are close to each other.',
    'a few feet',
    'The distance is 0.5.',  # no unit: never guessed
    'Yes.',
    'There are 3 objects in front of the robot.',
    'It is 5 in the morning',
    'several meters',
]


def test_table_is_large_and_distinct():
    phrasings = [t for t, _ in DISTANCES] + NO_DISTANCE
    assert len(set(phrasings)) == len(phrasings)
    assert len(DISTANCES) + len(NO_DISTANCE) >= 60


@pytest.mark.parametrize('text,metres', DISTANCES, ids=[t[:40] for t, _ in DISTANCES])
def test_distance_phrasings(text, metres):
    assert parse_distance(text) == pytest.approx(metres, abs=1e-6)


@pytest.mark.parametrize('text', NO_DISTANCE)
def test_no_distance_is_none_never_a_guess(text):
    assert parse_distance(text) is None


def test_bare_number_only_with_the_unit_the_question_asked_for():
    assert parse_distance('0.5', default_unit='m') == 0.5
    assert parse_distance('About 40.', default_unit='cm') == pytest.approx(0.4)
    assert parse_distance('The block is 0.5 from it', default_unit='m') is None  # not just a number
    with pytest.raises(ValueError, match='default_unit must be one of'):
        parse_distance('3', default_unit='parsec')


def test_non_text_is_none():
    assert parse_distance(None) is None
    assert parse_distance(3.0) is None


@pytest.mark.parametrize('text,expected', [
    ('Yes', True), ('yes, the red block is to the left of the blue target.', True), ('Yeah.', True),
    ('Correct, it is above.', True), ('No.', False), ('No, it is not.', False), ('Nope', False),
    ('Indeed it is.', True), ('Not really, it is to the right.', False), ('<answer>yes</answer>', True),
    ('The answer is no.', False), ('I am not sure.', None), ('maybe', None), ('Yes and no.', None),
])
def test_yes_no(text, expected):
    assert parse_yes_no(text) is expected


@pytest.mark.parametrize('text,expected', [
    ('The red block is more to the left.', 'red block'),
    ('The blue target.', 'blue target'),
    ('It is the target that is closer.', 'blue target'),
    ('The red block is closer to the camera than the blue target.', 'red block'),
    ('Neither, they are level.', None),
    ('Both are at the same height.', None),
    ('I cannot tell.', None),
    ('The gripper.', None),
])
def test_choice(text, expected):
    assert parse_choice(text, ['red block', 'blue target']) == expected


@pytest.mark.parametrize('text,options,expected', [
    ('It is on the left.', ('left', 'right'), 'left'),
    ('To the right of the target.', ('left', 'right'), 'right'),
    ('left or right, hard to say', ('left', 'right'), None),
    ('The block is above the target.', ('above', 'below'), 'above'),
    ('It is behind the block.', ('in front', 'behind'), 'behind'),
    ('It is in front.', ('in front', 'behind'), 'in front'),
])
def test_side(text, options, expected):
    assert parse_side(text, options) == expected


def test_side_rejects_unknown_options():
    with pytest.raises(ValueError, match='unknown direction option'):
        parse_side('left', ('north', 'south'))
