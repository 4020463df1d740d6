"""A stand-in for a node's logger that records what it is told: (level, message) in ``lines``."""


class RecordingLog:
    def __init__(self):
        self.lines = []

    def __getattr__(self, level):
        if level not in ('debug', 'info', 'warning', 'warn', 'error', 'fatal'):
            raise AttributeError(level)
        return lambda msg, **_: self.lines.append(('warning' if level == 'warn' else level, msg))
