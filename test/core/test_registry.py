"""core.registry: the registrar adds an entry and refuses one that misses what the family declares."""

from dataclasses import dataclass

import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.registry import registrar


@dataclass(frozen=True)
class _Config:
    x: int = 1


def test_registrar_adds_entries_and_checks_what_they_declare():
    registry: dict = {}
    register = registrar(registry, 'widget', SpatialError, flags={'fast': 'whether it is fast'},
                         texts={'needs': 'what it needs'})

    @register('a')
    class A:
        config_type = _Config
        fast = True
        needs = 'nothing'

    assert registry == {'a': A} and register('a')(A) is A  # registering the same class again is harmless

    class B(A):
        pass

    with pytest.raises(SpatialError, match=r"widget 'a' is registered twice \(A, B\)"):
        register('a')(B)
    with pytest.raises(SpatialError, match='must define config_type'):
        register('c')(type('C', (), {'fast': True, 'needs': 'x'}))
    with pytest.raises(SpatialError, match=r'must declare fast = True or False \(whether it is fast\)'):
        register('d')(type('D', (), {'config_type': _Config, 'fast': 1, 'needs': 'x'}))
    with pytest.raises(SpatialError, match=r'must name what it needs \(needs = \.\.\.\)'):
        register('e')(type('E', (), {'config_type': _Config, 'fast': False}))
    assert set(registry) == {'a'}
    plain = registrar({}, 'thing', SpatialError, config=False)
    assert plain('p')(type('P', (), {})).__name__ == 'P'
