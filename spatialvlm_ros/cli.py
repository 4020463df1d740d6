"""``spatialvlm`` command line. The only layer that prints; every command is a thin wrapper
around the core (see ``spatialvlm_ros/commands/``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .commands import COMMANDS

__all__ = ['main', 'build_parser']


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='spatialvlm', description='Metric spatial facts and rewards from RGB-D.')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)
    for name in COMMANDS:
        importlib.import_module(f'{__package__}.commands.{name}').register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format='%(levelname)s %(name)s: %(message)s'
    )
    from .core.errors import SpatialVLMError

    try:
        return int(args.func(args) or 0)
    except SpatialVLMError as err:  # every error the package raises on purpose says what to do
        print(f'ERROR: {err}', file=sys.stderr)
        return 1
    except (FileExistsError, FileNotFoundError) as err:
        print(f'ERROR: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
