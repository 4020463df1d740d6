"""The offline labeller is the live path: same PipelineConfig as the node, and the same rewards as
the live nodes over DDS on the same frames (``spatialvlm demo``). The same markers: test_markers.py."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip('rosbags')
pq = pytest.importorskip('pyarrow.parquet')

from spatialvlm_ros.offline import LabelConfig, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.config import default_params, pipeline_config_from_params  # noqa: E402


def test_pipeline_config_is_the_nodes():
    """The offline labeller and the live node build their pipeline with one function."""
    import ast
    from pathlib import Path

    from spatialvlm_ros.core import params as core_params
    from spatialvlm_ros.core.errors import SpatialError
    from spatialvlm_ros.offline.errors import OfflineError

    node_src = Path(core_params.__file__).parents[1] / 'ros' / 'spatial_facts_node.py'
    calls = [n.func.id for n in ast.walk(ast.parse(node_src.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert 'pipeline_config_from_params' in calls
    _, task = resolve_task(None)
    p = default_params()
    p.update(grounder='color', center_mode='centroid', fact_margin_m=0.05, min_points=7)
    assert pipeline_config_from_params(p, task) == core_params.pipeline_config_from_params(p, task)
    p.update(flat_objects=['nothing'])
    with pytest.raises(SpatialError, match='flat_objects'):
        core_params.pipeline_config_from_params(p, task)
    with pytest.raises(OfflineError, match='flat_objects'):
        pipeline_config_from_params(p, task)


def test_offline_rewards_equal_the_live_nodes_on_the_demo_bag(tmp_path):
    pytest.importorskip('rclpy')
    pytest.importorskip('mujoco')
    from spatialvlm_ros.demo import run_demo
    from spatialvlm_ros.demo.processes import EE

    summary = run_demo(name='live', seed=0, frames=40, width=320, height=240, out_root=tmp_path)
    assert summary.get('gripper', 'kinematic') == 'kinematic'  # the demo's default: the robot knows its gripper
    live = {}
    for line in (tmp_path / 'live' / 'rewards.jsonl').read_text().splitlines():
        doc = json.loads(line)
        live[doc['stamp_ns']] = doc
    assert len(live) >= 38, f'the live nodes published {len(live)} of 40 frames'
    bag = Path(summary['bag'])
    _, task = resolve_task(None)
    # the demo's node parameters: gripper from /robot/ee_position (world), results in world
    params = default_params()
    params.update(summary['node_params'])
    config = LabelConfig(task=task, params=params, kinematic=(('gripper', EE),))
    label_bags([bag], tmp_path / 'offline', config, RunOptions(workers=2, progress=False))
    rows = {r['stamp_ns']: r for r in pq.read_table(tmp_path / 'offline' / bag.name / 'frames.parquet').to_pylist()}
    assert set(live) <= set(rows)
    diffs = []
    for stamp, doc in live.items():
        row = rows[stamp]
        assert (row['valid'], row['stage'], row['success']) == (doc['valid'], doc['stage'], doc['success'])
        if doc['reward'] is not None:
            diffs.append(abs(row['reward'] - doc['reward']))
        for key, d in doc['distances'].items():
            assert row['distances'][key] == pytest.approx(d, abs=1e-12)
    print(f'max |offline - live| reward over {len(diffs)} frames: {max(diffs):.3g}')
    assert max(diffs) < 1e-9
