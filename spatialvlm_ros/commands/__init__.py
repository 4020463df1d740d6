"""One module per ``spatialvlm`` subcommand, each with ``register(subparsers)``.

To add a command: write ``commands/<name>.py`` with ``register`` (which sets ``func`` on its
parser) and list the module in :data:`COMMANDS`.
"""

COMMANDS = ['demo', 'sim', 'eval', 'label', 'facts', 'synth', 'ask']

__all__ = ['COMMANDS']
