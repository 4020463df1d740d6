"""The one exception type of the VLM subpackage. Messages say what was wrong and what to do."""

from ..core.errors import SpatialVLMError

__all__ = ['VLMError']


class VLMError(SpatialVLMError):
    """A VLM backend could not be built or could not answer.

    ``kind`` is a short machine-readable category that nodes count in diagnostics:
    'config' (bad options), 'dependency' (a package is missing), 'load' (weights or
    processor cannot be loaded), 'timeout', 'server' (5xx, connection refused or reset, cut-off answer),
    'protocol' (malformed response), 'request' (the server refused
    the request: HTTP 4xx, e.g. an unknown model or a wrong base_url), 'input' (bad image or question), 'unsupported'
    (a question this backend cannot answer), 'closed' (asked after ``close()``: shutting down).
    """

    kind = 'vlm'
