"""``spatialvlm facts``: objects and spatial facts of one RGB-D image pair, without a robot or ROS.

    spatialvlm facts --rgb color.png --depth depth.png --depth-scale 0.001 \\
        --intrinsics 525,525,319.5,239.5 --object mug=mug_mask.png --object bowl=bowl_mask.png [--json]

Objects come from binary masks (``--object NAME=MASK.png``, nonzero = object) or from prompts
(``--prompt "red block"``, found by the colour grounder; the prompt is the object's name).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.errors import FrameError, GroundingError


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(' ', '').split(',') if v]
    except ValueError as err:
        raise FrameError(f'{what}: expected {n} comma-separated numbers, got {text!r}') from err
    if len(vals) != n:
        raise FrameError(f'{what}: expected {n} comma-separated numbers, got {len(vals)} in {text!r}')
    return vals


def _read(path: str, flags: int, what: str) -> np.ndarray:
    import cv2

    if not Path(path).is_file():
        raise FileNotFoundError(f'{what} {path} does not exist')
    img = cv2.imread(path, flags)
    if img is None:
        raise FrameError(f'cannot read {what} {path}; expected an image file OpenCV reads (png, jpg, tiff)')
    return img


def load_frame(rgb_path: str, depth_path: str, depth_scale: float | None, intrinsics: str, max_depth_m: float,
               depth_format: str = 'rep118'):
    """Read the pair into a core Frame (see core.rgbd_io.read_rgbd: formats, plausibility, resampling)."""
    from ..messages.rgbd_files import read_rgbd

    fx, fy, cx, cy = _floats(intrinsics, 4, '--intrinsics fx,fy,cx,cy')
    return read_rgbd(rgb_path, depth_path, depth_scale, (fx, fy, cx, cy), depth_format=depth_format,
                     max_depth_m=max_depth_m)


def read_masks(specs) -> dict:
    """--object NAME=MASK.png entries -> name -> HxW bool mask (nonzero pixels)."""
    masks = {}
    for spec in specs:
        name, sep, path = spec.partition('=')
        if not sep or not name or not path:
            raise GroundingError(f'--object: expected NAME=MASK.png, got {spec!r}')
        masks[name] = _read(path, 0, f'mask of {name!r}') != 0
    return masks


def run(args) -> int:
    from ..core.grounding import ObjectQuery
    from ..core.lifting import LiftConfig
    from ..core.pipeline import PipelineConfig, SpatialPipeline

    frame = load_frame(args.rgb, args.depth, args.depth_scale, args.intrinsics, args.max_depth, args.depth_format)
    masks = read_masks(args.object)
    if masks and args.prompt:
        raise GroundingError('give objects either as --object masks or as --prompt texts, not both')
    if not masks and not args.prompt:
        raise GroundingError('no objects: give --object NAME=MASK.png or --prompt "red block" (one per object)')
    rot = None if args.up_rotation is None else tuple(_floats(args.up_rotation, 9, '--up-rotation'))
    if masks:
        queries = tuple(ObjectQuery(name=n, prompt=n) for n in masks)
        grounder, gconf = 'mask', {}
    else:
        queries = tuple(ObjectQuery(name=p, prompt=p) for p in args.prompt)
        grounder, gconf = 'color', {}
    pipe = SpatialPipeline(PipelineConfig(queries=queries, grounder=grounder, grounder_config=gconf,
                                          lift=LiftConfig(center_mode=args.center_mode), base_rotation=rot))
    if masks:
        pipe.grounder.set_masks(masks=masks)
    result = pipe.process(frame)
    doc = result_doc(result)
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    up = doc['up']
    print(f'up: {up["source"]} (confidence {up["confidence"]:.2f}, camera looks down {up["tilt_deg"]:.1f} deg)')
    print(f'{"object":<16} {"points":>7}  {"centre x,y,z [m] (optical)":<28} {"width x height x depth [m]":<26}')
    for o in doc['objects']:
        if o['center_m'] is None:
            print(f'{o["name"]:<16} {"-":>7}  not found')
            continue
        c = ','.join(f'{v:.3f}' for v in o['center_m'])
        e = ' x '.join(f'{v:.3f}' for v in o['extent_m'])
        print(f'{o["name"]:<16} {o["points"]:>7}  {c:<28} {e:<26}')
    print(f'{"fact":<22} {"subject":<14} {"object":<14} {"value":>10} {"unit":<5} conf')
    for f in doc['facts']:
        print(f'{f["type"]:<22} {f["subject"]:<14} {f["object"]:<14} {f["value"]:>10.4f} {f["unit"]:<5} '
              f'{f["confidence"]:.2f}')
    return 0


def result_doc(result) -> dict:
    """The --json document of a PipelineResult."""
    from ..core.sizes import gravity_extents

    extents = result.sizes or gravity_extents(result.objects, result.gravity)  # the objects topic's extent_m
    objects = []
    for name, o in result.objects.items():
        if o is None:
            objects.append({'name': name, 'center_m': None, 'extent_m': None, 'points': 0})
            continue
        objects.append({'name': name, 'center_m': [float(v) for v in o.center],
                        'extent_m': [float(v) for v in extents[name]],
                        'points': o.point_count, 'pixels': int(o.pixel_count),
                        'extent_camera_m': [float(v) for v in o.extent]})
    return {
        'objects': objects,
        'facts': [f.to_dict() for f in result.facts],
        'up': result.gravity.to_dict() if result.gravity is not None else {'source': 'none'},
    }


def register(sub) -> None:
    p = sub.add_parser('facts', help='objects and spatial facts of one RGB-D image pair')
    p.add_argument('--rgb', required=True, help='colour image file')
    p.add_argument('--depth', required=True, help='depth image: uint16 png (see --depth-scale) or float32 tiff metres')
    p.add_argument('--depth-scale', type=float, default=None,
                   help='metres per depth unit (default 0.001 for uint16, 1 for float; TUM: 0.0002)')
    p.add_argument('--depth-format', default='rep118', choices=('rep118', 'sun', 'nyu-raw'),
                   help='rep118: uint16 mm (see --depth-scale) / float32 m; sun: SUN RGB-D bit-shifted mm; '
                        'nyu-raw: NYU v2 raw disparity (rejected: not registered to colour)')
    p.add_argument('--intrinsics', required=True, help='fx,fy,cx,cy of the colour image (pixels)')
    p.add_argument('--object', action='append', default=[], metavar='NAME=MASK.png', help='object mask (repeat)')
    p.add_argument('--prompt', action='append', default=[], help='object by colour prompt, e.g. "red block" (repeat)')
    p.add_argument('--up-rotation', help='camera-to-base rotation, 9 numbers row-major; default: find the floor/table')
    p.add_argument('--center-mode', default='support', help='centre mode: a name registered in core.lifting.CENTER_MODES (default: support)')
    p.add_argument('--max-depth', type=float, default=10.0, help='ignore depth beyond this (metres)')
    p.add_argument('--json', action='store_true', help='print one JSON document')
    p.set_defaults(func=run)
