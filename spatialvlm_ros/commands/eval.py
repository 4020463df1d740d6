"""``spatialvlm eval``: ask a backend SpatialVLM-style questions generated from simulator ground
truth and report the paper's metrics (JSON and a table)."""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path


# Spellings kept from before an option was renamed (--timeout was the openai backend's timeout_s).
_ALIASES = {'timeout_s': ('--timeout',)}
# Prefix of the argparse destinations of backend flags, apart from eval's own arguments.
_DEST = 'backend_option.'


def _flag_kind(o) -> dict:
    """argparse keywords for an option of type bool, int, float, str or a tuple of one of them."""
    if o.type is bool:
        return {'action': argparse.BooleanOptionalAction}
    if o.type is tuple or typing.get_origin(o.type) is tuple:
        elem = (typing.get_args(o.type) or (str,))[0]
        return {'nargs': '+', 'type': elem, 'metavar': o.name.upper()}
    return {'type': o.type, 'metavar': o.name.upper()}


def _add_backend_flags(p) -> None:
    """One flag per option a registered backend declares (its description is the help), so a new
    backend option is a flag without an edit here."""
    from ..vlm import BACKENDS, merged_backend_options  # importing vlm registers its backends

    group = p.add_argument_group(
        'backend options', 'each backend takes those its description names it in (all of them where none is '
        'named); flags the chosen backend does not declare are refused')
    for name, o in merged_backend_options(sorted(BACKENDS)).items():
        default = '' if o.default in (None, '') else f' (default: {o.default})'
        group.add_argument(o.flag, *_ALIASES.get(name, ()), dest=_DEST + name, default=argparse.SUPPRESS,
                           help=o.doc.replace('%', '%%') + default.replace('%', '%%'), **_flag_kind(o))


def _options(args) -> dict:
    """Backend options from the flags given (each must be one the backend declares); --option K=V adds more."""
    from ..vlm import VLMError, backend_options

    given = {k[len(_DEST):]: v for k, v in vars(args).items() if k.startswith(_DEST)}
    known = [o.name for o in backend_options(args.backend)]
    foreign = sorted(set(given) - set(known))
    if foreign:
        flags = ['--' + n.replace('_', '-') for n in foreign]
        raise VLMError(f'{flags} are no options of VLM backend {args.backend!r}; its options are {known}',
                       kind='config')
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    from ..core.options import parse_key_values

    opts.update(parse_key_values(args.option, '--option', VLMError))
    return opts


def run(args) -> int:
    from ..vlm import make_backend
    from ..vlm.evaluation import EvalConfig, evaluate, failure_summary, format_table, load_bag_frames

    bag = Path(args.bag)
    if not bag.exists():
        raise FileNotFoundError(f'no bag at {bag}; record one with: spatialvlm sim record --out {bag}')
    config = EvalConfig(frames=args.frames, seed=args.seed)
    frames = load_bag_frames(bag, config.frames)
    backend = make_backend(args.backend, **_options(args))
    try:
        metrics, items = evaluate(backend, frames, config)
    finally:
        backend.close()
    report = {'backend': args.backend, 'bag': str(bag), 'seed': args.seed, **metrics}
    failure = failure_summary(items)
    report['failure'] = failure
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + '\n')
        with open(out.with_suffix('.answers.jsonl'), 'w') as fh:
            for it in items:
                fh.write(json.dumps({'stamp_ns': it.stamp_ns, 'kind': it.kind, 'question': it.question,
                                     'truth': it.truth, 'answer': it.answer, 'error': it.error,
                                     'error_kind': it.error_kind}) + '\n')
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report, f'spatialvlm eval: backend {args.backend!r}, {report["frames"]} frames of {bag}'))
        if args.out:
            print(f'  written: {args.out} and {Path(args.out).with_suffix(".answers.jsonl")}')
    if failure is not None:  # the metrics above measure the failure, not the model
        print(f'spatialvlm eval: {failure["failed"]} of {failure["questions"]} questions failed in the backend, so '
              f'the metrics say nothing about the model; most common error ({failure["count"]}x, kind '
              f'{failure["kind"]}): {failure["error"]}', file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser('eval', help='score a VLM backend on questions generated from simulator ground truth')
    p.add_argument('bag', help='bag recorded by `spatialvlm sim record` (with /sim/ground_truth)')
    from ..vlm import BACKENDS

    # geometry: the backend that needs neither a model nor a server, so eval runs anywhere
    p.add_argument('--backend', default='geometry', help=f'VLM backend, one of {sorted(BACKENDS)} (default: geometry)')
    p.add_argument('--option', action='append', metavar='KEY=VALUE',
                   help='any backend option, also those without a flag (JSON value, e.g. grounder_config={...})')
    p.add_argument('--frames', type=int, default=10, help='frames asked about, evenly spaced (default: 10)')
    p.add_argument('--seed', type=int, default=0, help='seed of the question sampler')
    p.add_argument('--out', help='write the metrics JSON here (and the answers next to it as .answers.jsonl)')
    p.add_argument('--json', action='store_true', help='print the metrics as JSON')
    _add_backend_flags(p)
    p.set_defaults(func=run)
