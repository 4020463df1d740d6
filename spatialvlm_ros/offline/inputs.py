"""Which topics of a bag are the colour image, the registered depth and the camera_info.

Given names are checked; missing ones are detected from the message types: CameraInfo topics
by type, Image topics split into colour and depth by the encoding of their first message
(REP 118 depth is ``16UC1``/``mono16``/``32FC1``), CompressedImage topics (image_transport's
``<base>/compressed`` and ``<base>/compressedDepth``) by their first message's ``format``. When one
stream is in the bag raw and compressed, the raw topic is taken (and the log says so). Detection
succeeds only when it is unambiguous; otherwise the error lists the candidates and the option
that picks one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..messages.bag import open_reader, typestore_for
from ..messages.compressed import COMPRESSED_IMAGE, parse_format
from .errors import OfflineError

__all__ = ['CameraTopics', 'COMPRESSED_IMAGE', 'DEPTH_ENCODINGS', 'IMAGE', 'CAMERA_INFO', 'detect_topics', 'stream_base']

logger = logging.getLogger(__name__)

IMAGE = 'sensor_msgs/msg/Image'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
DEPTH_ENCODINGS = frozenset({'16UC1', 'mono16', '32FC1'})
CAMERA_IMAGES = (IMAGE, COMPRESSED_IMAGE)
# image_transport's topic suffixes, in the order a stream is preferred: raw first
_TRANSPORTS = ('compressedDepth', 'compressed')
_FLAGS = {'color': '--color-topic', 'depth': '--depth-topic', 'info': '--info-topic'}


@dataclass(frozen=True)
class CameraTopics:
    """The input topics of one bag: colour, depth, camera_info, and (for the mask grounder) the
    instance-label images of a segmentation."""

    color: str
    depth: str
    info: str
    masks: Optional[str] = None

    def by_stream(self) -> dict[str, str]:
        streams = {'color': self.color, 'depth': self.depth, 'info': self.info}
        if self.masks:
            streams['masks'] = self.masks
        return streams


def _first_encoding(reader, typestore, conn) -> Optional[str]:
    for _, _, raw in reader.messages(connections=[conn]):
        try:
            return str(typestore.deserialize_cdr(raw, conn.msgtype).encoding)
        except Exception:  # noqa: BLE001 - a corrupt first message: try the next one
            continue
    return None


def _first_compressed_stream(reader, typestore, conn) -> Optional[str]:
    """'color' or 'depth' by the format of the first readable CompressedImage; None if none is."""
    for _, _, raw in reader.messages(connections=[conn]):
        try:
            fmt = parse_format(str(typestore.deserialize_cdr(raw, conn.msgtype).format))
        except Exception:  # noqa: BLE001 - a corrupt or unknown first message: try the next one
            continue
        return 'depth' if fmt.is_depth else 'color'
    return None


def stream_base(topic: str) -> str:
    """The image topic a transport topic carries: '/cam/image_raw/compressed' -> '/cam/image_raw'."""
    head, _, last = topic.rpartition('/')
    return head if last in _TRANSPORTS and head else topic


def _prefer_raw(stream: str, topics: list) -> list:
    """One topic per camera stream: raw over compressedDepth over compressed (logged)."""
    by_base: dict[str, list] = {}
    for t in sorted(set(topics)):
        by_base.setdefault(stream_base(t), []).append(t)
    chosen = []
    for base, group in sorted(by_base.items()):
        rank = {t: (0 if t == base else 1 + _TRANSPORTS.index(t.rpartition('/')[2])) for t in group}
        group.sort(key=lambda t: rank[t])
        if len(group) > 1:
            logger.info('%s stream %s is in the bag as %s: using %s%s', stream, base, ', '.join(group), group[0],
                        ' (raw, no decoding loss)' if group[0] == base else '')
        chosen.append(group[0])
    return chosen


def detect_topics(
    path: Path,
    color: Optional[str] = None,
    depth: Optional[str] = None,
    info: Optional[str] = None,
    typestore=None,
    masks: Optional[str] = None,
) -> CameraTopics:
    """The camera topics of the bag at ``path`` (given ones checked, others detected).

    masks: the instance-label image topic (sensor_msgs/Image ids), given, never detected.
    Raises OfflineError naming what is missing or ambiguous, before any frame is processed.
    """
    path = Path(path)
    typestore = typestore or typestore_for()
    with open_reader(path) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts: dict[str, int] = {}
        for c in reader.connections:
            counts[c.topic] = counts.get(c.topic, 0) + c.msgcount
        given = {'color': color, 'depth': depth, 'info': info}
        expected = {'color': CAMERA_IMAGES, 'depth': CAMERA_IMAGES, 'info': (CAMERA_INFO,)}
        problems = []
        for stream, topic in given.items():
            if topic is None:
                continue
            if topic not in types:
                problems.append(f'{stream} topic {topic} is not in the bag')
            elif types[topic] not in expected[stream]:
                problems.append(f'{stream} topic {topic} is {types[topic]}, expected {" or ".join(expected[stream])}')
        if masks is not None and types.get(masks) != IMAGE:
            problems.append(f'mask topic {masks} is not in the bag' if masks not in types else
                            f'mask topic {masks} is {types[masks]}, expected {IMAGE} (integer label ids)')
        if problems:
            raise OfflineError(f'bag {path}: ' + '; '.join(problems) + f'. It has {_listing(types)}',
                               kind='missing_topics')
        found = dict(given)
        candidates: dict[str, list] = {}
        if color is None or depth is None:
            images = {'color': [], 'depth': []}
            for conn in reader.connections:
                if conn.msgtype not in CAMERA_IMAGES or conn.topic in (color, depth, masks):
                    continue
                if conn.msgtype == IMAGE:
                    enc = _first_encoding(reader, typestore, conn)
                    kind = None if enc is None else 'depth' if enc in DEPTH_ENCODINGS else 'color'
                else:
                    kind = _first_compressed_stream(reader, typestore, conn)
                if kind is not None:
                    images[kind].append(conn.topic)
            for stream in ('color', 'depth'):
                if found[stream] is None:
                    candidates[stream] = _prefer_raw(stream, images[stream])
        if info is None:
            infos = sorted({t for t, m in types.items() if m == CAMERA_INFO})
            near_color = found['color'] or (candidates.get('color') or [None])[0]
            if len(infos) > 1 and near_color:
                # The camera_info next to the colour image (".../color/image_raw" -> ".../color/camera_info").
                prefix = stream_base(near_color).rsplit('/', 1)[0]
                near = [t for t in infos if t.rsplit('/', 1)[0] == prefix]
                infos = near if len(near) == 1 else infos
            candidates['info'] = infos
        _check_candidates(path, candidates, types)
        found.update({s: c[0] for s, c in candidates.items()})
        empty = [f'{s} topic {t}' for s, t in found.items() if counts.get(t, 0) == 0]
        if empty:
            raise OfflineError(f'bag {path}: {", ".join(empty)} has no messages', kind='missing_topics')
    topics = CameraTopics(**found, masks=masks)
    logger.info('bag %s: colour %s, depth %s, camera_info %s', path.name, topics.color, topics.depth, topics.info)
    return topics


def _listing(types: dict) -> str:
    return ', '.join(f'{t} ({m})' for t, m in sorted(types.items())) or 'no topics'


_WHAT = {'color': 'colour image (sensor_msgs/Image rgb8/bgr8/..., or CompressedImage <base>/compressed)',
         'depth': 'depth image (sensor_msgs/Image 16UC1 or 32FC1, or CompressedImage <base>/compressedDepth)',
         'info': 'camera_info (sensor_msgs/CameraInfo)'}


def _check_candidates(path: Path, candidates: dict, types: dict) -> None:
    """Raise naming every stream without a topic (and every ambiguous one) at once."""
    missing = [_WHAT[s] for s, c in candidates.items() if not c]
    if missing:
        raise OfflineError(f'bag {path} has no {" and no ".join(missing)} topic; it has {_listing(types)}',
                           kind='missing_topics')
    several = [f'several {_WHAT[s]} topics {c}: pick one with {_FLAGS[s]}' for s, c in candidates.items() if len(c) > 1]
    if several:
        raise OfflineError(f'bag {path}: ' + '; '.join(several), kind='ambiguous_topics')
