"""The test tree mirrors the package: every package module with logic has a test module named after it
(``spatialvlm_ros/core/facts.py`` -> ``test/core/test_facts.py``, or ``test_<package>_<module>.py`` where the
plain name is taken elsewhere, e.g. ``test/vlm/test_vlm_base.py``), and test modules sit only in directories
that mirror package directories, in ``scenarios/`` (whole processes, DDS, the simulator, several modules
together) or nowhere else. Shared helpers live in ``support/`` and no test module imports another."""

from __future__ import annotations

import ast
from pathlib import Path

TEST = Path(__file__).resolve().parent
PACKAGE = TEST.parent / 'spatialvlm_ros'
APART = {'scenarios', 'support'}  # test/ directories that mirror no package directory

# Package modules with logic but no test module named after them; each says why.
EXCEPTIONS = {
    # exception classes only
    'core/errors.py': 'exception classes only',
    'messages/errors.py': 'exception classes only',
    'offline/errors.py': 'exception classes only',
    'ros/errors.py': 'exception classes only',
    'sim/errors.py': 'exception classes only',
    'vlm/errors.py': 'exception classes only',
    # thin entry points, run whole by the scenarios
    'commands/demo.py': 'thin CLI wrapper of demo.run; scenarios/test_demo.py runs the demo',
    'commands/sim.py': 'thin CLI wrapper of sim.record; sim/test_record.py records bags',
    'demo/run.py': 'the demo itself: scenarios/test_demo.py and scenarios/test_label_live.py',
    'demo/processes.py': 'process list of the demo: scenarios/test_demo.py',
    'ros/spatial_facts_node.py': 'a node: scenarios/test_nodes.py, test_fuzz.py, test_node_robot.py, '
                                 'ros/test_lifecycle.py, ros/test_frames.py',
    'ros/reward_node.py': 'a node: scenarios/test_nodes.py',
    'ros/replay.py': 'a node: scenarios/test_sim_time.py',
    # package __init__ whose functions every module test of the package goes through
    'core/lifting/__init__.py': 'lift_mask/lift_objects/lift_config_from_params: core/lifting/test_lifting_*.py',
    # covered through another module's tests, named there
    'core/grounding/hf.py': 'the transformers loader of the open-vocabulary detectors: test_grounding_open_vocab.py',
    'core/grounding/grounding_dino.py': 'an open-vocabulary detector: test_grounding_open_vocab.py (per kind)',
    'core/grounding/owlv2.py': 'an open-vocabulary detector: test_grounding_open_vocab.py (per kind)',
    'core/grounding/segmenter.py': 'box and SAM segmenters: test_grounding_open_vocab.py',
    'core/lifting/centroid.py': 'the centroid centre mode: test_lifting_cloud.py (every centre mode)',
    'sim/policy.py': 'the scripted policy: sim/test_scene.py (test_scripted_policy_places_the_block_on_the_target)',
    'cli.py': 'argument parsing and dispatch to the commands: commands/test_commands_*.py go through cli.main',
    'core/lifting/base.py': 'the centre-mode registry: core/lifting/test_lifting_cloud.py (test_a_registered_mode_...)',
}


def _has_logic(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree))


def _test_names(module: Path) -> list[Path]:
    """Where the test module of a package module may sit: test/<dir>/test_<name>.py or
    test/<dir>/test_<package>_<name>.py (an ``__init__`` is named after its package)."""
    rel = module.relative_to(PACKAGE)
    where = TEST.joinpath(*rel.parts[:-1])
    parent = rel.parts[-2] if len(rel.parts) > 1 else None
    name = parent if module.stem == '__init__' else module.stem
    names = [where / f'test_{name}.py']
    if parent and module.stem != '__init__':
        names.append(where / f'test_{parent}_{name}.py')
    return names


def _test_modules() -> list[Path]:
    return sorted(p for p in TEST.rglob('test_*.py') if '__pycache__' not in p.parts)


def test_every_module_with_logic_has_a_test_module_named_after_it():
    missing = []
    for module in sorted(PACKAGE.rglob('*.py')):
        rel = module.relative_to(PACKAGE).as_posix()
        if rel in EXCEPTIONS or not _has_logic(module):
            continue
        if not any(p.is_file() for p in _test_names(module)):
            missing.append(f'{rel}: expected {_test_names(module)[0].relative_to(TEST)}')
    assert not missing, 'package modules without a test module (add one, or an exception saying why):\n' + \
        '\n'.join(missing)


def test_exceptions_are_current():
    """An exception for a module that is gone, has no logic, or has its test module now is stale."""
    stale = [rel for rel in EXCEPTIONS
             if not (PACKAGE / rel).is_file() or not _has_logic(PACKAGE / rel)
             or any(p.is_file() for p in _test_names(PACKAGE / rel))]
    assert not stale, f'stale exceptions: {stale}'
    assert all(len(why) > 10 for why in EXCEPTIONS.values())


def test_test_modules_sit_in_directories_that_mirror_the_package():
    misplaced = []
    for path in _test_modules():
        rel = path.relative_to(TEST)
        if rel.parts[0] in APART and rel.parts[0] != 'support':
            continue
        if rel.parts[0] == 'support' or not (PACKAGE.joinpath(*rel.parts[:-1])).is_dir():
            misplaced.append(rel.as_posix())
    assert not misplaced, f'test modules outside a mirrored package directory or scenarios/: {misplaced}'


def test_basenames_are_unique_and_no_test_module_imports_another():
    """pytest's default (prepend) import mode imports test modules by basename, without __init__.py files."""
    names = [p.name for p in _test_modules()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    importing = []
    for path in _test_modules() + sorted((TEST / 'support').glob('*.py')) + [TEST / 'conftest.py']:
        for n in ast.walk(ast.parse(path.read_text())):
            mods = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                [n.module or ''] if isinstance(n, ast.ImportFrom) else []
            if any(m.split('.')[0].startswith(('test_', 'conftest')) for m in mods):
                importing.append(f'{path.relative_to(TEST)}: {mods}')
    assert not importing, importing
