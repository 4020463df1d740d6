"""Parameter declaration with defaults that live once, in ``config/<node>.yaml``.

Each node lists a description per parameter; the default value and type come from the
package's params file, so the YAML a user copies is the single source of truth and a test
can check that the two agree.
"""

from __future__ import annotations

from typing import Mapping

from ..core.config_files import config_dir, load_defaults

__all__ = ['config_dir', 'load_defaults', 'declare_parameters', 'read_parameters']


def _descriptor(description: str, value):
    from rcl_interfaces.msg import ParameterDescriptor, ParameterType

    kinds = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    if isinstance(value, list):
        elem = type(value[0]) if value else str
        arrays = {bool: ParameterType.PARAMETER_BOOL_ARRAY, int: ParameterType.PARAMETER_INTEGER_ARRAY,
                  float: ParameterType.PARAMETER_DOUBLE_ARRAY, str: ParameterType.PARAMETER_STRING_ARRAY}
        ptype = arrays[elem]
    else:
        ptype = kinds[type(value)]
    return ParameterDescriptor(description=description, type=ptype)


def declare_parameters(node, descriptions: Mapping[str, str], defaults: Mapping[str, object]) -> None:
    """Declare every parameter in ``descriptions`` with its default from ``defaults``."""
    missing = sorted(set(descriptions) - set(defaults))
    extra = sorted(set(defaults) - set(descriptions))
    if missing or extra:
        raise KeyError(f'parameter defaults and descriptions disagree: no default for {missing}, undocumented {extra}')
    for name, description in descriptions.items():
        default = defaults[name]
        descriptor = _descriptor(description, default)
        if isinstance(default, list) and not default:
            # rclpy infers BYTE_ARRAY from an empty default whatever the descriptor says: declare the
            # type alone, then set the empty value with that type (unless the user gave one).
            from rclpy.exceptions import ParameterUninitializedException
            from rclpy.parameter import Parameter

            ptype = Parameter.Type(descriptor.type)
            node.declare_parameter(name, ptype, descriptor)
            try:
                node.get_parameter(name)  # an override from the command line or a params file
            except ParameterUninitializedException:
                node.set_parameters([Parameter(name, ptype, [])])
            continue
        node.declare_parameter(name, default, descriptor)


def read_parameters(node, names) -> dict:
    """Current values of ``names`` as plain Python values."""
    return {n: node.get_parameter(n).value for n in names}
