"""LeRobot v3.0 datasets for the tests, written with pyarrow as lerobot 0.6.1 writes an image dataset
(``LeRobotDataset.create(..., use_videos=False)`` + ``save_episode``): colour PNGs and depth TIFFs
embedded in ``data/chunk-000/file-000.parquet`` as ``datasets.Image`` structs, the depth feature flagged
``info.is_depth_map`` with its ``depth_unit``; and ``bag_frames``, the camera frames of a bag as arrays."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

COLOR_KEY = 'observation.images.front'
DEPTH_KEY = 'observation.images.front_depth'


def bag_frames(bag: Path) -> tuple[list, tuple, tuple]:
    """([(rgb HxWx3 uint8, depth as the bag stores it), ...] in stamp order, K of 9, (width, height))
    of a bag whose colour, depth and camera_info share their stamps (the sim's)."""
    from spatialvlm_ros.messages.bag import open_reader, typestore_for
    from spatialvlm_ros.messages.convert import header_stamp_ns, image_and_encoding
    from spatialvlm_ros.offline.inputs import detect_topics

    topics = detect_topics(bag)
    ts = typestore_for()
    by_stamp: dict = {}
    with open_reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic in (topics.color, topics.depth, topics.info)]
        for conn, _, raw in reader.messages(connections=conns):
            msg = ts.deserialize_cdr(raw, conn.msgtype)
            by_stamp.setdefault(header_stamp_ns(msg), {})[conn.topic] = msg
    frames, k, size = [], None, None
    for stamp in sorted(by_stamp):
        m = by_stamp[stamp]
        rgb, enc = image_and_encoding(m[topics.color])
        assert enc == 'rgb8', enc
        depth, _ = image_and_encoding(m[topics.depth])
        frames.append((np.ascontiguousarray(rgb), np.ascontiguousarray(depth)))
        k, size = tuple(float(v) for v in m[topics.info].k), (int(m[topics.info].width), int(m[topics.info].height))
    return frames, k, size


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format='PNG', compress_level=1)
    return buf.getvalue()


def _depth_file(depth: np.ndarray, fmt: str) -> bytes:
    """lerobot's raw depth frame: TIFF without compression (uint16 -> I;16, float32 -> F), or a 16-bit PNG."""
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(depth if depth.dtype == np.uint16 else depth.astype(np.float32))  # I;16 / F
    im.save(buf, format='TIFF' if fmt == 'tiff' else 'PNG', **({'compression': 'raw'} if fmt == 'tiff' else {}))
    return buf.getvalue()


# lerobot.configs.video DepthEncoderConfig defaults: log quantisation to 12-bit codes (metres)
DEPTH_MIN, DEPTH_MAX, DEPTH_SHIFT = 0.01, 10.0, 3.5


def quantise_depth(metres: np.ndarray) -> np.ndarray:
    """lerobot.datasets.depth_utils.quantize_depth with its defaults (log): HxW metres -> uint16 codes 0..4095."""
    lo, hi = np.log(DEPTH_MIN + DEPTH_SHIFT), np.log(DEPTH_MAX + DEPTH_SHIFT)
    norm = (np.log(metres.astype(np.float32) + np.float32(DEPTH_SHIFT)) - lo) / (hi - lo)
    return np.rint(norm * 4095).clip(0, 4095).astype(np.uint16)


def _encode_video(path: Path, images: list, fps: int, depth: bool) -> None:
    """lerobot's streams with PyAV: depth as gray12le codes in lossless HEVC (its DepthEncoderConfig), colour
    as near-lossless H.264 (yuv444p, qp 0)."""
    from fractions import Fraction

    import av

    h, w = images[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), 'w') as container:
        if depth:
            stream = container.add_stream('libx265', rate=fps, options={'x265-params': 'lossless=1:log-level=error'})
            stream.pix_fmt = 'gray12le'
        else:
            stream = container.add_stream('libx264', rate=fps, options={'qp': '0'})
            stream.pix_fmt = 'yuv444p'
        stream.width, stream.height = w, h
        for i, img in enumerate(images):
            if depth:
                frame = av.VideoFrame(w, h, 'gray12le')
                plane = frame.planes[0]
                np.frombuffer(plane, dtype=np.uint16).reshape(h, plane.line_size // 2)[:, :w] = img
            else:
                frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_lerobot_rgbd(root: Path, episodes: list, fps: int = 30, task: str = 'pick and place', *,
                       color_key: str = COLOR_KEY, depth_key: str | None = DEPTH_KEY, depth_unit: str | None = 'mm',
                       depth_format: str = 'tiff', flag_depth: bool = True, extra_features: dict | None = None,
                       codebase_version: str = 'v3.0', videos: bool = False) -> Path:
    """A LeRobot image dataset at ``root``: ``episodes`` is a list of episodes, each a list of (rgb HxWx3
    uint8, depth HxW uint16 or float32) frames; depth_key None: no depth feature. ``timestamp`` is
    frame_index / fps (lerobot's), ``index`` runs over the dataset; a 2-vector ``action`` column stands
    for the robot's own data. videos: colour and depth as lerobot's video features instead (every episode
    in one videos/<key>/chunk-000/file-000.mp4, PyAV; depth quantised as lerobot does). Returns ``root``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    h, w = episodes[0][0][0].shape[:2]
    dh, dw = episodes[0][0][1].shape[:2]
    kind = 'video' if videos else 'image'
    feats = {
        color_key: {'dtype': kind, 'shape': [h, w, 3], 'names': ['height', 'width', 'channels'],
                    'info': {'is_depth_map': False}},
    }
    if depth_key is not None:
        info = {'is_depth_map': True} if flag_depth else {}
        if depth_unit is not None:
            info['depth_unit'] = depth_unit
        if videos:
            info.update({'video.codec': 'hevc', 'video.pix_fmt': 'gray12le', 'video.depth_min': DEPTH_MIN,
                         'video.depth_max': DEPTH_MAX, 'video.shift': DEPTH_SHIFT, 'video.use_log': True,
                         'video.extra_options': {'x265-params': 'lossless=1'}})
        feats[depth_key] = {'dtype': kind, 'shape': [dh, dw, 1], 'names': ['height', 'width', 'channels'],
                            'info': info}
    feats['action'] = {'dtype': 'float32', 'shape': [2], 'names': ['x', 'y']}
    feats.update(extra_features or {})
    for k in ('timestamp', 'frame_index', 'episode_index', 'index', 'task_index'):
        feats[k] = {'dtype': 'float32' if k == 'timestamp' else 'int64', 'shape': [1], 'names': None}
    images = () if videos else (color_key, *([depth_key] if depth_key else []))
    ids = ('timestamp', 'frame_index', 'episode_index', 'index', 'task_index')
    cols: dict = {k: [] for k in (*images, 'action', *ids)}
    eps = []
    index = 0
    for e, frames in enumerate(episodes):
        for i, (rgb, depth) in enumerate(frames):
            if not videos:
                cols[color_key].append({'bytes': _png(rgb), 'path': f'frame-{i:06d}.png'})
            if depth_key and not videos:
                cols[depth_key].append({'bytes': _depth_file(depth, depth_format),
                                        'path': f'frame-{i:06d}.{depth_format}'})
            cols['action'].append([0.1 * i, -0.1 * i])
            cols['timestamp'].append(i / fps)
            cols['frame_index'].append(i)
            cols['episode_index'].append(e)
            cols['index'].append(index + i)
            cols['task_index'].append(0)
        eps.append({'episode_index': e, 'tasks': [task], 'length': len(frames), 'data/chunk_index': 0,
                    'data/file_index': 0, 'dataset_from_index': index, 'dataset_to_index': index + len(frames),
                    'meta/episodes/chunk_index': 0, 'meta/episodes/file_index': 0})
        if videos:
            for key in (color_key, depth_key):
                eps[-1].update({f'videos/{key}/chunk_index': 0, f'videos/{key}/file_index': 0,
                                f'videos/{key}/from_timestamp': index / fps,
                                f'videos/{key}/to_timestamp': (index + len(frames)) / fps})
        index += len(frames)
    image = pa.struct([('bytes', pa.binary()), ('path', pa.string())])
    types = {color_key: image, depth_key: image, 'action': pa.list_(pa.float32(), 2), 'timestamp': pa.float32()}
    table = pa.table({k: pa.array(v, type=types.get(k, pa.int64())) for k, v in cols.items()})
    hf = {'info': {'features': {k: ({'_type': 'Image'} if k in images else
                                    {'dtype': feats[k]['dtype'], '_type': 'Value'}) for k in cols if k != 'action'}}}
    table = table.replace_schema_metadata({b'huggingface': json.dumps(hf).encode()})
    root = Path(root)
    if videos:
        every = [f for frames in episodes for f in frames]
        _encode_video(root / f'videos/{color_key}/chunk-000/file-000.mp4', [c for c, _ in every], fps, depth=False)
        _encode_video(root / f'videos/{depth_key}/chunk-000/file-000.mp4',
                      [quantise_depth(d.astype(np.float32) * np.float32(0.001 if d.dtype == np.uint16 else 1.0))
                       for _, d in every], fps, depth=True)
    (root / 'data/chunk-000').mkdir(parents=True)
    (root / 'meta/episodes/chunk-000').mkdir(parents=True)
    pq.write_table(table, root / 'data/chunk-000/file-000.parquet')
    pq.write_table(pa.Table.from_pylist(eps), root / 'meta/episodes/chunk-000/file-000.parquet')
    import pandas as pd

    pd.DataFrame({'task_index': [0]}, index=pd.Index([task])).to_parquet(root / 'meta/tasks.parquet')
    info = {'codebase_version': codebase_version, 'robot_type': None, 'total_episodes': len(episodes),
            'total_frames': index, 'total_tasks': 1, 'chunks_size': 1000, 'data_files_size_in_mb': 100,
            'video_files_size_in_mb': 200, 'fps': fps, 'splits': {'train': f'0:{len(episodes)}'},
            'data_path': 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
            'video_path': 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4', 'features': feats}
    (root / 'meta/info.json').write_text(json.dumps(info, indent=4))
    return root
