"""``spatialvlm label``: rosbags -> labelled bags with facts, markers and dense rewards, a
per-frame Parquet table and a reward plot (see spatialvlm_ros.offline); or, with ``--lerobot-in``, the
episodes of a LeRobot dataset with depth -> the same tables and plots plus the reward in lerobot's
per-frame progress format (offline.lerobot_input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt_rate(v) -> str:
    return '-' if v is None else f'{v:.1f}'


def run(args) -> int:
    from ..offline import LabelConfig, OfflineError, RunOptions, label_bags, load_params, resolve_task
    from ..offline.lerobot_input import is_lerobot_root
    from ..offline.runner import WORK

    if args.lerobot_in is None:
        if not args.bags:
            raise OfflineError('no input: give rosbag2 directories, or a LeRobot dataset with --lerobot-in ROOT',
                               kind='params')
        for bag in args.bags:
            if not Path(bag).exists():
                raise OfflineError(f'no bag at {bag}')
            if is_lerobot_root(Path(bag)):
                raise OfflineError(f'{bag} is a LeRobot dataset, not a bag: label it with --lerobot-in {bag} '
                                   '--intrinsics fx,fy,cx,cy', kind='params')
        _no_lerobot_in_options(args)
    elif args.bags:
        raise OfflineError('give rosbag2 directories or --lerobot-in ROOT, not both', kind='params')
    _, task = resolve_task(args.task)
    config = LabelConfig(
        task=task, params=load_params(Path(args.params) if args.params else None),
        color_topic=args.color_topic, depth_topic=args.depth_topic, info_topic=args.info_topic,
        mask_topic=args.mask_topic,
        **_labeller_choice(task, args),
        chunk_frames=args.chunk_frames, compress=args.compress, markers=not args.no_markers,
        bag=not args.no_bag and args.lerobot_in is None,
        kinematic=tuple(_kinematic(k) for k in args.kinematic),
    )
    options = RunOptions(workers=args.workers, ray_address=args.ray, progress=not args.no_progress)
    lerobot = Path(args.lerobot) if args.lerobot else None
    try:
        if args.lerobot_in is not None:
            from ..offline.lerobot_input import label_lerobot, parse_episodes, parse_intrinsics

            summary = label_lerobot(
                Path(args.lerobot_in), Path(args.out), config, options, color=args.lerobot_color,
                depth=args.lerobot_depth, intrinsics=parse_intrinsics(args.intrinsics) if args.intrinsics else None,
                depth_scale=args.depth_scale, episodes=parse_episodes(args.episodes),
                progress=Path(args.progress_out) if args.progress_out else None, lerobot=lerobot)
        else:
            summary = label_bags([Path(b) for b in args.bags], Path(args.out), config, options, lerobot=lerobot)
    except KeyboardInterrupt:
        # Ctrl-C: the pool is stopped, the finished chunks are kept; one line, and 130 (128 + SIGINT),
        # the exit code of an interrupted command, so a script or CI job does not take it for done.
        kept = len(list(Path(args.out).glob(f'{WORK}/*/chunks/*/done.json')))
        print(f'interrupted: {kept} finished chunk(s) kept in {Path(args.out) / WORK}; run the same command again to '
              'resume', file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    tp = summary['throughput']
    lri = summary.get('lerobot_input')
    what = f'{summary["bags"]} episode(s) of {lri["root"]}' if lri else f'{summary["bags"]} bag(s)'
    print(f'\nspatialvlm label: {what}, task {summary["task"]!r}, {summary["labeller"]} labeller')
    rows = [
        ('frames', summary['frames']),
        ('frames with reward', summary['frames_with_reward']),
        ('reward mean', summary['reward_mean']),
        ('success rate', summary['success_rate']),
        ('failures', summary['failures'] or 'none'),
        ('corrupt messages', summary['corrupt_messages'] or 'none'),
        ('throughput', f'{_fmt_rate(tp["frames_per_s"])} frames/s on {tp["workers"]} worker(s) '
                       f'({_fmt_rate(tp["frames_per_s_per_worker"])} per worker), {tp["wall_s"]} s'),
    ]
    vlm = summary.get('vlm')
    if vlm:
        d = vlm['disagreement']['abs_m']
        rows.append(('VLM frames', f'{vlm["frames_asked"]} asked, {vlm["frames_answered"]} answered, '
                                   f'{vlm["frames_with_reward"]} with reward, errors: {vlm["errors"] or "none"}'))
        rows.append(('VLM vs depth', f'|error| median {_fmt_m(d["median"])}, p90 {_fmt_m(d["p90"])} '
                                     f'({d["n"]} distances)'))
    for k, v in rows:
        print(f'  {k:<20} {v}')
    files = ('labelled/, ' if config.bag else '') + 'frames.parquet, reward.png, summary.json'
    for b in summary['per_bag']:
        print(f'  -> {b["output"]}/  ({files})')
    if lri:
        print(f'  -> {lri["progress"]}  (per-frame reward as lerobot progress: {lri["progress_column"]}, '
              f'{lri["progress_rows"]} rows; RA-BC: --sample_weighting.progress_path={lri["progress"]})')
    if summary.get('lerobot'):
        lr = summary['lerobot']
        print(f'  -> {lr["root"]}/  (LeRobot {lr["codebase_version"]}: {lr["episodes"]} episode(s), '
              f'{lr["frames"]} frames at {lr["fps"]} fps)')
    if summary['bags_already_done']:
        print(f'  already labelled, skipped: {", ".join(summary["bags_already_done"])}', file=sys.stderr)
    return 0


_LEROBOT_IN_OPTIONS = ('lerobot_color', 'lerobot_depth', 'intrinsics', 'depth_scale', 'episodes', 'progress_out')


def _no_lerobot_in_options(args) -> None:
    from ..offline import OfflineError

    given = [f'--{k.replace("_", "-")}' for k in _LEROBOT_IN_OPTIONS if getattr(args, k) is not None]
    if given:
        raise OfflineError(f'{", ".join(given)} apply to a LeRobot dataset input: give it with --lerobot-in ROOT',
                           kind='params')


def _fmt_m(v) -> str:
    return '-' if v is None else f'{v:.3f} m'


def _labeller_choice(task, args) -> dict:
    """The labeller and its options: --labeller (with --labeller-option), else the task's ``labeller:``,
    else geometric; --labeller-option entries override the task's options."""
    given = _labeller_options(args.labeller_option)
    if args.labeller is None and task.labeller is not None:
        options = {k: v for k, v in task.labeller.items() if k != 'name'}
        return {'labeller': task.labeller['name'], 'labeller_options': {**options, **given}}
    return {'labeller': args.labeller or 'geometric', 'labeller_options': given}


def _labeller_options(entries) -> dict:
    """--labeller-option KEY=VALUE entries -> options (JSON values; anything else is a string)."""
    from ..core.options import parse_key_values
    from ..offline import OfflineError

    return parse_key_values(entries, '--labeller-option', OfflineError, kind='params')


def _labeller_option_help() -> str:
    from ..core.options import options_of
    from ..offline.labellers import LABELLERS

    parts = []
    for name, cls in sorted(LABELLERS.items()):
        opts = options_of(cls.config_type)
        if opts:
            parts.append(f'{name}: ' + '; '.join(f'{o.name} (default {o.default!r}): {o.doc}' for o in opts))
    return ' '.join(parts) + (' Any other key is an option of the VLM backend (see spatialvlm eval --help).'
                              if 'vlm' in LABELLERS else '')


def _kinematic(entry: str) -> tuple:
    from ..offline import OfflineError

    name, sep, topic = entry.partition('=')
    if not sep or not name or not topic.startswith('/'):
        raise OfflineError(f'--kinematic: expected NAME=/topic (geometry_msgs/PointStamped), got {entry!r}')
    return name, topic


def register(sub) -> None:
    p = sub.add_parser('label', help='label rosbags (or a LeRobot dataset with depth) with spatial facts, markers and '
                                     'dense rewards (offline)')
    p.add_argument('bags', nargs='*', metavar='BAG', help='rosbag2 directories (sqlite3 or mcap)')
    p.add_argument('--out', required=True, help='output directory; an interrupted run resumes there')
    p.add_argument('--task', default=None, help='task YAML path or name in config/tasks (default: pick_and_place)')
    p.add_argument('--params', default=None,
                   help='spatial_facts params YAML overriding config/spatial_facts.yaml (same shape)')
    p.add_argument('--color-topic', default=None, help='colour image topic (default: auto-detect)')
    p.add_argument('--depth-topic', default=None, help='registered depth image topic (default: auto-detect)')
    p.add_argument('--info-topic', default=None, help='camera_info of the colour stream (default: auto-detect)')
    p.add_argument('--mask-topic', default=None,
                   help='instance-label images (sensor_msgs/Image, mono8/mono16/32SC1 ids) of a segmentation, for '
                        'grounder: mask in --params; an object\'s prompt is its id')
    p.add_argument('--kinematic', action='append', default=[], metavar='NAME=TOPIC',
                   help='an object whose position the robot publishes (geometry_msgs/PointStamped), e.g. '
                        'gripper=/robot/ee_position; with kinematic_objects in --params')
    from ..offline.labellers import LABELLERS

    p.add_argument('--labeller', default=None, choices=sorted(LABELLERS),
                   help='how frames are labelled (default: the task\'s labeller: entry, else geometric, the live '
                        'nodes\' depth measurement; vlm: that plus a VLM\'s answers to the task\'s distance '
                        'questions on some frames)')
    p.add_argument('--labeller-option', action='append', default=[], metavar='KEY=VALUE',
                   help='an option of the labeller (JSON value, else text); ' + _labeller_option_help())
    p.add_argument('--workers', type=int, default=None, help='worker processes (default: every core; 1: no pool)')
    p.add_argument('--ray', metavar='ADDRESS', default=None,
                   help="run the chunks as Ray tasks on this cluster ('auto', 'ray://host:10001', 'local')")
    p.add_argument('--chunk-frames', type=int, default=64,
                   help='frames per chunk: the unit of parallel work and of resuming (default: 64)')
    p.add_argument('--compress', action='store_true', help='zstd-compress the labelled bag (smaller, slower)')
    p.add_argument('--no-markers', action='store_true', help='do not write RViz markers')
    p.add_argument('--no-bag', action='store_true',
                   help='no labelled bag: only frames.parquet, reward.png and summary.json (faster; no second '
                        'copy of the images on disk)')
    p.add_argument('--lerobot', metavar='DIR', default=None,
                   help='also write a LeRobot v3.0 dataset there (next.reward, next.done, next.success, stage, '
                        'distances; one episode per bag or labelled episode, in the order given)')
    lr = p.add_argument_group(
        'LeRobot dataset input', 'label the episodes of a LeRobot v3.0 dataset with colour and depth instead of bags '
        '(one output directory per episode, no labelled bag); the reward also goes to ROOT/spatialvlm_progress.parquet '
        "(index, episode_index, frame_index, progress_sparse: the format of lerobot's reward models, read by RA-BC "
        'with --sample_weighting.progress_path); nothing else in ROOT is changed')
    lr.add_argument('--lerobot-in', metavar='ROOT', default=None, help='the dataset root (with meta/info.json)')
    lr.add_argument('--lerobot-color', metavar='KEY', default=None,
                    help='colour feature, e.g. observation.images.front (default: auto-detect)')
    lr.add_argument('--lerobot-depth', metavar='KEY', default=None,
                    help="depth feature (default: auto-detect: the feature with info.is_depth_map, lerobot's "
                         "'<colour key>_depth'); a depth video must carry lerobot's depth quantisation")
    lr.add_argument('--intrinsics', metavar='FX,FY,CX,CY|YAML', default=None,
                    help="the colour camera's intrinsics in pixels, or a calibration YAML (camera_matrix with "
                         "image_width/height, or a CameraInfo's k/width/height); required: LeRobot datasets have none")
    lr.add_argument('--depth-scale', metavar='M', type=float, default=None,
                    help="metres per stored depth unit (default: the feature's info.depth_unit, mm or m; without "
                         'one, integer depth is millimetres and float depth metres)')
    lr.add_argument('--episodes', metavar='LIST', default=None, help='episodes to label, e.g. 0,3,5-7 (default: all)')
    lr.add_argument('--progress-out', metavar='FILE', default=None,
                    help='write the progress parquet there instead of ROOT/spatialvlm_progress.parquet')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--json', action='store_true', help='print the run summary as JSON')
    p.set_defaults(func=run)
