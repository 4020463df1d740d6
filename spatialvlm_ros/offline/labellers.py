"""How a frame is labelled offline: the registry of labellers.

A labeller turns one frame (plus the robot's known positions and the output transform) into a
:class:`~spatialvlm_ros.core.step.FrameResult`: objects, sizes, facts and the task's reward.
Everything downstream (documents, markers, the labelled bag, the table, the plot) reads only that
result, so a new labeller (a VLM answering the task's questions, say) is one class registered here
with :func:`register_labeller`, whose ``config_type`` declares its options
(:func:`~spatialvlm_ros.core.options.option`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from ..core.errors import SpatialVLMError
from ..core.options import option, options_of
from ..core.step import FrameStep
from ..core.registry import registrar
from .errors import OfflineError

__all__ = ['LABELLERS', 'register_labeller', 'make_labeller', 'labeller_config', 'GeometricLabeller', 'VLMLabeller',
           'VLMLabellerOptions', 'asks_about']

# name -> labeller class: ``config_type`` (its options dataclass), ``__init__(config: LabelConfig)``,
# ``__call__(frame, known, transform, label_image) -> FrameResult`` and ``close()``; optionally
# ``reset()`` (a new chunk follows) and ``warm(frame)`` (a frame before the chunk, seen, not labelled).
# Frames come in stamp order within a chunk.
LABELLERS: dict[str, type] = {}


# Class decorator adding a labeller to LABELLERS under a name.
register_labeller = registrar(LABELLERS, 'labeller', OfflineError)


def make_labeller(config):
    """The labeller ``config.labeller`` built for ``config`` (a :class:`~.config.LabelConfig`)."""
    cls = LABELLERS.get(config.labeller)
    if cls is None:
        raise OfflineError(f'unknown labeller {config.labeller!r}; expected one of {sorted(LABELLERS)}', kind='params')
    return cls(config)


def labeller_config(name: str, options: dict):
    """The ``config_type`` of labeller ``name`` built from flat ``options`` (the ``--labeller-option``
    values). Keys the labeller does not declare go to its ``backend_options`` when it has that field
    (the VLM labeller: its backend's options), else they are refused. Raises OfflineError."""
    cls = LABELLERS.get(name)
    if cls is None:
        raise OfflineError(f'unknown labeller {name!r}; expected one of {sorted(LABELLERS)}', kind='params')
    ctype = cls.config_type
    fields = {f.name for f in dataclasses.fields(ctype) if f.init}
    own = {k: v for k, v in options.items() if k in fields}
    rest = {k: v for k, v in options.items() if k not in fields}
    if rest:
        if 'backend_options' not in fields:
            known = [o.name for o in options_of(ctype)]
            raise OfflineError(f'unknown option(s) {sorted(rest)} for labeller {name!r}; its options are {known}',
                               kind='params')
        own['backend_options'] = {**dict(own.get('backend_options') or {}), **rest}
    try:
        return ctype(**own)
    except SpatialVLMError as err:
        raise OfflineError(f'labeller {name!r}: {err}', kind='params') from err
    except TypeError as err:
        raise OfflineError(f'labeller {name!r}: {err}', kind='params') from err


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

    def warm(self, frame) -> None:
        self.step.warm(frame)

    def reset(self) -> None:
        self.step.reset()

    def close(self) -> None:
        self.step.close()


def asks_about(stamp_ns: int, every_k: int) -> bool:
    """Whether the VLM labeller asks about the frame stamped ``stamp_ns``: a hash of the stamp alone
    picks one frame in ``every_k`` on average, so every run, chunking and worker count asks about the
    same frames (``every_k`` 1: every frame)."""
    if every_k <= 1:
        return True
    digest = hashlib.blake2b(int(stamp_ns).to_bytes(16, 'little', signed=True), digest_size=8).digest()
    return int.from_bytes(digest, 'little') % every_k == 0


@dataclass(frozen=True)
class VLMLabellerOptions:
    """Options of the VLM labeller; any other ``--labeller-option`` is an option of the backend
    (``spatialvlm eval --help`` lists them per backend), passed in ``backend_options``."""

    backend: str = option('openai', "VLM backend (vlm.BACKENDS): 'openai' (any OpenAI-compatible server), "
                                    "'qwen2_5_vl', 'llava' (local transformers), 'geometry' (answers from depth).")
    every_k: int = option(10, 'Ask about one frame in every_k, picked by a hash of its stamp (the same frames on '
                              'every run, any chunking or worker count); 1: every frame.')
    template: int = option(0, 'Phrasing number of the distance question (vlm.prompts templates).')
    batch_size: int = option(16, 'Questions sent in one ask_batch: requests in flight to a server (up to its '
                                 'max_concurrency), one batched generate for a local model.')
    backend_options: dict = field(default_factory=dict)  # the backend's own options (its config fields)

    def __post_init__(self) -> None:
        from ..core.options import check_known
        from ..vlm import VLMError, backend_class

        cls = backend_class(self.backend)
        check_known(cls.config_type, self.backend_options, f'VLM backend {self.backend!r}', VLMError)
        for name, low in (('every_k', 1), ('batch_size', 1), ('template', 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise OfflineError(f'VLMLabellerOptions.{name}: expected an integer >= {low}, got {v!r}',
                                   kind='params')


@register_labeller('vlm')
class VLMLabeller:
    """The geometric result of every frame plus, on the frames :func:`asks_about` picks, the task's
    distance questions (``vlm.reward.task_questions``) asked to a VLM backend: per frame the answers,
    the parsed distances (``vlm.parse_distance``), the task's reward on those distances
    (``vlm.reward.reward_from_distances``: the task's own reward form) and the disagreement of each
    distance with the depth distance of the same frame.

    Questions are queued and asked ``batch_size`` at a time (``ask_batch``); :meth:`flush` (called by
    the chunk worker at the end of its chunk) asks the rest and returns stamp -> ``vlm`` document.
    A backend failure is recorded in the frame's document (``error_kind``, ``error``), never raised.
    """

    config_type = VLMLabellerOptions

    def __init__(self, config) -> None:
        from ..vlm import make_backend
        from ..vlm.reward import task_questions

        self.task = config.task
        self.options = labeller_config('vlm', dict(config.labeller_options))
        self.step = FrameStep(config.pipeline_config(), config.task)
        self.backend = make_backend(self.options.backend, **self.options.backend_options)
        self.takes_images = bool(type(self.backend).takes_images)
        self.questions = task_questions(config.task, self.options.template)
        self._pending: list = []  # (stamp_ns, image, depth distances)
        self._done: dict = {}

    def __call__(self, frame, known=None, transform=None, label_image=None):
        result = self.step(frame, known, transform, label_image=label_image)
        if asks_about(frame.stamp_ns, self.options.every_k):
            image = frame.rgb.copy() if self.takes_images else frame
            depth = dict(result.reward.distances) if result.reward is not None else {}
            self._pending.append((frame.stamp_ns, image, depth))
            if len(self._pending) * len(self.questions) >= self.options.batch_size:
                self._ask_pending()
        return result

    def warm(self, frame) -> None:
        self.step.warm(frame)

    def reset(self) -> None:
        self.step.reset()

    def _ask_pending(self) -> None:
        from ..vlm import VLMError

        pending, self._pending = self._pending, []
        if not pending:
            return
        keys = list(self.questions)
        requests = [([image], self.questions[k]) for _, image, _ in pending for k in keys]
        size = self.options.batch_size
        answers: list = []
        errors: list = []
        for i in range(0, len(requests), size):
            part = requests[i:i + size]
            try:
                got = self.backend.ask_batch(part)
                answers.extend(got)
                errors.extend([None] * len(got))
            except VLMError:
                for req in part:  # one failing question must not cost the others
                    try:
                        answers.append(self.backend.ask(*req))
                        errors.append(None)
                    except VLMError as err:
                        answers.append(None)
                        errors.append(err)
        for j, (stamp, _, depth) in enumerate(pending):
            own = list(zip(answers[j * len(keys):(j + 1) * len(keys)], errors[j * len(keys):(j + 1) * len(keys)]))
            self._done[stamp] = self._document(stamp, keys, own, depth)

    def _document(self, stamp: int, keys: list, answered: list, depth: dict) -> dict:
        from ..vlm import parse_distance
        from ..vlm.reward import disagreement, reward_from_distances

        answers = {k: a for k, (a, _) in zip(keys, answered)}
        distances = {k: (None if a is None else parse_distance(a)) for k, a in answers.items()}
        err = next((e for _, e in answered if e is not None), None)
        sample = reward_from_distances(self.task, distances, stamp).to_dict()
        return {
            'backend': self.options.backend,
            'questions': dict(self.questions),
            'answers': answers,
            'distances': distances,
            'valid': sample['valid'], 'reward': sample['reward'] if sample['valid'] else None,
            'stage': sample['stage'], 'stage_name': sample['stage_name'], 'success': sample['success'],
            'depth_distances': {k: depth.get(k) for k in keys},
            'disagreement': {k: disagreement(distances[k], depth.get(k)) for k in keys},
            'error_kind': None if err is None else err.kind, 'error': None if err is None else str(err),
        }

    def flush(self) -> dict:
        """Ask what is queued; stamp_ns -> ``vlm`` document of every frame asked since the last flush."""
        self._ask_pending()
        done, self._done = self._done, {}
        return done

    def close(self) -> None:
        self._pending, self._done = [], {}
        self.backend.close()
        self.step.close()
