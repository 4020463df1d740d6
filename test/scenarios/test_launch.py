"""Launch files and params files, checked without `ros2 launch` (not installable here):
every executable, parameter, remap and argument they name must exist and agree with the nodes."""

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from spatialvlm_ros.ros import reward_node, spatial_facts_node, vlm_reward_node
from support.paths import REPO

ROOT = REPO
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.xml'))
# executable -> (node module, params file)
NODES = {
    'spatial_facts_node': (spatial_facts_node, 'spatial_facts.yaml'),
    'reward_node': (reward_node, 'reward.yaml'),
    'vlm_reward_node': (vlm_reward_node, 'vlm_reward.yaml'),
}
BUILTIN_PARAMS = {'use_sim_time'}
SUBST = re.compile(r'\$\((\S+)\s*([^)]*)\)')


def console_scripts():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == 'console_scripts':
                    return {s.value.split('=')[0].strip(): s.value.split('=')[1].strip() for s in v.elts}
    raise AssertionError('setup.py has no console_scripts')


def resolve(text, args):
    """Evaluate the substitutions our launch files use: $(var X) and $(find-pkg-share spatialvlm_ros)."""
    def sub(m):
        kind, arg = m.group(1), m.group(2).strip()
        if kind == 'var':
            assert arg in args, f'$(var {arg}) used but no <arg name="{arg}"> declared'
            return args[arg]
        if kind == 'find-pkg-share':
            assert arg == 'spatialvlm_ros', f'unexpected package {arg}'
            return str(ROOT)
        raise AssertionError(f'unsupported substitution $({kind} ...)')
    return SUBST.sub(sub, text)


def walk(path, overrides=None):
    """Yield (node element, resolved args) for every node, following includes."""
    root = ET.parse(path).getroot()
    assert root.tag == 'launch'
    args = {}
    for a in root.findall('arg'):
        assert a.get('description'), f'{path.name}: arg {a.get("name")} has no description'
        args[a.get('name')] = resolve(a.get('default', ''), args)
    for k, v in (overrides or {}).items():
        assert k in args, f'{path.name} is given arg {k!r} it does not declare'
        args[k] = v
    for el in root:
        if el.tag == 'node':
            yield el, args
        elif el.tag == 'include':
            inc = Path(resolve(el.get('file'), args))
            assert inc.exists(), f'{path.name} includes missing {inc}'
            yield from walk(inc, {a.get('name'): resolve(a.get('value'), args) for a in el.findall('arg')})


def test_launch_files_exist_and_are_installed():
    names = {p.name for p in LAUNCH_FILES}
    assert {'spatialvlm.launch.xml', 'replay.launch.xml'} <= names
    assert "glob('launch/*.launch.xml')" in (ROOT / 'setup.py').read_text()


@pytest.mark.parametrize('launch_file', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_executable_parameter_and_remap_exists(launch_file):
    scripts = console_scripts()
    seen = set()
    for el, args in walk(launch_file):
        exe = el.get('exec')
        assert el.get('pkg') == 'spatialvlm_ros'
        assert exe in scripts, f'{launch_file.name}: no console script {exe!r} (have {sorted(scripts)})'
        module, _ = NODES[exe]
        assert scripts[exe] == f'{module.__name__}:main'
        for p in el.findall('param'):
            if p.get('from'):
                f = Path(resolve(p.get('from'), args))
                doc = yaml.safe_load(f.read_text())
                (node_name,) = doc
                assert node_name == el.get('name'), f'{f.name} is keyed {node_name!r} but the node is {el.get("name")!r}'
                assert set(doc[node_name]['ros__parameters']) <= set(module.PARAMETERS)
            else:
                name = p.get('name')
                assert name in module.PARAMETERS or name in BUILTIN_PARAMS, f'{exe} declares no parameter {name!r}'
                resolve(p.get('value'), args)
        for r in el.findall('remap'):
            assert r.get('from') in module.INPUT_TOPICS.values(), f'{exe} subscribes to no {r.get("from")!r}'
            assert resolve(r.get('to'), args)
        seen.add(exe)
    assert seen == set(NODES), f'{launch_file.name} starts {seen}, expected both nodes'


def test_replay_launch_uses_sim_time_and_reliable_qos():
    nodes = list(walk(ROOT / 'launch' / 'replay.launch.xml'))
    for el, args in nodes:
        values = {p.get('name'): resolve(p.get('value'), args) for p in el.findall('param') if p.get('name')}
        assert values['use_sim_time'] == 'true'
    assert args['qos_reliability'] == 'reliable'


@pytest.mark.parametrize('exe', sorted(NODES))
def test_params_file_is_the_single_source_of_defaults(exe):
    """Every declared parameter has its default in config/ and every default is declared and described."""
    module, file_name = NODES[exe]
    doc = yaml.safe_load((ROOT / 'config' / file_name).read_text())
    (node_name,) = doc
    assert node_name == module.NODE_NAME
    defaults = doc[node_name]['ros__parameters']
    assert set(defaults) == set(module.PARAMETERS)
    assert all(len(d) > 15 for d in module.PARAMETERS.values())


def test_both_nodes_get_the_task_that_defines_the_objects():
    """The task is the one definition of the objects: the launch gives spatial_facts and reward the same task,
    and the usage comment names only declared arguments."""
    launch_file = ROOT / 'launch' / 'spatialvlm.launch.xml'
    tasks = {}
    for el, args in walk(launch_file):
        values = {p.get('name'): resolve(p.get('value'), args) for p in el.findall('param') if p.get('name')}
        tasks[el.get('exec')] = values.get('task')
    assert tasks['spatial_facts_node'] == tasks['reward_node'] == 'pick_and_place'
    declared = {a.get('name') for a in ET.parse(launch_file).getroot().findall('arg')}
    usage = [ln for ln in launch_file.read_text().split('-->')[0].splitlines() if 'ros2 launch spatialvlm_ros' in ln]
    used = {name for ln in usage for name in re.findall(r'(\w+):=', ln)}
    assert usage and used
    assert used <= declared, f'the usage comment shows undeclared arguments {sorted(used - declared)}'


def test_package_xml_declares_what_the_nodes_import():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3' and root.findtext('name') == 'spatialvlm_ros'
    deps = {d.text for d in root.findall('exec_depend')}
    assert {'rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'visualization_msgs', 'diagnostic_msgs'} <= deps
    assert root.find('export/build_type').text == 'ament_python'


def test_spatial_facts_option_parameters_come_from_the_registries_with_their_yaml_defaults():
    """Every grounder and lifting option is a spatial_facts parameter with the registry's description; its
    YAML default is the registry default, or DEFAULT_OVERRIDES says why not."""
    from spatialvlm_ros.core.grounding import GROUNDERS, grounder_options
    from spatialvlm_ros.core.lifting import lift_options
    from spatialvlm_ros.core.options import options_of

    node = spatial_facts_node
    exposed = {**grounder_options(), **lift_options()}
    assert set(node.OPTION_PARAMETERS) == set(exposed)
    assert all(node.PARAMETERS[n] == o.doc for n, o in exposed.items())
    defaults = yaml.safe_load((ROOT / 'config' / 'spatial_facts.yaml').read_text())['spatial_facts']['ros__parameters']
    differing = set()
    per_kind = [options_of(c.config_type) for c in GROUNDERS.values()] + [list(lift_options().values())]
    for options in per_kind:
        for o in options:
            default = list(o.default) if isinstance(o.default, tuple) else o.default
            if defaults[o.name] != default:
                differing.add(o.name)
    assert differing == set(node.DEFAULT_OVERRIDES), 'a YAML default differs from its registry default: say why'
    assert all(len(why) > 15 for why in node.DEFAULT_OVERRIDES.values())
