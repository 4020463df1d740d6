"""Options declared once on a config dataclass (core/options.py): what is declared, defaults
(mutable ones copied per instance), coercion of ROS parameter values (lists to tuples, ints to
floats), and fields without a description kept internal."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Tuple

import pytest

from spatialvlm_ros.core.errors import SpatialError
from spatialvlm_ros.core.options import Option, config_from_options, option, options_of


@dataclass(frozen=True)
class Demo:
    min_pixels: int = option(30, 'Fewest mask pixels for an object to count as found.')
    threshold: float = option(0.5, 'Score threshold.')
    use_gpu: bool = option(False, 'Run on the GPU.')
    model: str = option('tiny', 'Model name.')
    names: tuple[str, ...] = option(('a', 'b'), 'Object names.')
    sizes: Tuple[float, ...] = option((), 'Sizes (typing.Tuple).')
    tags: list = option(['x'], 'A mutable default.')
    table: dict = option({'k': 1}, 'Another.')
    limit: Optional[float] = option(None, 'No default value.')
    cache: dict = field(default_factory=dict)  # internal: no description
    secret: int = 7  # internal
    derived: int = field(default=0, init=False, metadata={'doc': 'computed, not an option'})


def test_declared_options_in_field_order_with_type_default_and_doc():
    opts = options_of(Demo)
    assert [o.name for o in opts] == ['min_pixels', 'threshold', 'use_gpu', 'model', 'names', 'sizes', 'tags',
                                      'table', 'limit']
    by = {o.name: o for o in opts}
    assert by['min_pixels'] == Option('min_pixels', int, 30, 'Fewest mask pixels for an object to count as found.')
    assert (by['threshold'].type, by['threshold'].default) == (float, 0.5)
    assert (by['use_gpu'].type, by['use_gpu'].default) == (bool, False)
    assert (by['model'].type, by['model'].default) == (str, 'tiny')
    assert by['names'].type == tuple[str, ...] and by['names'].default == ('a', 'b')
    assert by['sizes'].type == Tuple[float, ...]
    assert by['tags'].default == ['x'] and by['table'].default == {'k': 1}
    assert by['limit'].type == Optional[float] and by['limit'].default is None
    assert by['min_pixels'].flag == '--min-pixels' and by['use_gpu'].flag == '--use-gpu'


def test_undeclared_and_non_init_fields_are_hidden():
    names = {o.name for o in options_of(Demo)}
    assert not names & {'cache', 'secret', 'derived'}
    # but they are ordinary fields of the config
    c = Demo()
    assert c.cache == {} and c.secret == 7 and c.derived == 0


def test_defaults_of_the_config_are_the_declared_ones():
    c = Demo()
    for o in options_of(Demo):
        assert getattr(c, o.name) == o.default, o.name


def test_mutable_defaults_are_copied_per_instance_and_per_options_of():
    a, b = Demo(), Demo()
    assert a.tags == ['x'] and a.tags is not b.tags and a.table is not b.table
    a.tags.append('y')
    a.table['k'] = 2
    assert b.tags == ['x'] and b.table == {'k': 1} and Demo().tags == ['x']
    opt = {o.name: o for o in options_of(Demo)}['tags']
    opt.default.append('z')
    assert {o.name: o for o in options_of(Demo)}['tags'].default == ['x']
    f = {f.name: f for f in dataclasses.fields(Demo)}
    assert f['tags'].default is dataclasses.MISSING and f['tags'].metadata['doc'] == 'A mutable default.'
    s = option({1, 2}, 'a set')
    assert s.default_factory() == {1, 2} and s.default_factory() is not s.default_factory()
    assert option((1,), 'a tuple is immutable').default == (1,)


def test_config_from_options_coerces_ros_parameter_values():
    c = config_from_options(Demo, {'names': ['p', 'q'], 'sizes': [1.0, 2.0], 'threshold': 1, 'min_pixels': 12})
    assert c.names == ('p', 'q') and type(c.names) is tuple
    assert c.sizes == (1.0, 2.0) and type(c.sizes) is tuple
    assert c.threshold == 1.0 and type(c.threshold) is float
    assert c.min_pixels == 12 and type(c.min_pixels) is int  # an int option stays an int
    # a bool is not an int to coerce; a float stays; a tuple stays; lists for list options stay lists
    assert type(config_from_options(Demo, {'threshold': True}).threshold) is bool
    assert config_from_options(Demo, {'threshold': 0.25}).threshold == 0.25
    assert config_from_options(Demo, {'names': ('z',)}).names == ('z',)
    t = config_from_options(Demo, {'tags': ['u']}).tags
    assert t == ['u'] and type(t) is list


def test_config_from_options_ignores_others_and_takes_fixed_fields():
    c = config_from_options(Demo, {'model': 'big', 'unrelated': 1, 'secret': 99, 'cache': {'no': 1}}, secret=3)
    assert c.model == 'big' and c.secret == 3 and c.cache == {}  # undeclared fields are not read from values
    assert config_from_options(Demo, {}) == Demo()
    assert config_from_options(Demo, {'model': 'big'}, model='fixed').model == 'fixed'


def test_options_of_a_non_dataclass_is_a_config_error():
    class NotAConfig:
        x: int = 1

    with pytest.raises(SpatialError, match='not a config dataclass') as info:
        options_of(NotAConfig)
    assert info.value.kind == 'config'
