"""The geometric answerer on an analytic RGB-D scene."""
import numpy as np
import pytest
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.types import Frame, Intrinsics
from spatialvlm_ros.vlm import VLMError, make_backend, make_question, parse_choice, parse_distance, parse_yes_no
from support.images import RGB
pytest.importorskip('transformers')


PATCHES = {  # description -> (colour, (u, v), half size px, depth m)
    'yellow gripper': ((255, 230, 0), (40, 40), 8, 0.70),
    'red block': ((220, 20, 20), (80, 70), 9, 0.80),
    'blue target': ((20, 40, 230), (125, 60), 10, 0.90),
}


def centre(name):
    _, (u, v), _, z = PATCHES[name]
    return np.array([(u - (W - 1) / 2) * z / F, (v - (H - 1) / 2) * z / F, z])


def scene_frame(stamp_ns=0):
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 1.2, np.float32)
    for colour, (u, v), r, z in PATCHES.values():
        rgb[v - r: v + r + 1, u - r: u + r + 1] = colour
        depth[v - r: v + r + 1, u - r: u + r + 1] = z
    return Frame(rgb=rgb, depth=depth, intrinsics=Intrinsics(F, F, (W - 1) / 2, (H - 1) / 2, W, H), stamp_ns=stamp_ns)


@pytest.fixture(scope='module')
def geometry():
    return make_backend('geometry', grounder_config={'min_pixels': 20}, flat_objects=(),
                        lift=LiftConfig(center_mode='centroid', min_points=10))


def test_geometry_answers_distances_from_depth(geometry):
    frame = scene_frame()
    for kind in ('distance', 'horizontal_distance', 'vertical_distance'):
        q = make_question(kind, 'red block', 'blue target')
        d = centre('red block') - centre('blue target')
        truth = {'distance': np.linalg.norm(d), 'horizontal_distance': np.hypot(d[0], d[2]),
                 'vertical_distance': abs(d[1])}[kind]
        answer = geometry.ask([frame], q.text)
        assert parse_distance(answer) == pytest.approx(truth, abs=2e-3), answer


def test_geometry_answers_qualitative_questions(geometry):
    frame = scene_frame()
    a, b = 'yellow gripper', 'blue target'  # gripper: left, higher, closer
    expect = {'left_of': True, 'right_of': False, 'above': True, 'below': False, 'in_front_of': True, 'behind': False}
    for kind, truth in expect.items():
        assert parse_yes_no(geometry.ask([frame], make_question(kind, a, b).text)) is truth, kind
    for kind in ('which_left', 'which_closer', 'which_higher'):
        assert parse_choice(geometry.ask([frame], make_question(kind, b, a).text), [a, b]) == a, kind
    answers = geometry.ask_batch([([frame], make_question('left_of', a, b).text)] * 2)
    assert answers[0] == answers[1]


def test_geometry_refuses_without_depth_or_object(geometry):
    q = make_question('distance', 'red block', 'blue target').text
    with pytest.raises(VLMError, match='exactly one RGB-D core Frame'):
        geometry.ask([RGB], q)
    frame = scene_frame()
    frame.rgb[55:86, 65:96] = 128  # the red block is gone
    with pytest.raises(VLMError, match='red block not found') as err:
        geometry.ask([frame], q)
    assert err.value.kind == 'not_found'


def test_geometry_config_validation():
    with pytest.raises(VLMError, match='at least two object descriptions'):
        make_backend('geometry', objects=('red block',))
    with pytest.raises(VLMError, match="flat_objects: \\['disc'\\] are not in objects"):
        make_backend('geometry', flat_objects=('disc',))
    with pytest.raises(VLMError, match='unit: expected one of'):
        make_backend('geometry', unit='ft')


W, H, F = 160, 120, 150.0
