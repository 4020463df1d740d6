"""LeRobot dataset input: label the episodes of a LeRobot v3.0 dataset with colour and depth in place of
a bag, and write the reward as lerobot's own reward tooling writes per-frame progress.

Pinned: lerobot v0.6.1 (the newest release on PyPI; tag v0.6.1, commit 7e241bd63); what is used here
is unchanged at huggingface/lerobot main 7427f31 (0.6.2.dev), where the depth-map test moved from
``LeRobotDatasetMetadata.depth_keys`` into ``configs/video.py`` ``is_depth_map`` with the same meaning.
Checked by the tests against lerobot 0.4.4 where it imports (the newest lerobot that installs on
Python 3.11): ``LeRobotDataset`` loads such a dataset and RA-BC's ``RABCWeights`` the progress file.

What is read (``root``, ``CODEBASE_VERSION`` "v3.0"; ``lerobot/datasets/utils.py``)::

    meta/info.json                       codebase_version, fps, features, data_path, video_path
    data/chunk-*/file-*.parquet          one row per frame: episode_index, frame_index, index, timestamp
                                         (float32 s since the episode's first frame) and every
                                         ``dtype: image`` feature as struct<bytes: binary, path: string>
                                         (Hugging Face ``datasets.Image``: the encoded file's bytes)
    meta/episodes/chunk-*/file-*.parquet videos/<key>/chunk_index, file_index, from_timestamp per episode
    videos/<key>/chunk-*/file-*.mp4      ``dtype: video`` features (decoded with PyAV when installed)

Colour: a ``(H, W, 3)`` image or video feature (``observation.images.<camera>``). Depth
(``lerobot/datasets/dataset_metadata.py`` ``depth_keys``, ``lerobot/utils/feature_utils.py``): a feature
whose ``info`` carries ``is_depth_map: true`` (legacy ``video.is_depth_map``), shape ``(H, W, 1)``;
lerobot's robots name it ``observation.images.<camera>_depth``. Its unit is ``info.depth_unit``
(``"mm"`` or ``"m"``, recorded from the first frame's dtype: integer = millimetres, float = metres;
the same rule applies when it is missing; ``depth_scale`` overrides it). As an image, lerobot stores
one raw TIFF per frame (``frame-000000.tiff``, uint16 mm or float32 m), embedded in the parquet
like any image; 16-bit PNGs are read too. As a video (``lerobot/datasets/depth_utils.py``): 12-bit
codes (``gray12le``, HEVC, lossless by default) of a log (default) or linear quantisation between
``video.depth_min`` and ``video.depth_max`` metres with ``video.shift``: dequantised here with the
same formula, so a lossless stream gives metric depth to one quantum (~1.5 mm at 1 m with the
defaults); a lossy codec adds its error. A single-channel video without ``is_depth_map`` holds 8-bit
codec values, not metric depth, and is refused. Camera intrinsics are in no LeRobot dataset: the
caller gives them (:func:`parse_intrinsics`).

What is written: the labeller's usual outputs per episode (``offline.runner`` layout, one
``episode_<index>`` directory each; episodes are labelled independently), and the reward in the
per-frame progress format of lerobot's reward models (``lerobot/rewards/sarm/compute_rabc_weights.py``,
whose schema ``rewards/robometer`` and ``rewards/topreward`` share; read by RA-BC sample weighting,
``lerobot/rewards/sarm/rabc.py`` ``RABCWeights``, with ``--sample_weighting.progress_path``)::

    <root>/spatialvlm_progress.parquet   index, episode_index, frame_index (int64), progress_sparse
                                         (float32: the task's reward in [0, 1], NaN where the frame has
                                         none), sorted by index; schema metadata reward_model_path

``progress_sparse`` is the column the single-head models (robometer, topreward) write and RA-BC's
default ``head_mode`` reads; RA-BC skips NaN frames. The file is the one thing added to the dataset
(lerobot's tools add theirs, ``sarm_progress.parquet``, the same way); nothing of the dataset is changed,
and an existing progress file is only replaced when this module wrote it (keeping the rows of the
episodes a run did not label when it was written with the same configuration).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from ..core.depth import make_frame
from ..core.errors import FrameError
from ..core.types import Intrinsics
from ..messages.convert import checked_intrinsics
from ..messages.rgbd_files import check_stream_depth
from .bagio import Chunk, ReadStats
from .chunks import write_chunk_dir
from .config import LabelConfig
from .errors import OfflineError
from .table import pyarrow_modules
from .labeller import ChunkResult, FrameJob, label_frames
from .runner import ChunkWork, InputJob, RunOptions, _write_atomic, export_lerobot, run_jobs

__all__ = ['CODEBASE_VERSION', 'PROGRESS_FILE', 'PROGRESS_COLUMN', 'LeRobotStreams', 'LeRobotEpisode',
           'LeRobotInput', 'open_lerobot', 'parse_intrinsics', 'parse_episodes', 'is_lerobot_root', 'label_lerobot',
           'write_progress', 'read_chunk']

logger = logging.getLogger(__name__)

CODEBASE_VERSION = 'v3.0'
PROGRESS_FILE = 'spatialvlm_progress.parquet'
PROGRESS_COLUMN = 'progress_sparse'
INFO_PATH = 'meta/info.json'
# lerobot/configs/video.py: 12-bit depth codes and the depth encoder's defaults (metres)
DEPTH_QMAX = 4095
DEPTH_DEFAULTS = {'depth_min': 0.01, 'depth_max': 10.0, 'shift': 3.5, 'use_log': True}
_METADATA_KEY = b'spatialvlm'


def _pa():
    return pyarrow_modules('reading LeRobot datasets')


@dataclass(frozen=True)
class LeRobotStreams:
    """Which features of the dataset are the colour and depth images, and how to read them."""

    color: str  # feature key, e.g. 'observation.images.front'
    depth: str  # feature key, e.g. 'observation.images.front_depth'
    intrinsics: Intrinsics  # of the colour image (pixels), given by the user
    # metres per stored depth unit (0.001 for millimetres); for a depth video, its dequantisation instead
    depth_scale: float
    depth_unit: str  # what the scale came from: 'mm', 'm' (info.depth_unit or the dtype rule) or 'given'
    color_video: bool = False
    depth_video: bool = False
    # a depth video's quantisation (depth_min, depth_max, shift, use_log), metres
    depth_quantisation: Optional[tuple] = None

    def by_stream(self) -> dict:
        i = self.intrinsics
        return {'color': self.color, 'depth': self.depth,
                'intrinsics': f'{i.fx:g},{i.fy:g},{i.cx:g},{i.cy:g} ({i.width}x{i.height})',
                'depth_unit': 'quantised video' if self.depth_video else f'{self.depth_scale:g} m per unit'}


@dataclass(frozen=True)
class LeRobotEpisode:
    """One episode: its frames' ``frame_index`` values cut into chunks, the data files holding its rows
    and, per video feature, (video file relative to the root, the episode's first timestamp in it)."""

    index: int
    length: int
    # ((first frame_index, last frame_index + 1, frames, first lead frame_index), ...): a chunk's
    # lead frames (labeller.label_frames) are those from the last up to its first frame_index.
    chunks: tuple
    files: tuple  # data files (relative to the root) with rows of this episode
    videos: tuple = ()  # ((feature key, video file, from_timestamp s), ...)


@dataclass(frozen=True)
class LeRobotInput:
    """An opened dataset: what :func:`open_lerobot` checked, picklable (it travels to the workers)."""

    root: str
    fps: int
    streams: LeRobotStreams
    episodes: tuple  # LeRobotEpisode, in labelling order

    def signature(self, episode: LeRobotEpisode) -> dict:
        """What identifies the episode's input cheaply: its files' names, sizes and mtimes."""
        root = Path(self.root)
        files = [INFO_PATH, *episode.files, *(v for _, v, _ in episode.videos)]
        return {f: [(root / f).stat().st_size, int((root / f).stat().st_mtime_ns)] for f in files}


def is_lerobot_root(path: Path) -> bool:
    """Whether ``path`` looks like a LeRobot dataset root (it has meta/info.json)."""
    return (Path(path) / INFO_PATH).is_file()


def parse_intrinsics(value: str) -> tuple[tuple, Optional[tuple]]:
    """``--intrinsics``: ``fx,fy,cx,cy`` (pixels) or a camera calibration YAML (ROS camera_calibration's
    ``camera_matrix: {data: [9]}`` with ``image_width``/``image_height``, or a CameraInfo's ``k``,
    ``width``, ``height``) -> (row-major K of 9, (width, height) or None). Raises OfflineError."""
    parts = [p.strip() for p in value.split(',')]
    if len(parts) == 4:
        try:
            fx, fy, cx, cy = (float(p) for p in parts)
        except ValueError:
            raise OfflineError(f'--intrinsics: expected fx,fy,cx,cy (numbers, pixels), got {value!r}',
                               kind='params') from None
        return (fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0), None
    path = Path(value)
    if not path.is_file():
        raise OfflineError(f'--intrinsics: expected fx,fy,cx,cy (pixels) or a camera calibration YAML file, got '
                           f'{value!r} (no such file)', kind='params')
    import yaml

    try:
        doc = yaml.safe_load(path.read_text()) or {}
        if 'camera_matrix' in doc:
            k, size = doc['camera_matrix']['data'], (doc['image_width'], doc['image_height'])
        else:
            k = doc.get('k', doc.get('K'))
            size = (doc['width'], doc['height']) if 'width' in doc and 'height' in doc else None
        k = tuple(float(v) for v in k)
        if len(k) != 9:
            raise ValueError(f'K has {len(k)} values, expected 9')
        size = None if size is None else (int(size[0]), int(size[1]))
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as err:
        raise OfflineError(f'--intrinsics {path}: not a camera calibration (camera_matrix.data with image_width and '
                           f'image_height, or k with width and height): {err}', kind='params') from err
    return k, size


def parse_episodes(value: Optional[str]) -> Optional[list[int]]:
    """``--episodes``: ``0,3,5-7`` -> [0, 3, 5, 6, 7]; None: every episode."""
    if value is None:
        return None
    out: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in value.split(','))):
            lo, sep, hi = part.partition('-')
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise OfflineError(f'--episodes: expected indices and ranges like 0,3,5-7, got {value!r}',
                           kind='params') from None
    return out


# ---------------------------------------------------------------------------------------------------- features

def _is_depth_map(ft: dict) -> bool:
    """lerobot.configs.video.is_depth_map: info.is_depth_map, or the legacy video.is_depth_map."""
    info = ft.get('info') or {}
    video_info = ft.get('video_info')
    return bool(info.get('is_depth_map') or info.get('video.is_depth_map')
                or (isinstance(video_info, dict) and video_info.get('video.is_depth_map')))


def _hwc(ft: dict) -> tuple:
    """(height, width, channels) of an image/video feature (``names`` or the (H, W, C) convention)."""
    shape = [int(v) for v in ft.get('shape') or ()]
    names = list(ft.get('names') or [])
    if len(shape) == 2:
        return shape[0], shape[1], 1
    if len(shape) != 3:
        return None, None, None
    if all(n in names for n in ('height', 'width', 'channels')):
        return tuple(shape[names.index(n)] for n in ('height', 'width', 'channels'))
    if shape[0] in (1, 3) and shape[2] not in (1, 3):  # channel-first
        return shape[1], shape[2], shape[0]
    return tuple(shape)


def _listing(features: dict) -> str:
    vis = [f'{k} ({ft["dtype"]} {list(ft.get("shape") or [])}{", is_depth_map" if _is_depth_map(ft) else ""})'
           for k, ft in features.items() if ft.get('dtype') in ('image', 'video')]
    return ', '.join(vis) or 'no image or video features'


def _pick_features(root: Path, features: dict, color: Optional[str], depth: Optional[str]) -> tuple[str, str]:
    visual = {k: ft for k, ft in features.items() if ft.get('dtype') in ('image', 'video')}
    depths = [k for k, ft in visual.items() if _is_depth_map(ft) or _hwc(ft)[2] == 1]
    colours = [k for k, ft in visual.items() if k not in depths and _hwc(ft)[2] == 3]
    problems = []
    for flag, key, kind, pool in (('--lerobot-color', color, 'colour', colours), ('--lerobot-depth', depth, 'depth',
                                                                                 depths)):
        if key is None:
            continue
        if key not in features:
            problems.append(f'{flag} {key}: no such feature')
        elif key not in visual:
            problems.append(f'{flag} {key}: a {features[key].get("dtype")} feature, not an image or video')
        elif key not in pool:
            problems.append(f'{flag} {key}: not a {kind} image ({"a depth map" if kind == "colour" else "3 channels"})')
    if problems:
        raise OfflineError(f'LeRobot dataset {root}: ' + '; '.join(problems) + f'. Its visual features: '
                           f'{_listing(features)}', kind='missing_features')
    if not depths and depth is None:
        raise OfflineError(
            f'LeRobot dataset {root} has no depth feature (an image or video feature with info.is_depth_map, shape '
            f'(H, W, 1), as lerobot records a camera with use_depth: true); its visual features: {_listing(features)}. '
            'Depth is what the reward is measured on', kind='missing_features')
    if not colours and color is None:
        raise OfflineError(f'LeRobot dataset {root} has no colour image feature (shape (H, W, 3)); its visual '
                           f'features: {_listing(features)}', kind='missing_features')
    # Several cameras: lerobot names a camera's depth '<colour key>_depth'; one such pair is unambiguous.
    cand_c = [color] if color else colours
    cand_d = [depth] if depth else depths
    pairs = [(c, d) for c in cand_c for d in cand_d if d == f'{c}_depth']
    if len(cand_c) == 1 and len(cand_d) == 1:
        return cand_c[0], cand_d[0]
    if len(pairs) == 1:
        return pairs[0]
    several = []
    if len(cand_c) > 1:
        several.append(f'colour features {cand_c}: pick one with --lerobot-color')
    if len(cand_d) > 1:
        several.append(f'depth features {cand_d}: pick one with --lerobot-depth')
    raise OfflineError(f'LeRobot dataset {root}: several ' + '; '.join(several), kind='ambiguous_features')


def _depth_scale(root: Path, key: str, ft: dict, depth_scale: Optional[float]) -> tuple[float, str]:
    if depth_scale is not None:
        if not (isinstance(depth_scale, (int, float)) and math.isfinite(depth_scale) and depth_scale > 0):
            raise OfflineError(f'--depth-scale: expected metres per depth unit > 0, got {depth_scale!r}', kind='params')
        return float(depth_scale), 'given'
    unit = (ft.get('info') or {}).get('depth_unit')
    if unit in ('mm', 'm'):
        return (0.001 if unit == 'mm' else 1.0), unit
    if unit is not None:
        raise OfflineError(f'LeRobot dataset {root}: depth feature {key} has depth_unit {unit!r} (lerobot writes "mm" '
                           'or "m"); give --depth-scale METRES_PER_UNIT', kind='params')
    return 0.0, 'dtype'  # decided per frame: integer = millimetres, float = metres (lerobot's rule)


def _video_depth(root: Path, key: str, ft: dict) -> tuple:
    if not _is_depth_map(ft):
        raise OfflineError(
            f'LeRobot dataset {root}: depth feature {key} is a video without lerobot\'s depth quantisation '
            '(info.is_depth_map): its pixels are codec values of an 8-bit stream, not metric depth, so no distance '
            'can be measured on them. Record depth with lerobot\'s depth encoder (is_depth_map, 12-bit codes) or '
            'store it as images (uint16 millimetres)', kind='depth_not_metric')
    info = ft.get('info') or {}
    q = tuple(info.get(f'video.{n}', DEPTH_DEFAULTS[n]) for n in ('depth_min', 'depth_max', 'shift', 'use_log'))
    extra = info.get('video.extra_options') or {}
    if 'lossless=1' not in str(extra.get('x265-params', '')) and info.get('video.codec') not in (None, 'ffv1'):
        logger.warning('depth video %s is not losslessly encoded (video.extra_options %s): its depth is only as '
                       'exact as the codec left it', key, extra)
    return tuple(float(v) for v in q[:3]) + (bool(q[3]),)


def _need_av(root: Path, key: str) -> None:
    try:
        import av  # noqa: F401
    except ImportError as err:
        raise OfflineError(f'LeRobot dataset {root}: feature {key} is stored as video; decoding it needs PyAV '
                           '(pip install av). Image features (dtype image) need nothing more',
                           kind='dependency') from err


# ------------------------------------------------------------------------------------------------------ open

def open_lerobot(root: Path, color: Optional[str] = None, depth: Optional[str] = None,
                 intrinsics: Optional[tuple] = None, depth_scale: Optional[float] = None,
                 episodes: Optional[Sequence[int]] = None, chunk_frames: int = 64,
                 lead_frames: int = 0) -> LeRobotInput:
    """Open and check the dataset at ``root`` (module doc) before any frame is labelled.

    color, depth: feature keys (None: detected: the colour feature and the depth map, paired by
        lerobot's ``<colour>_depth`` naming when there are several cameras).
    intrinsics: (row-major K of 9, (width, height) or None) of the colour image, as
        :func:`parse_intrinsics` gives; required (LeRobot datasets carry none).
    depth_scale: metres per stored depth unit (default: the feature's ``depth_unit``).
    episodes: the episode indices to label, in order (None: all).
    chunk_frames, lead_frames: frames per chunk, and how many frames before its first each chunk
        is given (``PipelineConfig.lead_frames``).
    Raises OfflineError (kinds 'not_lerobot', 'lerobot_version', 'missing_features',
    'ambiguous_features', 'intrinsics', 'depth_not_metric', 'dependency', 'params').
    """
    _, pq = _pa()
    root = Path(root)
    if not is_lerobot_root(root):
        raise OfflineError(f'{root} is no LeRobot dataset root (no {INFO_PATH})', kind='not_lerobot')
    try:
        info = json.loads((root / INFO_PATH).read_text())
    except (OSError, ValueError) as err:
        raise OfflineError(f'{root / INFO_PATH} cannot be read: {err}', kind='not_lerobot') from err
    version = str(info.get('codebase_version', ''))
    if version != CODEBASE_VERSION:
        raise OfflineError(f'LeRobot dataset {root} is {version or "of no codebase_version"}; this reads '
                           f'{CODEBASE_VERSION} (convert older datasets with lerobot\'s v2.1 -> v3.0 conversion '
                           'script first)', kind='lerobot_version')
    features = info.get('features') or {}
    color, depth = _pick_features(root, features, color, depth)
    fc, fd = features[color], features[depth]
    if intrinsics is None:
        h, w, _ = _hwc(fc)
        raise OfflineError(f'LeRobot datasets carry no camera intrinsics: give those of the colour feature {color} '
                           f'({w}x{h}) with --intrinsics fx,fy,cx,cy (pixels) or --intrinsics CALIBRATION.yaml',
                           kind='intrinsics')
    k, size = intrinsics
    h, w, _ = _hwc(fc)
    if size is not None and h is not None and tuple(size) != (w, h):
        raise OfflineError(f'--intrinsics are for a {size[0]}x{size[1]} image but {color} is {w}x{h}',
                           kind='intrinsics')
    if size is None and h is None:
        raise OfflineError(f'colour feature {color} has no (H, W, 3) shape in {INFO_PATH}; give --intrinsics as a '
                           'calibration YAML with the image size', kind='intrinsics')
    width, height = size or (w, h)
    try:
        intr = checked_intrinsics(k, width, height, '--intrinsics')
    except FrameError as err:
        raise OfflineError(str(err), kind='intrinsics') from err
    scale, unit = _depth_scale(root, depth, fd, depth_scale)
    quant = None
    if fd['dtype'] == 'video':
        quant = _video_depth(root, depth, fd)
        _need_av(root, depth)
    if fc['dtype'] == 'video':
        _need_av(root, color)
    streams = LeRobotStreams(color=color, depth=depth, intrinsics=intr, depth_scale=scale, depth_unit=unit,
                             color_video=fc['dtype'] == 'video', depth_video=fd['dtype'] == 'video',
                             depth_quantisation=quant)
    # Which rows each episode has, and where: the id columns of every data file (small).
    rows: dict[int, list] = {}
    files: dict[int, list] = {}
    data_files = sorted(p for p in (root / 'data').glob('**/*.parquet'))
    if not data_files:
        raise OfflineError(f'LeRobot dataset {root} has no data files (data/chunk-*/file-*.parquet)',
                           kind='not_lerobot')
    for f in data_files:
        t = pq.read_table(f, columns=['episode_index', 'frame_index']).to_pydict()
        rel = str(f.relative_to(root))
        for ep, fi in zip(t['episode_index'], t['frame_index']):
            rows.setdefault(int(ep), []).append(int(fi))
            if rel not in files.setdefault(int(ep), []):
                files[int(ep)].append(rel)
    wanted = sorted(rows) if episodes is None else list(episodes)
    unknown = [e for e in wanted if e not in rows]
    if unknown:
        raise OfflineError(f'LeRobot dataset {root} has no episode(s) {unknown}; it has {len(rows)} '
                           f'({_ranges(sorted(rows))})', kind='params')
    if len(set(wanted)) != len(wanted):
        raise OfflineError(f'--episodes names an episode twice: {wanted}', kind='params')
    videos = _episode_videos(root, info, [k for k in (color, depth) if features[k]['dtype'] == 'video'], wanted)
    eps = []
    for e in wanted:
        fis = sorted(set(rows[e]))
        chunks = tuple((fis[i], fis[min(i + chunk_frames, len(fis)) - 1] + 1, len(fis[i:i + chunk_frames]),
                        fis[max(0, i - lead_frames)]) for i in range(0, len(fis), chunk_frames))
        eps.append(LeRobotEpisode(index=e, length=len(fis), chunks=chunks, files=tuple(files[e]),
                                  videos=videos.get(e, ())))
    return LeRobotInput(root=str(root.resolve()), fps=int(info.get('fps') or 30), streams=streams, episodes=tuple(eps))


def _ranges(values: list[int]) -> str:
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(f'{start}' if start == v else f'{start}-{v}')
            start = None
    return ','.join(out)


def _episode_videos(root: Path, info: dict, keys: list, wanted: list) -> dict:
    """episode -> ((key, video file, from_timestamp), ...) from meta/episodes (lerobot's columns
    ``videos/<key>/chunk_index``, ``file_index``, ``from_timestamp``)."""
    if not keys:
        return {}
    _, pq = _pa()
    template = info.get('video_path') or 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4'
    out: dict = {}
    for f in sorted((root / 'meta' / 'episodes').glob('**/*.parquet')):
        t = pq.read_table(f)
        cols = set(t.column_names)
        need = [f'videos/{k}/{c}' for k in keys for c in ('chunk_index', 'file_index', 'from_timestamp')]
        missing = [c for c in need if c not in cols]
        if missing:
            raise OfflineError(f'LeRobot dataset {root}: {f.relative_to(root)} lacks {missing} (where each episode '
                               'lies in the videos)', kind='not_lerobot')
        for r in t.select(['episode_index', *need]).to_pylist():
            e = int(r['episode_index'])
            if e in wanted:
                out[e] = tuple((k, template.format(video_key=k, chunk_index=int(r[f'videos/{k}/chunk_index']),
                                                   file_index=int(r[f'videos/{k}/file_index'])),
                                float(r[f'videos/{k}/from_timestamp'])) for k in keys)
    for e in wanted:
        if e not in out:
            raise OfflineError(f'LeRobot dataset {root}: episode {e} is not in meta/episodes (its video frames cannot '
                               'be found)', kind='not_lerobot')
        for _, rel, _ in out[e]:
            if not (root / rel).is_file():
                raise OfflineError(f'LeRobot dataset {root}: video {rel} of episode {e} is missing', kind='not_lerobot')
    return out


# ------------------------------------------------------------------------------------------------ frames

def _image_bytes(cell, root: Path, key: str) -> bytes:
    if cell is None:
        raise FrameError(f'{key}: no image in this row', kind='decode')
    data = cell.get('bytes') if isinstance(cell, dict) else cell
    if data:
        return bytes(data)
    path = cell.get('path') if isinstance(cell, dict) else None
    if path:
        p = Path(path) if Path(path).is_absolute() else root / path
        try:
            return p.read_bytes()
        except OSError as err:
            raise FrameError(f'{key}: image file {p} cannot be read: {err}', kind='decode') from err
    raise FrameError(f'{key}: image cell has neither bytes nor path', kind='decode')


def _decode_color(data: bytes, key: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im if im.mode == 'RGB' else im.convert('RGB'))
    except Exception as err:  # noqa: BLE001 - PIL raises many types for a corrupt file
        raise FrameError(f'{key}: colour image cannot be decoded: {type(err).__name__}: {err}', kind='decode') from err


def _decode_depth(data: bytes, key: str) -> np.ndarray:
    """Raw depth as stored (HxW uint16, int32 or float32), no unit applied."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            mode = im.mode
            arr = np.asarray(im)
    except Exception as err:  # noqa: BLE001 - PIL raises many types for a corrupt file
        raise FrameError(f'{key}: depth image cannot be decoded: {type(err).__name__}: {err}', kind='decode') from err
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 or arr.dtype.kind not in 'uif' or arr.dtype.itemsize < 2:
        raise FrameError(f'{key}: depth image is {mode} {arr.dtype} {arr.shape}, expected one 16-bit integer or '
                         '32-bit float channel (an 8-bit image is a visualisation, not metric depth)',
                         kind='encoding')
    return arr


def _depth_for_frame(raw: np.ndarray, streams: LeRobotStreams) -> tuple[np.ndarray, str]:
    """(depth, REP 118 encoding) for make_frame: uint16 millimetres and float32 metres as stored (exactly
    what a bag's 16UC1 / 32FC1 would give), anything else converted to float32 metres."""
    scale = streams.depth_scale or (1.0 if raw.dtype.kind == 'f' else 0.001)
    if raw.dtype == np.uint16 and scale == 0.001:
        return raw, '16UC1'
    if raw.dtype == np.float32 and scale == 1.0:
        return raw, '32FC1'
    return raw.astype(np.float32) * np.float32(scale), '32FC1'


def dequantise_depth(codes: np.ndarray, depth_min: float, depth_max: float, shift: float, use_log: bool) -> np.ndarray:
    """lerobot's 12-bit depth codes (HxW, 0..4095) -> HxW float32 metres in [depth_min, depth_max]
    (the inverse of lerobot.datasets.depth_utils.quantize_depth: log of depth + shift, or linear)."""
    c = codes.astype(np.float32)
    if use_log:
        lo, hi = math.log(depth_min + shift), math.log(depth_max + shift)
        out = np.exp(c * np.float32((hi - lo) / DEPTH_QMAX) + np.float32(lo)) - np.float32(shift)
    else:
        out = c * np.float32((depth_max - depth_min) / DEPTH_QMAX) + np.float32(depth_min)
    return np.clip(out, depth_min, depth_max).astype(np.float32)


def _video_frames(path: Path, times: list, fps: int, key: str, depth: bool) -> dict:
    """time (s, in the file) -> HxWx3 uint8 RGB, or HxW uint16 depth codes, of the frame nearest to each
    wanted time within half a frame period (PyAV)."""
    import av

    tol = 0.5 / max(1, fps)
    want = sorted(set(times))
    out: dict = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        container.seek(max(0, int((want[0] - tol) / tb)), stream=stream, backward=True, any_frame=False)
        j = 0
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = frame.pts * tb
            while j < len(want) and want[j] < t - tol:
                j += 1
            if j == len(want):
                break
            if abs(want[j] - t) <= tol:
                if depth:
                    plane = frame.planes[0]
                    rows = np.frombuffer(plane, dtype=np.uint16).reshape(frame.height, plane.line_size // 2)
                    out[want[j]] = rows[:, :frame.width].copy()
                else:
                    out[want[j]] = frame.to_ndarray(format='rgb24')
                j += 1
    return out


def read_chunk(inp: LeRobotInput, episode: LeRobotEpisode, start: int, stop: int,
               min_depth_m: float = 0.05, max_depth_m: float = 10.0) -> list:
    """Frames ``start <= frame_index < stop`` of ``episode`` as ``(FrameJob, decode)`` pairs for
    :func:`~.labeller.label_frames`: ``FrameJob.index`` is the frame_index, its stamps the row's
    timestamp in ns; ``decode()`` gives (Frame, None) or raises FrameError (an undecodable image,
    implausible depth, ...), so one bad frame costs only its row."""
    _, pq = _pa()
    root = Path(inp.root)
    s = inp.streams
    cols = ['frame_index', 'timestamp'] + [k for k, video in ((s.color, s.color_video), (s.depth, s.depth_video))
                                           if not video]
    flt = [('episode_index', '=', episode.index), ('frame_index', '>=', start), ('frame_index', '<', stop)]
    parts = [pq.read_table(root / f, columns=cols, filters=flt).to_pylist() for f in episode.files]
    rows = sorted((r for p in parts for r in p), key=lambda r: r['frame_index'])
    videos = {}
    for key, rel, t0 in episode.videos:
        times = [t0 + float(r['timestamp']) for r in rows]
        videos[key] = (t0, _video_frames(root / rel, times, inp.fps, key, depth=key == s.depth) if rows else {})

    def image(r, key, video, colour):
        if video:
            t0, frames = videos[key]
            got = frames.get(t0 + float(r['timestamp']))
            if got is None:
                raise FrameError(f'{key}: no video frame at {r["timestamp"]:.4f} s of episode {episode.index}',
                                 kind='decode')
            return got
        data = _image_bytes(r[key], root, key)
        return _decode_color(data, key) if colour else _decode_depth(data, key)

    def decode(r, stamp):
        rgb = image(r, s.color, s.color_video, True)
        raw = image(r, s.depth, s.depth_video, False)
        if s.depth_video:
            depth, enc = dequantise_depth(raw, *s.depth_quantisation), '32FC1'
        else:
            depth, enc = _depth_for_frame(raw, s)
        check_stream_depth(depth, enc, min_depth_m, max_depth_m)
        return make_frame(rgb, 'rgb8', depth, enc, s.intrinsics, stamp_ns=stamp, frame_id=s.color,
                          min_depth_m=min_depth_m, max_depth_m=max_depth_m), None

    items = []
    for r in rows:
        stamp = int(round(float(r['timestamp']) * 1e9))
        fj = FrameJob(index=int(r['frame_index']), stamp_ns=stamp, log_time_ns=stamp, raw=())
        items.append((fj, lambda r=r, stamp=stamp: decode(r, stamp)))
    return items


# --------------------------------------------------------------------------------------------- labelling

@dataclass(frozen=True)
class EpisodeChunkJob:
    """One chunk of one episode, read, labelled (and, ``chunks`` given, written) in the worker."""

    name: str  # the episode's name in the outputs
    chunk: int
    input: LeRobotInput
    episode: LeRobotEpisode
    start: int
    stop: int
    config: LabelConfig
    chunks: Optional[str] = None  # the episode's checkpoint directory of chunks (a worker on this machine)
    lead_start: Optional[int] = None  # first frame_index of the lead frames (None: none)


def _read_and_label(job: EpisodeChunkJob) -> tuple[ChunkResult, float]:
    t0 = time.perf_counter()
    p = job.config.params
    depth_range = float(p['min_depth_m']), float(p['max_depth_m'])
    items = read_chunk(job.input, job.episode, job.start, job.stop, *depth_range)
    lead = []
    if job.lead_start is not None and job.lead_start < job.start:
        lead = read_chunk(job.input, job.episode, job.lead_start, job.start, *depth_range)
    read_s = time.perf_counter() - t0
    return label_frames(job.name, job.chunk, items, job.config, lead=lead), read_s


def label_episode_chunk(job: EpisodeChunkJob) -> ChunkResult:
    """Read the chunk's rows from the dataset and label its frames (the bag path's per-frame labelling;
    images are decoded frame by frame inside it)."""
    return _read_and_label(job)[0]


def label_and_write_episode_chunk(job: EpisodeChunkJob) -> dict:
    """label_episode_chunk, then its checkpoint (offline.chunks.write_chunk_dir), in the worker."""
    result, read_s = _read_and_label(job)
    return write_chunk_dir(Path(job.chunks), Chunk(job.chunk, [], [], {}), result, (), job.config, None, read_s)


class _EpisodeJob(InputJob):
    """One episode of a LeRobot dataset, labelled like a bag (checkpoints, resume, workers)."""

    def __init__(self, inp: LeRobotInput, episode: LeRobotEpisode, out: Path, config: LabelConfig) -> None:
        source = f'{inp.root}#episode={episode.index}'
        super().__init__(source, source, f'episode_{episode.index:06d}', out, config, inp.streams,
                         inp.signature(episode))
        self.input, self.episode = inp, episode

    def frame_count(self) -> int:
        return self.episode.length

    def summary_extra(self) -> dict:
        return {'dataset': self.input.root, 'episode_index': self.episode.index}

    def work_items(self, executor, stats: ReadStats, done: set) -> Iterator[ChunkWork]:
        local = getattr(executor, 'local', False)
        for i, (start, stop, n, lead_start) in enumerate(self.episode.chunks):
            stats.matched += n
            if i in done:
                yield ChunkWork(i, n)
                continue
            job = EpisodeChunkJob(self.name, i, self.input, self.episode, start, stop, self.config,
                                  str(self.work / 'chunks') if local else None, lead_start)
            if local:
                yield ChunkWork(i, n, label_and_write_episode_chunk, job)
            else:  # Ray: the result comes back and is written here
                chunk = Chunk(i, [], [], {})
                yield ChunkWork(i, n, label_episode_chunk, job,
                                lambda result, chunk=chunk: write_chunk_dir(self.work / 'chunks', chunk, result, (),
                                                                            self.config, None, 0.0))


def label_lerobot(root: Path, out: Path, config: LabelConfig, options: RunOptions = RunOptions(), *,
                  color: Optional[str] = None, depth: Optional[str] = None, intrinsics: Optional[tuple] = None,
                  depth_scale: Optional[float] = None, episodes: Optional[Sequence[int]] = None,
                  progress: Optional[Path] = None, lerobot: Optional[Path] = None) -> dict:
    """Label the episodes of the LeRobot dataset at ``root`` into ``out`` (the runner's layout, one
    ``episode_<index>`` directory per episode, no labelled bag), then write the progress file
    (module doc) at ``progress`` (default ``root/spatialvlm_progress.parquet``) and, with ``lerobot``,
    the rewards as a LeRobot dataset there too (offline.lerobot, one episode per labelled episode).
    Returns the run summary (also in out/summary.json), with ``lerobot_input``.

    The arguments after ``options`` are :func:`open_lerobot`'s. Raises OfflineError before any work for
    an unreadable dataset, missing features or intrinsics, and for options that need a bag (topics,
    kinematic objects, instance masks).
    """
    if config.color_topic or config.depth_topic or config.info_topic or config.mask_topic or config.kinematic:
        raise OfflineError('a LeRobot dataset has no topics: --color-topic, --depth-topic, --info-topic, --mask-topic '
                           'and --kinematic apply to bags; pick its features with --lerobot-color / --lerobot-depth',
                           kind='params')
    config = dataclasses.replace(config, bag=False)
    inp = open_lerobot(root, color, depth, intrinsics, depth_scale, episodes, config.chunk_frames,
                       config.pipeline_config().lead_frames)
    progress = Path(progress) if progress is not None else Path(inp.root) / PROGRESS_FILE
    _check_progress_target(progress)
    out = Path(out)
    jobs = [_EpisodeJob(inp, ep, out, config) for ep in inp.episodes]
    summary = run_jobs(jobs, out, config, options)
    n = write_progress(progress, inp, [Path(b['output']) / 'frames.parquet' for b in summary['per_bag']], config)
    summary['lerobot_input'] = {'root': inp.root, 'episodes': [e.index for e in inp.episodes],
                                'streams': inp.streams.by_stream(), 'progress': str(progress),
                                'progress_column': PROGRESS_COLUMN, 'progress_rows': n}
    if lerobot is not None:
        export_lerobot(summary, Path(lerobot), config)
    _write_atomic(out / 'summary.json', json.dumps(summary, indent=2) + '\n')
    return summary


def _check_progress_target(path: Path) -> None:
    """Refuse to replace a progress file this module did not write (another reward model's)."""
    if not path.exists():
        if not os.access(path.parent, os.W_OK):
            raise OfflineError(f'cannot write the progress file {path} (its directory is not writable); choose another '
                               'place with --progress-out', kind='write')
        return
    _, pq = _pa()
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - not even a parquet file: not ours
        meta = {}
    if _METADATA_KEY not in meta:
        raise OfflineError(f'{path} exists and was not written by spatialvlm (another reward model\'s progress?); it '
                           'is not replaced: delete it or choose another file with --progress-out', kind='exists')


def _earlier_rows(path: Path, config: LabelConfig, labelled: set) -> dict:
    """The rows of an existing progress file of ours, written with ``config``, for other episodes than
    ``labelled`` (empty when there is none, or it is of another configuration: then it is replaced)."""
    _, pq = _pa()
    cols: dict = {'index': [], 'episode_index': [], 'frame_index': [], PROGRESS_COLUMN: []}
    if not path.exists():
        return cols
    table = pq.read_table(path)
    about = json.loads((table.schema.metadata or {}).get(_METADATA_KEY, b'{}'))
    if about.get('config') != config.fingerprint():
        logger.warning('%s was written with another configuration: replaced by this run\'s episodes only', path)
        return cols
    for r in table.to_pylist():
        if r['episode_index'] not in labelled:
            for k in cols:
                cols[k].append(r[k])
    return cols


def write_progress(path: Path, inp: LeRobotInput, frames_tables: Sequence[Path], config: LabelConfig) -> int:
    """Write the progress file (module doc) for the labelled episodes from their ``frames.parquet``,
    in ``inp.episodes`` order; ``index`` is the dataset's own. The rows of other episodes in an earlier
    file of the same configuration are kept. Returns its rows. Atomic."""
    pa, pq = _pa()
    root = Path(inp.root)
    wanted = {e.index for e in inp.episodes}
    files = sorted({f for e in inp.episodes for f in e.files})
    global_index: dict = {}
    for f in files:
        t = pq.read_table(root / f, columns=['episode_index', 'frame_index', 'index']).to_pydict()
        for ep, fi, ix in zip(t['episode_index'], t['frame_index'], t['index']):
            if int(ep) in wanted:
                global_index[(int(ep), int(fi))] = int(ix)
    cols: dict = {'index': [], 'episode_index': [], 'frame_index': [], PROGRESS_COLUMN: []}
    for ep, table in zip(inp.episodes, frames_tables):
        for r in pq.read_table(table, columns=['frame', 'valid', 'reward']).to_pylist():
            cols['index'].append(global_index[(ep.index, int(r['frame']))])
            cols['episode_index'].append(ep.index)
            cols['frame_index'].append(int(r['frame']))
            cols[PROGRESS_COLUMN].append(r['reward'] if r['valid'] and r['reward'] is not None else math.nan)
    # Episodes labelled earlier with this same configuration (another --episodes run) stay in the file.
    kept = _earlier_rows(path, config, wanted)
    for k in cols:
        cols[k].extend(kept[k])
    order = np.argsort(np.asarray(cols['index'], np.int64), kind='stable')
    table = pa.table({
        'index': pa.array(np.asarray(cols['index'], np.int64)[order]),
        'episode_index': pa.array(np.asarray(cols['episode_index'], np.int64)[order]),
        'frame_index': pa.array(np.asarray(cols['frame_index'], np.int64)[order]),
        PROGRESS_COLUMN: pa.array(np.asarray(cols[PROGRESS_COLUMN], np.float32)[order]),
    })
    about = {'task': config.task.name, 'labeller': config.labeller, 'config': config.fingerprint(),
             'streams': inp.streams.by_stream(), 'column': PROGRESS_COLUMN,
             'meaning': "the task's dense staged reward in [0, 1]; NaN: no reward in this frame"}
    table = table.replace_schema_metadata({b'reward_model_path': f'spatialvlm_ros:{config.labeller}'.encode(),
                                           _METADATA_KEY: json.dumps(about).encode()})
    tmp = path.with_name(f'.{path.name}.tmp')
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise OfflineError(f'cannot write the progress file {path}: {err}; choose another place with --progress-out',
                           kind='write') from err
    return table.num_rows

