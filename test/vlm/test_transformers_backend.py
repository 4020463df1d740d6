"""The local transformers backends on tiny random-weight Qwen2.5-VL and LLaVA models (the real
load and generate path), the geometric answerer on an analytic RGB-D scene, the registry and
the prompts."""

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.types import Frame, Intrinsics
from spatialvlm_ros.vlm import (
    BACKENDS,
    TEMPLATES,
    VLMError,
    interpret_question,
    make_backend,
    make_question,
    parse_choice,
    parse_distance,
    parse_yes_no,
)
from spatialvlm_ros.vlm.prompts import ANSWER_TYPES, depth_context, draw_marks, with_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_vlm  # noqa: E402

pytest.importorskip('transformers')

RGB = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('tiny_vlm')
    qwen_proc = tiny_vlm.build_qwen(d / 'qwen')
    tiny_vlm.build_llava(d / 'llava')
    return d, qwen_proc


@pytest.fixture(scope='module')
def qwen(tiny_dir):
    from spatialvlm_ros.vlm.transformers_backend import QwenVLBackend, QwenVLConfig

    d, proc = tiny_dir
    b = QwenVLBackend(QwenVLConfig(model=str(d / 'qwen'), device='cpu', dtype='fp32', max_new_tokens=6), processor=proc)
    yield b
    b.close()


@pytest.fixture(scope='module')
def llava(tiny_dir):
    d, _ = tiny_dir
    b = make_backend('llava', model=str(d / 'llava'), device='auto', dtype='fp32', max_new_tokens=6)
    yield b
    b.close()


def test_registry_has_every_backend():
    assert {'qwen2_5_vl', 'llava', 'openai', 'geometry'} <= set(BACKENDS)
    with pytest.raises(VLMError, match="unknown VLM backend 'gpt'; known backends"):
        make_backend('gpt')
    with pytest.raises(VLMError, match=r"unknown option\(s\) \['temp'\] for VLM backend 'openai'"):
        make_backend('openai', model='m', temp=1)


@pytest.mark.parametrize('kw,match', [
    ({'model': ''}, 'expected a Hugging Face id or a local path'),
    ({'dtype': 'int4'}, "dtype: expected one of"),
    ({'device': 'tpu'}, 'device: expected one of'),
    ({'max_new_tokens': 0}, 'max_new_tokens: expected an integer >= 1'),
])
def test_transformers_config_validation(kw, match):
    from spatialvlm_ros.vlm.transformers_backend import LlavaConfig, QwenVLConfig

    for cls in (QwenVLConfig, LlavaConfig):
        with pytest.raises(VLMError, match=match):
            cls(**kw)
    assert QwenVLConfig().trust_remote_code is False and LlavaConfig().trust_remote_code is False


@pytest.mark.parametrize('name', ['qwen', 'llava'])
def test_generate_single_and_batched(name, request):
    backend = request.getfixturevalue(name)
    single = backend.ask([RGB], 'How far is the red block from the blue target?')
    assert isinstance(single, str) and single
    batch = backend.ask_batch([([RGB], 'How far is the red block from the blue target?'),
                               ([RGB], 'Is the red block to the left of the blue target?')])
    assert len(batch) == 2 and all(isinstance(a, str) for a in batch)
    # greedy decoding: the padded batch answers the first question as the single call did
    assert batch[0] == single
    assert backend.ask_batch([]) == []


def test_qwen_takes_several_images_and_frames(qwen):
    frame = Frame(rgb=RGB, depth=np.ones(RGB.shape[:2], np.float32), intrinsics=Intrinsics(50, 50, 32, 24, 64, 48))
    assert isinstance(qwen.ask([RGB, frame], 'Which image is brighter?'), str)


def test_bad_inputs_are_rejected_with_a_reason(llava):
    with pytest.raises(VLMError, match='HxWx3 uint8 RGB') as err:
        llava.ask([RGB.astype(np.float32)], 'How far?')
    assert err.value.kind == 'input'
    with pytest.raises(VLMError, match='non-empty text'):
        llava.ask([RGB], '  ')
    with pytest.raises(VLMError, match='pass images as a list'):
        llava.ask(RGB, 'How far?')


def test_missing_model_path_says_what_to_do(tmp_path):
    with pytest.raises(VLMError, match='cannot load the processor') as err:
        make_backend('llava', model=str(tmp_path / 'nope'), device='cpu', dtype='fp32', local_files_only=True)
    assert err.value.kind == 'load'


def test_qwen_processor_without_image_support_names_the_fix(tiny_dir):
    import importlib.util

    if importlib.util.find_spec('torchvision') is not None:
        pytest.skip('torchvision installed: AutoProcessor builds the full Qwen processor')
    d, _ = tiny_dir
    with pytest.raises(VLMError, match='pip install torchvision'):
        make_backend('qwen2_5_vl', model=str(d / 'qwen'), device='cpu', dtype='fp32')


def test_close_releases_and_later_calls_fail(tiny_dir):
    d, _ = tiny_dir
    b = make_backend('llava', model=str(d / 'llava'), device='cpu', dtype='fp32', max_new_tokens=2)
    b.close()
    b.close()  # idempotent
    assert b.model is None
    with pytest.raises(VLMError, match='closed'):
        b.ask([RGB], 'How far?')


def test_cuda_asked_without_cuda_is_a_config_error(tiny_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip('CUDA present')
    d, _ = tiny_dir
    with pytest.raises(VLMError, match='CUDA is not available'):
        make_backend('llava', model=str(d / 'llava'), device='cuda', dtype='fp32')


# --- prompts ---------------------------------------------------------------------------------

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


# --- the geometric answerer ------------------------------------------------------------------

W, H, F = 160, 120, 150.0
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
