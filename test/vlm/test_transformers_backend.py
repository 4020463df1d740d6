"""The local transformers backends on tiny random-weight Qwen2.5-VL and LLaVA models (the real
load and generate path)."""


import numpy as np
import pytest

from spatialvlm_ros.core.types import Frame, Intrinsics
from spatialvlm_ros.vlm import VLMError, make_backend

from support import tiny_vlm  # noqa: E402
from support.images import RGB  # noqa: E402

pytest.importorskip('transformers')


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


# --- the geometric answerer ------------------------------------------------------------------
