"""``spatialvlm ask``: a spatial question about one frame, answered by an LLM planner from the
frame's depth facts (chain-of-thought spatial reasoning, :mod:`spatialvlm_ros.vlm.reasoning`).

    spatialvlm ask BAG "Is the red block closer to the blue target than it is wide?" --frame 10 \\
        --base-url http://127.0.0.1:8000/v1 --model qwen --json
    spatialvlm ask "How far is the mug from the bowl?" --rgb c.png --depth d.png --intrinsics 525,525,319.5,239.5 \\
        --object mug=mug.png --object bowl=bowl.png --model qwen

A bag's objects are the task's (``--task``, perception from ``--params`` as ``spatialvlm label``); a
frame's come from masks or colour prompts as in ``spatialvlm facts``.
"""

from __future__ import annotations

import json
from pathlib import Path


def _bag_frame(bag: Path, index: int, color=None, depth=None, info=None):
    """The ``index``-th frame (colour, depth and camera_info of one stamp, in stamp order) of a bag."""
    from ..messages.bag import read_messages
    from ..messages.convert import frame_from_msgs
    from ..offline.inputs import detect_topics
    from ..vlm import VLMError

    topics = detect_topics(bag, color, depth, info)
    names = {topics.color: 'color', topics.depth: 'depth', topics.info: 'info'}
    by_stamp: dict = {}
    for m in read_messages(bag, list(names)):
        stamp = int(m.msg.header.stamp.sec) * 1_000_000_000 + int(m.msg.header.stamp.nanosec)
        by_stamp.setdefault(stamp, {})[names[m.topic]] = m.msg
    paired = [by_stamp[s] for s in sorted(by_stamp) if len(by_stamp[s]) == 3]
    if not -len(paired) <= index < len(paired):
        raise VLMError(f'--frame {index}: {bag} has {len(paired)} paired frame(s)', kind='input')
    f = paired[index]
    return frame_from_msgs(f['color'], f['depth'], f['info'])


def scene_of(args):
    """(SceneFacts, RGB image) of the frame the arguments name."""
    from ..vlm import VLMError
    from ..vlm.reasoning import SceneFacts

    if args.bag is not None:
        if args.rgb or args.depth:
            raise VLMError('give a bag (with --frame) or --rgb/--depth/--intrinsics, not both', kind='input')
        from ..core.step import FrameStep
        from ..offline import LabelConfig, load_params, resolve_task

        frame = _bag_frame(Path(args.bag), args.frame, args.color_topic, args.depth_topic, args.info_topic)
        config = LabelConfig(task=resolve_task(args.task)[1],
                             params=load_params(Path(args.params) if args.params else None))
        step = FrameStep(config.pipeline_config(), config.task)
        try:
            result = step(frame)
        finally:
            step.close()
        return SceneFacts.from_result(result, step.config.facts), frame.rgb
    if not (args.rgb and args.depth and args.intrinsics):
        raise VLMError('no frame: give a bag (and --frame N), or --rgb, --depth and --intrinsics', kind='input')
    from ..core.grounding import ObjectQuery
    from ..core.pipeline import PipelineConfig, SpatialPipeline
    from ..core.errors import GroundingError
    from .facts import load_frame, read_masks

    frame = load_frame(args.rgb, args.depth, args.depth_scale, args.intrinsics, 10.0)
    masks = read_masks(args.object)
    if bool(masks) == bool(args.prompt):
        raise GroundingError('give the objects as --object NAME=MASK.png or as --prompt "red block", one of the two')
    names = list(masks) or list(args.prompt)
    pipe = SpatialPipeline(PipelineConfig(queries=tuple(ObjectQuery(name=n, prompt=n) for n in names),
                                          grounder='mask' if masks else 'color', grounder_config={}))
    if masks:
        pipe.grounder.set_masks(masks=masks)
    result = pipe.process(frame)
    return SceneFacts.from_result(result, pipe.config.facts), frame.rgb


def _vlm_options(entries) -> dict:
    from ..core.options import parse_key_values
    from ..vlm import VLMError

    return parse_key_values(entries, '--vlm-option', VLMError)


def run(args) -> int:
    from ..vlm import make_backend
    from ..vlm.openai_backend import OpenAIConfig
    from ..vlm.reasoning import ChatPlanner, reason

    scene, rgb = scene_of(args)
    planner = ChatPlanner(OpenAIConfig(base_url=args.base_url, model=args.model, api_key_env=args.api_key_env,
                                       timeout_s=args.timeout_s))
    vlm = make_backend(args.vlm_backend, **_vlm_options(args.vlm_option)) if args.vlm_backend else None
    try:
        result = reason(planner, scene, args.question, image=None if args.no_image else rgb, vlm=vlm,
                        max_steps=args.max_steps, time_limit_s=args.time_limit_s)
    finally:
        if vlm is not None:
            vlm.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    for i, t in enumerate(result.trace, 1):
        print(f'  {i}. {t.name}({json.dumps(t.arguments)}) -> {json.dumps(t.result)}')
    print(result.answer)
    return 0


def register(sub) -> None:
    p = sub.add_parser('ask', help='answer a spatial question about a frame: an LLM plans sub-queries answered '
                                   'from depth facts (chain-of-thought spatial reasoning)')
    p.add_argument('positional', nargs='+', metavar='[BAG] QUESTION',
                   help='a bag (rosbag2/ROS 1; with --frame) and the question, or the question alone with --rgb, '
                        '--depth and --intrinsics')
    p.add_argument('--frame', type=int, default=0, help="the bag's paired frame to ask about (default: 0)")
    p.add_argument('--task', default=None, help="a bag's objects: task YAML or name (default: pick_and_place)")
    p.add_argument('--params', default=None, help='spatial_facts params YAML (as spatialvlm label)')
    p.add_argument('--color-topic', default=None)
    p.add_argument('--depth-topic', default=None)
    p.add_argument('--info-topic', default=None)
    p.add_argument('--rgb', help='colour image file (as spatialvlm facts)')
    p.add_argument('--depth', help='depth image file')
    p.add_argument('--depth-scale', type=float, default=None, help='metres per depth unit')
    p.add_argument('--intrinsics', help='fx,fy,cx,cy of the colour image (pixels)')
    p.add_argument('--object', action='append', default=[], metavar='NAME=MASK.png', help='object mask (repeat)')
    p.add_argument('--prompt', action='append', default=[], help='object by colour prompt (repeat)')
    p.add_argument('--base-url', default='http://127.0.0.1:8000/v1',
                   help='OpenAI-compatible server of the planner LLM (needs tool calling)')
    p.add_argument('--model', required=True, help='the planner model name the server knows')
    p.add_argument('--api-key-env', default='OPENAI_API_KEY', help='environment variable holding the API key')
    p.add_argument('--timeout-s', type=float, default=60.0, help='seconds to wait for one model turn')
    p.add_argument('--max-steps', type=int, default=8, help='model turns at most (default: 8)')
    p.add_argument('--time-limit-s', type=float, default=120.0, help='wall-clock limit of the whole answer')
    p.add_argument('--no-image', action='store_true', help='do not send the image to the planner (text-only LLM)')
    p.add_argument('--vlm-backend', default=None,
                   help='a VLM backend for questions depth cannot answer (ask_vlm tool); default: none')
    p.add_argument('--vlm-option', action='append', default=[], metavar='KEY=VALUE', help='an option of that backend')
    p.add_argument('--json', action='store_true', help='print {question, answer, trace, steps, elapsed_s} as JSON')
    p.set_defaults(func=_run_positional)


def _run_positional(args) -> int:
    from ..vlm import VLMError

    if len(args.positional) == 1:
        args.bag, args.question = None, args.positional[0]
    elif len(args.positional) == 2:
        args.bag, args.question = args.positional
    else:
        raise VLMError(f'expected [BAG] QUESTION, got {len(args.positional)} arguments', kind='input')
    return run(args)
