"""The one exception type of the VLM subpackage. Messages say what was wrong and what to do."""

__all__ = ['VLMError']


class VLMError(Exception):
    """A VLM backend could not be built or could not answer.

    ``kind`` is a short machine-readable category that nodes count in diagnostics:
    'config' (bad options), 'dependency' (a package is missing), 'load' (weights or
    processor cannot be loaded), 'timeout', 'server' (5xx / connection refused),
    'protocol' (malformed response), 'input' (bad image or question), 'unsupported'
    (a question this backend cannot answer).
    """

    kind = 'vlm'

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
