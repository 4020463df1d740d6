"""bench/spatial_core.py end to end on a short episode: the JSON has every target, and the errors are finite."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from support.paths import REPO

pytest.importorskip('mujoco')
pytest.importorskip('gymnasium_robotics')
pytest.importorskip('rosbags')
pytest.importorskip('open3d')

ROOT = REPO
TARGETS = {
    'noise_free.center_error_median', 'noise_free.center_error_p95', 'noise_free.pair_distance_error_median',
    'noisy.pair_distance_error_median', 'noisy.block_size_rel_error_median', 'speed.ours_ms_median',
    *(f'qa.{suite}.{cond}.{metric}' for suite in ('eval', 'synth') for cond in ('noise_free', 'noisy')
      for metric in ('within_0.5x_2x', 'within_10pct', 'qualitative_accuracy_decided')),
}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_spatial_core_bench(tmp_path):
    out = tmp_path / 'core.json'
    env = {**os.environ, 'MUJOCO_GL': os.environ.get('MUJOCO_GL', 'egl')}
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'spatial_core.py'), '--seeds', '0', '--frames', '6', '--stride', '3',
         '--repeat', '1', '--cpu', '-1', '--cache', str(tmp_path / 'cache'), '--json-out', str(out), '--quiet'],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    report = json.loads(out.read_text())
    assert printed == report
    assert set(report['targets']) == TARGETS
    for name, t in report['targets'].items():
        assert set(t) == {'value', 'target', 'unit', 'met'}, name
        assert isinstance(t['met'], bool), name
    assert report['targets_met'] == f'{sum(t["met"] for t in report["targets"].values())}/{len(TARGETS)}'
    for cond in ('noise_free', 'noisy'):
        assert report[cond]['frames'] == 2
        for method in ('ours', 'open3d'):
            r = report[cond][method]
            assert set(r['center_error_m']) == {'gripper', 'block', 'target', 'pooled', 'pooled_without_gripper'}
            assert set(r['pair_distance_error_m']) == {'gripper-block', 'gripper-target', 'block-target', 'pooled'}
            for s in list(r['center_error_m'].values()) + list(r['pair_distance_error_m'].values()):
                assert s['n'] > 0 and all(_finite(s[k]) for k in ('median', 'p95', 'max')), (cond, method, s)
            assert r['missing'] == {'gripper': 0, 'block': 0, 'target': 0}
        size = report[cond]['ours']['block_size_rel_error']['pooled']
        assert size['n'] == 6 and _finite(size['median'])
        for suite in ('eval', 'synth'):
            qa = report[cond]['qa'][suite]
            assert qa['questions'] > 0 and qa['backend_errors'] == 0
            assert set(qa['by_pair']) == {'gripper-block', 'gripper-target', 'block-target'}
    for key in ('ours_ms', 'open3d_ms', 'ours_noisy_ms', 'open3d_noisy_ms'):
        assert report['speed'][key]['n'] == 2 and report['speed'][key]['median'] > 0
    assert set(report['comparison']['noise_free']) == {'ours', 'open3d'}
