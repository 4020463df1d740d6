"""``spatialvlm eval``: backend options become flags, also for a backend registered later."""
from dataclasses import dataclass
import pytest
from spatialvlm_ros.core.options import option
from spatialvlm_ros.vlm import BACKENDS, VLMError, image_backends, make_backend, register_backend


def eval_parser():
    from spatialvlm_ros.cli import build_parser

    return build_parser()


def eval_help(capsys) -> str:
    from spatialvlm_ros.cli import main

    with pytest.raises(SystemExit):
        main(['eval', '--help'])
    return ' '.join(capsys.readouterr().out.split())


@pytest.fixture
def throwaway():
    """A backend registered for one test and removed after it."""

    @dataclass(frozen=True)
    class EchoConfig:
        reply: str = option('42 cm', 'Answer the echo backend gives to every question.')
        max_new_tokens: int = option(64, 'Most tokens generated per answer.')
        shout: bool = option(False, 'Answer in capitals.')
        words: tuple = option(('a', 'b'), 'Words the echo backend knows.')

    class EchoBackend:
        config_type = EchoConfig
        takes_images = True

        def __init__(self, config):
            self.config = config

        def ask(self, images, question):
            return self.config.reply.upper() if self.config.shout else self.config.reply

        def ask_batch(self, requests):
            return [self.ask(i, q) for i, q in requests]

        def close(self):
            pass

    register_backend('echo')(EchoBackend)
    try:
        yield EchoBackend
    finally:
        del BACKENDS['echo']


def test_a_new_backend_is_built_and_gets_eval_flags_without_another_edit(throwaway, capsys):
    from spatialvlm_ros.commands.eval import _options

    b = make_backend('echo', reply='1 m', shout=True)
    assert isinstance(b, throwaway) and b.ask([], 'how far?') == '1 M'
    assert 'echo' in image_backends()
    text = eval_help(capsys)
    assert '--reply REPLY echo: Answer the echo backend gives to every question.' in text
    assert '--shout, --no-shout echo: Answer in capitals.' in text
    assert 'echo, llava, openai, qwen2_5_vl: Most tokens generated per answer.' in text
    args = eval_parser().parse_args(['eval', 'bag', '--backend', 'echo', '--reply', '3 cm', '--shout',
                                     '--max-new-tokens', '8', '--words', 'x', 'y', '--option', 'reply="9 m"'])
    assert _options(args) == {'reply': '9 m', 'shout': True, 'max_new_tokens': 8, 'words': ('x', 'y')}
    with pytest.raises(VLMError, match=r"unknown option\(s\) \['loud'\] for VLM backend 'echo'; its options are "
                                       r"\['reply', 'max_new_tokens', 'shout', 'words'\]"):
        make_backend('echo', loud=True)


def test_eval_flags_keep_their_old_spelling_and_refuse_foreign_options():
    from spatialvlm_ros.commands.eval import _options

    parser = eval_parser()
    args = parser.parse_args(['eval', 'bag', '--backend', 'openai', '--model', 'm', '--base-url', 'http://h/v1',
                              '--max-new-tokens', '16', '--timeout', '2.5'])
    assert _options(args) == {'model': 'm', 'base_url': 'http://h/v1', 'max_new_tokens': 16, 'timeout_s': 2.5}
    args = parser.parse_args(['eval', 'bag', '--backend', 'llava', '--device', 'cpu', '--dtype', 'fp32'])
    assert _options(args) == {'device': 'cpu', 'dtype': 'fp32'}
    args = parser.parse_args(['eval', 'bag', '--backend', 'openai', '--device', 'cpu'])
    with pytest.raises(VLMError, match=r"\['--device'\] are no options of VLM backend 'openai'; its options are "
                                       r"\['base_url', "):
        _options(args)
    assert _options(parser.parse_args(['eval', 'bag'])) == {}  # geometry with its own defaults
