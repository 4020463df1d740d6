"""LeRobot dataset input (``offline.lerobot_input``, ``spatialvlm label --lerobot-in``): sim episodes written as
a LeRobot v3.0 image dataset (colour PNG, uint16 depth TIFF) label to the rewards of the same frames read from
their bags, frame for frame; the progress file reads back with pyarrow (and pandas, as lerobot's RA-BC reads
it) with lerobot's columns; what cannot be labelled fails before any work, naming what to do."""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip('rosbags')
pa = pytest.importorskip('pyarrow')
pytest.importorskip('PIL')
pytest.importorskip('pandas')
import pyarrow.parquet as pq  # noqa: E402

from spatialvlm_ros.offline import LabelConfig, OfflineError, RunOptions, label_bags, resolve_task  # noqa: E402
from spatialvlm_ros.offline.lerobot_input import (  # noqa: E402
    PROGRESS_COLUMN, PROGRESS_FILE, dequantise_depth, label_lerobot, open_lerobot, parse_episodes, parse_intrinsics)
from support.lerobot_datasets import COLOR_KEY, DEPTH_KEY, bag_frames, write_lerobot_rgbd  # noqa: E402

W, H, FRAMES, CHUNK = 160, 120, 10, 4
SERIAL = RunOptions(workers=1, progress=False)


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


@pytest.fixture(scope='module')
def sim(tmp_path_factory, task):
    """Two sim episodes (seeds 0 and 1, uint16 millimetre depth) as bags, labelled from the bags; their
    frames as arrays, the camera's K and the sim's frame rate."""
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import record_episode

    d = tmp_path_factory.mktemp('lerobot_in')
    bags = [record_episode(d / f'ep{s}', seed=s, frames=FRAMES, width=W, height=H, depth_encoding='16UC1',
                           progress=False) for s in (0, 1)]
    label_bags(bags, d / 'bag_out', LabelConfig(task=task, chunk_frames=CHUNK, bag=False), SERIAL)
    episodes, k, size = [], None, None
    for bag in bags:
        frames, k, size = bag_frames(bag)
        assert len(frames) == FRAMES and frames[0][1].dtype == np.uint16
        episodes.append(frames)
    stamps = pq.read_table(d / 'bag_out' / 'ep0' / 'frames.parquet').column('stamp_ns').to_pylist()
    fps = round(1e9 / float(np.median(np.diff(stamps))))
    return {'dir': d, 'bags': bags, 'episodes': episodes, 'k': k, 'size': size, 'fps': fps}


@pytest.fixture(scope='module')
def dataset(sim):
    return write_lerobot_rgbd(sim['dir'] / 'ds', sim['episodes'], fps=sim['fps'])


@pytest.fixture(scope='module')
def labelled(sim, dataset, task):
    out = sim['dir'] / 'lr_out'
    summary = label_lerobot(dataset, out, LabelConfig(task=task, chunk_frames=CHUNK), SERIAL,
                            intrinsics=(sim['k'], sim['size']))
    return out, summary


def _rows(path):
    return pq.read_table(path).to_pylist()


def test_rewards_equal_the_bags_frame_for_frame(sim, labelled):
    out, summary = labelled
    assert summary['bags'] == 2 and summary['frames'] == 2 * FRAMES and not summary['failures']
    for ep, bag in enumerate(('ep0', 'ep1')):
        want = _rows(sim['dir'] / 'bag_out' / bag / 'frames.parquet')
        got = _rows(out / f'episode_{ep:06d}' / 'frames.parquet')
        assert [r['frame'] for r in got] == list(range(FRAMES))
        # the rows' float32 timestamps (lerobot's frame_index / fps), in ns
        assert [r['stamp_ns'] for r in got] == [round(float(np.float32(i / sim['fps'])) * 1e9) for i in range(FRAMES)]
        for w, g in zip(want, got):
            for key in ('valid', 'reward', 'stage', 'stage_name', 'success', 'done', 'terms', 'distances', 'missing',
                        'error_kind'):
                assert g[key] == w[key], (ep, g['frame'], key)
            assert [o['center_m'] for o in g['objects']] == [o['center_m'] for o in w['objects']]
        assert any(r['valid'] for r in got)
        assert (out / f'episode_{ep:06d}' / 'reward.png').is_file()
        s = json.loads((out / f'episode_{ep:06d}' / 'summary.json').read_text())
        assert s['episode_index'] == ep and s['frames'] == FRAMES and s['topics']['color'] == COLOR_KEY
    # the two episodes differ (independent labelling of different data, not one copied twice)
    r0 = [r['reward'] for r in _rows(out / 'episode_000000' / 'frames.parquet')]
    r1 = [r['reward'] for r in _rows(out / 'episode_000001' / 'frames.parquet')]
    assert r0 != r1


def test_progress_file_reads_back_in_lerobots_format(sim, dataset, labelled):
    out, summary = labelled
    path = dataset / PROGRESS_FILE
    assert summary['lerobot_input']['progress'] == str(path) and summary['lerobot_input']['progress_rows'] == 2 * FRAMES
    t = pq.read_table(path)
    assert t.schema.names == ['index', 'episode_index', 'frame_index', PROGRESS_COLUMN] == [
        'index', 'episode_index', 'frame_index', 'progress_sparse']
    assert [f.type for f in t.schema] == [pa.int64(), pa.int64(), pa.int64(), pa.float32()]
    meta = t.schema.metadata
    assert meta[b'reward_model_path'] == b'spatialvlm_ros:geometric'
    assert json.loads(meta[b'spatialvlm'])['task'] == summary['task']
    rows = t.to_pylist()
    data = pq.read_table(dataset / 'data/chunk-000/file-000.parquet', columns=['index', 'episode_index', 'frame_index'])
    assert [(r['index'], r['episode_index'], r['frame_index']) for r in rows] == list(
        zip(*[data.column(c).to_pylist() for c in ('index', 'episode_index', 'frame_index')]))
    for r in rows:
        f = _rows(out / f'episode_{r["episode_index"]:06d}' / 'frames.parquet')[r['frame_index']]
        want = np.float32(f['reward']) if f['valid'] else None
        assert (math.isnan(r[PROGRESS_COLUMN]) if want is None else np.float32(r[PROGRESS_COLUMN]) == want)
    # as lerobot's RA-BC (rewards/sarm/rabc.py RABCWeights) reads it: pandas, progress_<head_mode>, NaN skipped
    import pandas as pd

    df = pd.read_parquet(path)
    lookup = {int(i): float(p) for i, p in zip(df['index'], df['progress_' + 'sparse']) if not np.isnan(p)}
    assert lookup and all(0.0 <= v <= 1.0 for v in lookup.values())
    # nothing else in the dataset changed
    assert sorted(str(p.relative_to(dataset)) for p in dataset.rglob('*') if p.is_file()) == [
        'data/chunk-000/file-000.parquet', 'meta/episodes/chunk-000/file-000.parquet', 'meta/info.json',
        'meta/tasks.parquet', PROGRESS_FILE]


def test_rerun_skips_and_rewrites_the_same_progress(sim, dataset, labelled, task):
    out, _ = labelled
    before = (dataset / PROGRESS_FILE).read_bytes()
    summary = label_lerobot(dataset, out, LabelConfig(task=task, chunk_frames=CHUNK), SERIAL,
                            intrinsics=(sim['k'], sim['size']))
    assert summary['bags_already_done'] == ['episode_000000', 'episode_000001']
    assert (dataset / PROGRESS_FILE).read_bytes() == before


def test_episode_subset_pool_workers_progress_elsewhere_and_export(sim, dataset, labelled, task, tmp_path):
    """One episode, two pool workers (chunks by reference, read in the workers), the progress file outside
    the dataset, and the --lerobot export of the labelled episode: all agree with the serial run."""
    out, _ = labelled
    prog = tmp_path / 'progress.parquet'
    summary = label_lerobot(dataset, tmp_path / 'o', LabelConfig(task=task, chunk_frames=CHUNK),
                            RunOptions(workers=2, progress=False), intrinsics=(sim['k'], sim['size']), episodes=[1],
                            progress=prog, lerobot=tmp_path / 'lr')
    assert summary['bags'] == 1 and summary['lerobot_input']['episodes'] == [1]
    got = _rows(tmp_path / 'o' / 'episode_000001' / 'frames.parquet')
    want = _rows(out / 'episode_000001' / 'frames.parquet')
    assert [r['reward'] for r in got] == [r['reward'] for r in want]
    t = pq.read_table(prog).to_pylist()
    assert [r['episode_index'] for r in t] == [1] * FRAMES and t[0]['index'] == FRAMES
    lr = pq.read_table(tmp_path / 'lr' / 'data/chunk-000/file-000.parquet')
    assert lr.column('next.reward').to_pylist() == pytest.approx(
        [r['reward'] if r['valid'] else 0.0 for r in want])
    # the other episode in a second run: the progress file keeps the first run's rows (same configuration)
    label_lerobot(dataset, tmp_path / 'o', LabelConfig(task=task, chunk_frames=CHUNK), SERIAL,
                  intrinsics=(sim['k'], sim['size']), episodes=[0], progress=prog)
    both = pq.read_table(prog)
    assert both.column('index').to_pylist() == list(range(2 * FRAMES))
    full = pq.read_table(dataset / PROGRESS_FILE)  # the run of both episodes at once
    for c in ('index', 'episode_index', 'frame_index'):
        assert both.column(c).to_pylist() == full.column(c).to_pylist()
    np.testing.assert_array_equal(both.column(PROGRESS_COLUMN).to_numpy(), full.column(PROGRESS_COLUMN).to_numpy())


def test_depth_units_float_metres_and_a_depth_scale(sim, labelled, task, tmp_path):
    """float32 metres (depth_unit m) give exactly the uint16 rewards; uint16 tenths of a millimetre with
    --depth-scale 0.0001 give them to float rounding; a 16-bit PNG reads like the TIFF."""
    out, _ = labelled
    want = [r['reward'] for r in _rows(out / 'episode_000000' / 'frames.parquet')]
    ep = sim['episodes'][0]
    metres = [(rgb, d.astype(np.float32) * np.float32(0.001)) for rgb, d in ep]
    tenths = [(rgb, (d.astype(np.uint32) * 10).clip(0, 65535).astype(np.uint16)) for rgb, d in ep]
    cases = [('m', write_lerobot_rgbd(tmp_path / 'm', [metres], fps=sim['fps'], depth_unit='m'), None, 0.0),
             ('png', write_lerobot_rgbd(tmp_path / 'png', [ep], fps=sim['fps'], depth_format='png'), None, 0.0),
             ('tenths', write_lerobot_rgbd(tmp_path / 't', [tenths], fps=sim['fps'], depth_unit=None), 0.0001, 1e-4)]
    for name, root, scale, tol in cases:
        s = label_lerobot(root, tmp_path / f'o_{name}', LabelConfig(task=task, chunk_frames=CHUNK), SERIAL,
                          intrinsics=(sim['k'], sim['size']), depth_scale=scale)
        got = [r['reward'] for r in _rows(tmp_path / f'o_{name}' / 'episode_000000' / 'frames.parquet')]
        assert [g is None for g in got] == [w is None for w in want], name
        assert [g for g in got if g is not None] == pytest.approx([w for w in want if w is not None], abs=tol), name
        assert s['lerobot_input']['streams']['depth_unit'] == f'{scale or (1.0 if name == "m" else 0.001):g} m per unit'


def test_missing_depth_intrinsics_and_unknown_features_fail_clearly(sim, dataset, task, tmp_path):
    intr = (sim['k'], sim['size'])
    cfg = LabelConfig(task=task)
    no_depth = write_lerobot_rgbd(tmp_path / 'nodepth', [sim['episodes'][0][:2]], depth_key=None)
    with pytest.raises(OfflineError, match=r'has no depth feature .*is_depth_map.*observation.images.front \(image') \
            as err:
        label_lerobot(no_depth, tmp_path / 'o', cfg, SERIAL, intrinsics=intr)
    assert err.value.kind == 'missing_features'
    with pytest.raises(OfflineError, match=r'no camera intrinsics: .*observation.images.front \(160x120\) with '
                                           r'--intrinsics fx,fy,cx,cy') as err:
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL)
    assert err.value.kind == 'intrinsics'
    with pytest.raises(OfflineError, match=r'--lerobot-depth observation.images.wrist_depth: no such feature\. Its '
                                           r'visual features: observation.images.front \(image \[120, 160, 3\]\), '
                                           r'observation.images.front_depth \(image \[120, 160, 1\], is_depth_map\)'):
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=intr, depth='observation.images.wrist_depth')
    with pytest.raises(OfflineError, match=r'--lerobot-color action: a float32 feature, not an image'):
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=intr, color='action')
    with pytest.raises(OfflineError, match=r'--lerobot-color observation.images.front_depth: not a colour image'):
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=intr, color=DEPTH_KEY)
    with pytest.raises(OfflineError, match=r'focal lengths fx=10000.0 fy=10000.0 are implausible for a 160x120') as err:
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=parse_intrinsics('10000,10000,80,60'))
    assert err.value.kind == 'intrinsics'
    with pytest.raises(OfflineError, match=r'--intrinsics are for a 640x480 image but observation.images.front is '
                                           r'160x120'):
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=(sim['k'], (640, 480)))
    with pytest.raises(OfflineError, match=r'has no episode\(s\) \[7\]; it has 2 \(0-1\)'):
        label_lerobot(dataset, tmp_path / 'o', cfg, SERIAL, intrinsics=intr, episodes=[7])
    with pytest.raises(OfflineError, match='no LeRobot dataset root') as err:
        label_lerobot(tmp_path, tmp_path / 'o', cfg, SERIAL, intrinsics=intr)
    assert err.value.kind == 'not_lerobot'
    old = write_lerobot_rgbd(tmp_path / 'v21', [sim['episodes'][0][:1]], codebase_version='v2.1')
    with pytest.raises(OfflineError, match=r'is v2.1; this reads v3.0') as err:
        label_lerobot(old, tmp_path / 'o', cfg, SERIAL, intrinsics=intr)
    assert err.value.kind == 'lerobot_version'
    assert not (tmp_path / 'o').exists()  # every check ran before any work


def test_ambiguous_cameras_pair_by_lerobots_depth_naming(sim, tmp_path):
    frames = [sim['episodes'][0][:1]]
    wrist = {'observation.images.wrist': {'dtype': 'image', 'shape': [H, W, 3], 'names': ['height', 'width',
                                                                                          'channels']}}
    root = write_lerobot_rgbd(tmp_path / 'two', frames, extra_features=wrist)
    # one depth map, 'front_depth': it belongs to 'front', so the second colour camera is no ambiguity
    inp = open_lerobot(root, intrinsics=(sim['k'], sim['size']))
    assert (inp.streams.color, inp.streams.depth) == (COLOR_KEY, DEPTH_KEY)
    other = write_lerobot_rgbd(tmp_path / 'odd', frames, depth_key='observation.images.depth', extra_features=wrist)
    with pytest.raises(OfflineError, match=r"several colour features \['observation.images.front', "
                                           r"'observation.images.wrist'\]: pick one with --lerobot-color") as err:
        open_lerobot(other, intrinsics=(sim['k'], sim['size']))
    assert err.value.kind == 'ambiguous_features'
    inp = open_lerobot(other, color='observation.images.wrist', intrinsics=(sim['k'], sim['size']))
    assert inp.streams.depth == 'observation.images.depth'


def test_video_features(sim, tmp_path):
    """A depth video without lerobot's depth quantisation is refused as not metric; a video needs PyAV."""
    frames = [sim['episodes'][0][:1]]
    vid = {'dtype': 'video', 'shape': [H, W, 1], 'names': ['height', 'width', 'channels'],
           'info': {'video.codec': 'h264', 'video.pix_fmt': 'yuv420p'}}
    root = write_lerobot_rgbd(tmp_path / 'v', frames, extra_features={'observation.images.front_depth': vid})
    with pytest.raises(OfflineError, match=r'is a video without lerobot\'s depth quantisation \(info.is_depth_map\): '
                                           r'its pixels are codec values') as err:
        open_lerobot(root, intrinsics=(sim['k'], sim['size']))
    assert err.value.kind == 'depth_not_metric'
    try:
        import av  # noqa: F401
    except ImportError:
        flagged = dict(vid, info={'is_depth_map': True, 'video.codec': 'hevc'})
        root = write_lerobot_rgbd(tmp_path / 'v2', frames, extra_features={'observation.images.front_depth': flagged})
        with pytest.raises(OfflineError, match=r'stored as video; decoding it needs PyAV \(pip install av\)') as err:
            open_lerobot(root, intrinsics=(sim['k'], sim['size']))
        assert err.value.kind == 'dependency'


def test_dequantise_depth_inverts_lerobots_quantisation():
    """lerobot.datasets.depth_utils.quantize_depth (log: (log(d + shift) - log(min + shift)) / (log(max + shift) -
    log(min + shift)) * 4095, rounded; linear likewise): dequantised to within half a quantum."""
    d = np.linspace(0.2, 3.0, 500, dtype=np.float32).reshape(20, 25)
    for use_log in (True, False):
        lo, hi, shift = 0.01, 10.0, 3.5
        if use_log:
            norm = (np.log(d + shift) - math.log(lo + shift)) / (math.log(hi + shift) - math.log(lo + shift))
        else:
            norm = (d - lo) / (hi - lo)
        codes = np.rint(norm * 4095).clip(0, 4095).astype(np.uint16)
        back = dequantise_depth(codes, lo, hi, shift, use_log)
        assert back.dtype == np.float32 and back.shape == d.shape
        step = (d + shift) * (math.log(hi + shift) - math.log(lo + shift)) / 4095 if use_log else (hi - lo) / 4095
        assert np.all(np.abs(back - d) <= step / 2 + 1e-5)
    assert dequantise_depth(np.zeros((1, 1), np.uint16), 0.01, 10.0, 3.5, True)[0, 0] == pytest.approx(0.01)


def test_progress_file_of_another_model_is_not_replaced(sim, task, tmp_path):
    root = write_lerobot_rgbd(tmp_path / 'ds', [sim['episodes'][0][:2]], fps=sim['fps'])
    foreign = pa.table({'index': pa.array([0, 1], pa.int64()), 'progress_sparse': pa.array([0.1, 0.2], pa.float32())})
    pq.write_table(foreign, root / PROGRESS_FILE)
    with pytest.raises(OfflineError, match=r'exists and was not written by spatialvlm') as err:
        label_lerobot(root, tmp_path / 'o', LabelConfig(task=task), SERIAL, intrinsics=(sim['k'], sim['size']))
    assert err.value.kind == 'exists' and pq.read_table(root / PROGRESS_FILE).equals(foreign)


def test_bag_options_are_refused(sim, dataset, task, tmp_path):
    with pytest.raises(OfflineError, match='a LeRobot dataset has no topics'):
        label_lerobot(dataset, tmp_path / 'o', LabelConfig(task=task, color_topic='/c'), SERIAL,
                      intrinsics=(sim['k'], sim['size']))


def test_option_parsers(tmp_path):
    assert parse_intrinsics('500, 501, 320, 240') == ((500.0, 0.0, 320.0, 0.0, 501.0, 240.0, 0.0, 0.0, 1.0), None)
    calib = tmp_path / 'cam.yaml'
    calib.write_text('image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n  cols: 3\n'
                     '  data: [500, 0, 320, 0, 501, 240, 0, 0, 1]\n')
    assert parse_intrinsics(str(calib)) == ((500.0, 0.0, 320.0, 0.0, 501.0, 240.0, 0.0, 0.0, 1.0), (640, 480))
    info = tmp_path / 'info.yaml'
    info.write_text('width: 64\nheight: 48\nk: [60, 0, 31.5, 0, 60, 23.5, 0, 0, 1]\n')
    assert parse_intrinsics(str(info))[1] == (64, 48)
    for bad in ('500,501,320', 'a,b,c,d'):
        with pytest.raises(OfflineError, match='--intrinsics'):
            parse_intrinsics(bad)
    (tmp_path / 'bad.yaml').write_text('foo: 1\n')
    with pytest.raises(OfflineError, match='not a camera calibration'):
        parse_intrinsics(str(tmp_path / 'bad.yaml'))
    assert parse_episodes('0,3,5-7') == [0, 3, 5, 6, 7] and parse_episodes(None) is None
    with pytest.raises(OfflineError, match='--episodes'):
        parse_episodes('x')


def test_cli_labels_a_lerobot_dataset(sim, dataset, labelled, tmp_path, capsys):
    from spatialvlm_ros.cli import main

    k = sim['k']
    intr = f'{k[0]},{k[4]},{k[2]},{k[5]}'
    ds = tmp_path / 'ds'
    shutil.copytree(dataset, ds)
    (ds / PROGRESS_FILE).unlink()
    assert main(['label', '--lerobot-in', str(ds), '--intrinsics', intr, '--out', str(tmp_path / 'o'),
                 '--workers', '1', '--no-progress', '--chunk-frames', str(CHUNK)]) == 0
    text = capsys.readouterr().out
    assert f'2 episode(s) of {ds.resolve()}' in text and f'{ds.resolve() / PROGRESS_FILE}' in text
    assert 'progress_sparse, 20 rows' in text and 'labelled/' not in text
    out, _ = labelled
    assert pq.read_table(tmp_path / 'o' / 'episode_000001' / 'frames.parquet').column('reward').equals(
        pq.read_table(out / 'episode_000001' / 'frames.parquet').column('reward'))
    # a dataset root where a bag goes, bag-only options without one, both inputs at once: one clear line each
    assert main(['label', str(ds), '--out', str(tmp_path / 'o2')]) == 1
    assert f'{ds} is a LeRobot dataset, not a bag: label it with --lerobot-in' in capsys.readouterr().err
    assert main(['label', str(sim['bags'][0]), '--intrinsics', intr, '--out', str(tmp_path / 'o2')]) == 1
    assert '--intrinsics apply to a LeRobot dataset input' in capsys.readouterr().err
    assert main(['label', str(sim['bags'][0]), '--lerobot-in', str(ds), '--out', str(tmp_path / 'o2')]) == 1
    assert 'not both' in capsys.readouterr().err
    assert main(['label', '--out', str(tmp_path / 'o2')]) == 1
    assert 'no input' in capsys.readouterr().err
    assert main(['label', '--lerobot-in', str(ds), '--out', str(tmp_path / 'o2')]) == 1
    assert 'LeRobot datasets carry no camera intrinsics' in capsys.readouterr().err


def test_interrupted_run_resumes_to_the_same_outputs(sim, dataset, labelled, task, tmp_path, monkeypatch):
    """Ctrl-C after the first chunk keeps it; the same call again labels only the rest, with the same rows."""
    import spatialvlm_ros.offline.lerobot_input as lri

    out, _ = labelled
    real, calls = lri.label_frames, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lri, 'label_frames', interrupted)
    kwargs = dict(intrinsics=(sim['k'], sim['size']), progress=tmp_path / 'p.parquet')
    with pytest.raises(KeyboardInterrupt):
        label_lerobot(dataset, tmp_path / 'o', LabelConfig(task=task, chunk_frames=CHUNK), SERIAL, **kwargs)
    assert (tmp_path / 'o' / '.work' / 'episode_000000' / 'chunks' / '000000' / 'done.json').is_file()
    assert not (tmp_path / 'p.parquet').exists()
    monkeypatch.setattr(lri, 'label_frames', real)
    summary = label_lerobot(dataset, tmp_path / 'o', LabelConfig(task=task, chunk_frames=CHUNK), SERIAL, **kwargs)
    first = json.loads((tmp_path / 'o' / 'episode_000000' / 'summary.json').read_text())
    assert first['throughput']['resumed_chunks'] == 1 and summary['frames'] == 2 * FRAMES
    for ep in (0, 1):
        name = f'episode_{ep:06d}/frames.parquet'
        assert pq.read_table(tmp_path / 'o' / name).drop(['vlm']).to_pylist() == pq.read_table(
            out / name).drop(['vlm']).to_pylist()
    assert not (tmp_path / 'o' / '.work' / 'episode_000000').exists()


def test_video_dataset_labels_like_the_images(sim, labelled, task, tmp_path):
    """Where PyAV imports: the episodes as lerobot's video features (colour near-lossless H.264, depth as
    lerobot's 12-bit log codes in lossless HEVC, every episode in one file) decode to the image dataset's
    frames (depth to one quantum) and label to its rewards within that."""
    pytest.importorskip('av')
    from spatialvlm_ros.offline.lerobot_input import read_chunk

    root = write_lerobot_rgbd(tmp_path / 'vid', sim['episodes'], fps=sim['fps'], videos=True)
    assert not any('observation' in c for c in pq.read_schema(root / 'data/chunk-000/file-000.parquet').names)
    inp = open_lerobot(root, intrinsics=(sim['k'], sim['size']))
    assert inp.streams.color_video and inp.streams.depth_video
    ep = inp.episodes[1]
    assert ep.videos[0][2] == pytest.approx(FRAMES / sim['fps'])
    items = read_chunk(inp, ep, 0, FRAMES)
    assert [fj.index for fj, _ in items] == list(range(FRAMES))
    for (fj, decode), (rgb, depth) in zip(items, sim['episodes'][1]):
        frame, _ = decode()
        assert np.abs(frame.rgb.astype(int) - rgb).max() <= 3
        metres = depth.astype(np.float32) * np.float32(0.001)
        ok = np.isfinite(frame.depth) & (depth > 0)
        step = (metres[ok] + 3.5) * (math.log(13.5) - math.log(3.51)) / 4095
        assert ok.sum() > 0.5 * depth.size and np.all(np.abs(frame.depth[ok] - metres[ok]) <= step / 2 + 1e-5)
    s = label_lerobot(root, tmp_path / 'o', LabelConfig(task=task, chunk_frames=CHUNK), SERIAL,
                      intrinsics=(sim['k'], sim['size']))
    assert s['frames'] == 2 * FRAMES and not s['failures']
    out, _ = labelled
    for e in (0, 1):
        name = f'episode_{e:06d}/frames.parquet'
        got, want = _rows(tmp_path / 'o' / name), _rows(out / name)
        assert [g['valid'] for g in got] == [w['valid'] for w in want]
        assert [g['reward'] for g in got if g['valid']] == pytest.approx([w['reward'] for w in want if w['valid']],
                                                                         abs=0.02)


_LEROBOT_READS = r'''
import json, sys
from pathlib import Path
try:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    try:
        from lerobot.rewards.sarm.rabc import RABCWeights  # lerobot >= 0.5
    except ImportError:
        from lerobot.utils.rabc import RABCWeights  # lerobot 0.4
except Exception as err:
    print(json.dumps({'skip': f'{type(err).__name__}: {err}'}))
    sys.exit(0)
root = Path(sys.argv[1])
ds = LeRobotDataset('local/spatialvlm_in', root=root)
depth = ds[3]['observation.images.front_depth']
w = RABCWeights(progress_path=root / 'spatialvlm_progress.parquet', chunk_size=2, head_mode='sparse', device='cpu')
print(json.dumps({'frames': len(ds), 'episodes': ds.meta.total_episodes, 'depth_max': float(depth.max()),
                  'progress': {str(k): v for k, v in w.progress_lookup.items()}}))
'''


def test_lerobot_reads_the_dataset_and_the_progress_file(sim, dataset, labelled):
    """Where lerobot imports (it needs torch and torchvision; in a subprocess, so that its native stack meets no
    renderer): LeRobotDataset loads the input dataset, and RA-BC's RABCWeights the progress file, taking every
    frame with a reward and no other."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, '-c', _LEROBOT_READS, str(dataset)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout.strip().splitlines()[-1])
    if 'skip' in doc:
        pytest.skip(f'lerobot does not import here: {doc["skip"]}')
    assert doc['frames'] == 2 * FRAMES and doc['episodes'] == 2
    assert doc['depth_max'] == float(sim['episodes'][0][3][1].max())  # uint16 millimetres as stored
    t = pq.read_table(dataset / PROGRESS_FILE).to_pylist()
    assert doc['progress'] == {str(r['index']): pytest.approx(r[PROGRESS_COLUMN]) for r in t
                               if not math.isnan(r[PROGRESS_COLUMN])}


def test_ray_labels_a_dataset_like_one_process(sim, dataset, labelled, task, tmp_path):
    """Ray workers (a local instance) give the serial run's rows and the same progress file."""
    ray = pytest.importorskip('ray')
    out, _ = labelled
    prog = tmp_path / 'progress.parquet'
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        label_lerobot(dataset, tmp_path / 'ray', LabelConfig(task=task, chunk_frames=CHUNK),
                      RunOptions(progress=False, ray_address='auto'), intrinsics=(sim['k'], sim['size']),
                      progress=prog)
    finally:
        ray.shutdown()
    for ep in ('episode_000000', 'episode_000001'):
        got, want = _rows(tmp_path / 'ray' / ep / 'frames.parquet'), _rows(out / ep / 'frames.parquet')
        assert [(r['reward'], r['stage'], r['distances']) for r in got] == \
            [(r['reward'], r['stage'], r['distances']) for r in want]
    full = pq.read_table(dataset / PROGRESS_FILE)
    np.testing.assert_array_equal(pq.read_table(prog).column(PROGRESS_COLUMN).to_numpy(),
                                  full.column(PROGRESS_COLUMN).to_numpy())
