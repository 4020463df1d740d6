"""The VLM backend registry as the one source of a backend's options: every config declares its
options, and a backend registered here (and removed after) is built by make_backend and gets
``spatialvlm eval`` flags without another edit; unknown options are refused naming the known ones."""

from dataclasses import dataclass

import pytest

from spatialvlm_ros.core.options import option
from spatialvlm_ros.vlm import (
    BACKENDS,
    VLMError,
    backend_options,
    image_backends,
    make_backend,
    merged_backend_options,
    register_backend,
)

from support.registries import check_declared  # noqa: E402


@pytest.mark.parametrize('kind', sorted(BACKENDS))
def test_every_backend_declares_its_options(kind):
    check_declared(BACKENDS[kind].config_type)
    assert isinstance(BACKENDS[kind].takes_images, bool)
    assert [o.name for o in backend_options(kind)]


def test_one_token_limit_name_and_plain_image_backends():
    assert image_backends() == sorted(k for k, c in BACKENDS.items() if c.takes_images)
    assert 'geometry' in BACKENDS and 'geometry' not in image_backends()
    for kind in image_backends():
        assert 'max_new_tokens' in [o.name for o in backend_options(kind)]
        assert 'max_tokens' not in [o.name for o in backend_options(kind)]
    assert merged_backend_options(image_backends())['max_new_tokens'].default == 64


def test_registration_is_checked():
    @dataclass(frozen=True)
    class C:
        max_new_tokens: str = option('64', 'A token limit of another type than every other backend.')

    class NoImageFlag:
        config_type = C

    with pytest.raises(VLMError, match='must declare takes_images'):
        register_backend('bad')(NoImageFlag)
    NoImageFlag.takes_images = True
    register_backend('bad')(NoImageFlag)
    try:
        with pytest.raises(VLMError, match="option 'max_new_tokens' has different types"):
            merged_backend_options(sorted(BACKENDS))
    finally:
        del BACKENDS['bad']


def test_registry_has_every_backend():
    assert {'qwen2_5_vl', 'llava', 'openai', 'geometry'} <= set(BACKENDS)
    with pytest.raises(VLMError, match="unknown VLM backend 'gpt'; known backends"):
        make_backend('gpt')
    with pytest.raises(VLMError, match=r"unknown option\(s\) \['temp'\] for VLM backend 'openai'"):
        make_backend('openai', model='m', temp=1)
