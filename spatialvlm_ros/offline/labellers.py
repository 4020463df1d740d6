"""How a frame is labelled offline: the registry of labellers.

A labeller turns one frame (plus the robot's known positions and the output transform) into a
:class:`~spatialvlm_ros.core.step.FrameResult`: objects, sizes, facts and the task's reward.
Everything downstream (documents, markers, the labelled bag, the table, the plot) reads only that
result, so a new labeller (a VLM answering the task's questions, say) is one class registered here
with :func:`register_labeller`, whose ``config_type`` declares its options
(:func:`~spatialvlm_ros.core.options.option`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.step import FrameStep
from ..core.registry import registrar
from .errors import OfflineError

__all__ = ['LABELLERS', 'register_labeller', 'make_labeller', 'GeometricLabeller']

# name -> labeller class: ``config_type`` (its options dataclass), ``__init__(config: LabelConfig)``,
# ``__call__(frame, known, transform, label_image) -> FrameResult`` and ``close()``.
LABELLERS: dict[str, type] = {}


# Class decorator adding a labeller to LABELLERS under a name.
register_labeller = registrar(LABELLERS, 'labeller', OfflineError)


def make_labeller(config):
    """The labeller ``config.labeller`` built for ``config`` (a :class:`~.config.LabelConfig`)."""
    cls = LABELLERS.get(config.labeller)
    if cls is None:
        raise OfflineError(f'unknown labeller {config.labeller!r}; expected one of {sorted(LABELLERS)}', kind='params')
    return cls(config)


@dataclass(frozen=True)
class GeometricOptions:
    """The geometric labeller has no options of its own: it is the live nodes' perception, configured
    by the ``spatial_facts`` parameters (``--params``) and the task."""


@register_labeller('geometric')
class GeometricLabeller:
    """Depth measurement: exactly the live ``spatial_facts`` + ``reward`` nodes' :class:`FrameStep`."""

    config_type = GeometricOptions

    def __init__(self, config) -> None:
        self.step = FrameStep(config.pipeline_config(), config.task)

    def __call__(self, frame, known=None, transform=None, label_image=None):
        return self.step(frame, known, transform, label_image=label_image)

    def close(self) -> None:
        self.step.close()
