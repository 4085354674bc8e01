"""Compile once per architecture: runs of one architecture share one model and its compiled
functions, each run starting from its own seed's weights and a fresh optimizer.

Tracing a ``tf.function`` through the masked GRUs costs seconds on a CPU. A run used to build a new
model, and so traced its training step, its validation pass and its encoding again, although most
runs of an experiment have the architecture of a run before them (the same system on another
fold). Here a run's model is still built as ``build_model`` builds it, from the run's seed, but
cheaply and untraced; its values (weights and dropout generator states) are then copied into the
*kept* model of that architecture, whose ``Trainer`` (reset: step count, Adam moments and the pair
scale as new) and forward passes are already compiled. The numbers are those of the freshly built
model, to the last bit (``tests/test_memory.py``).

What differs between folds must not change the architecture: the per-fold vocabulary is padded
to :func:`padded_vocab_size` ids, the embedding rows past the vocabulary zero (no token id reaches
them, so they get no gradient and stay zero).

>>> model = build_run_model(config.model, fold_data, seed=0)   # doctest: +SKIP
>>> history = fit(model, fold_data.train, fold_data.val, config.train)   # doctest: +SKIP

At most :data:`MAX_KEPT` architectures are kept per process, the least recently used given back
first; :func:`forget_kept_models` gives them all back.
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np

from emokit.config import ModelConfig, TrainConfig
from emokit.model.emotion_model import EmotionModel, build_model
from emokit.training.trainer import Trainer

MAX_KEPT = 8  # architectures per process: a model with its compiled functions each
MIN_VOCAB_ROWS = 64
_KEPT: OrderedDict[str, EmotionModel] = OrderedDict()
_TRAINERS: dict[str, dict[tuple, Trainer]] = {}


def padded_vocab_size(vocab_size: int) -> int:
    """The embedding rows a run's model gets for a vocabulary of ``vocab_size`` ids: the next
    power of two (at least :data:`MIN_VOCAB_ROWS`), so that every fold of a corpus, whose
    vocabularies differ by a few percent, shares one architecture."""
    rows = MIN_VOCAB_ROWS
    while rows < vocab_size:
        rows *= 2
    return rows


def pad_embedding(matrix: np.ndarray | None, rows: int) -> np.ndarray | None:
    """``matrix (vocab, dim)`` with zero rows appended up to ``rows``; None stays None."""
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype="float32")
    return np.concatenate([matrix, np.zeros((rows - len(matrix), matrix.shape[1]), "float32")])


def architecture(model: EmotionModel) -> str:
    """What a model's compiled functions depend on: its class and its config without the seed
    (the seed sets initial values only)."""
    config = {k: v for k, v in model.get_config().items() if k != "seed"}
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    return json.dumps([kind, config], sort_keys=True, default=str)


def keep(model: EmotionModel) -> EmotionModel:
    """``model``, or the kept model of its architecture holding ``model``'s values: every
    variable (weights and word vectors, dropout generator states) and the seed. ``model``
    becomes the kept one when its architecture has none yet."""
    key = architecture(model)
    kept = _KEPT.get(key)
    shapes = [tuple(v.shape) for v in model.variables]
    if kept is None or [tuple(v.shape) for v in kept.variables] != shapes:
        _forget(key)
        _KEPT[key] = kept = model
    elif kept is not model:
        for target, source in zip(kept.variables, model.variables, strict=True):
            target.assign(source.value)
        kept.seed = model.seed
    _KEPT.move_to_end(key)
    while len(_KEPT) > MAX_KEPT:
        _forget(next(iter(_KEPT)))
    return kept


def build_run_model(config: ModelConfig, fold_data, seed: int) -> EmotionModel:
    """One run's model on ``fold_data`` (a :class:`emokit.data.pipeline.FoldData`): built from
    ``seed`` as :func:`emokit.model.emotion_model.build_model` builds it, the vocabulary padded
    to :func:`padded_vocab_size`, and given as the kept model of its architecture (:func:`keep`).

    The model is shared: the next call for the same architecture loads its own weights into this
    same object. Keep ``model.get_weights()`` (or save it) before building the next run's model
    if you still need a run's trained weights."""
    rows = padded_vocab_size(len(fold_data.vocab))
    model = build_model(config, fold_data.feature_dim, rows, fold_data.num_classes,
                        embedding_matrix=pad_embedding(fold_data.embedding_matrix, rows),
                        seed=seed, feature_layers=getattr(fold_data, "feature_layers", 1))
    return keep(model)


def is_kept(model: EmotionModel) -> bool:
    return _KEPT.get(architecture(model)) is model


def trainer_for(model: EmotionModel, config: TrainConfig) -> tuple[Trainer, bool]:
    """The Trainer ``fit`` trains ``model`` with -> ``(trainer, kept)``: for a kept model, the
    kept Trainer of ``config``'s compiled settings, restarted (``kept`` True: it must not be
    released); for any other model a new Trainer, released when the run ends."""
    if not is_kept(model):
        return Trainer(model, config), False
    trainers = _TRAINERS.setdefault(architecture(model), {})
    settings = Trainer.compiled_settings(config)
    trainer = trainers.get(settings)
    if trainer is None:
        trainers[settings] = trainer = Trainer(model, config)
    else:
        trainer.restart(model)
    trainer.config = config
    return trainer, True


def _forget(key: str) -> None:
    _KEPT.pop(key, None)
    for trainer in _TRAINERS.pop(key, {}).values():
        trainer.release()


def forget_kept_models() -> None:
    """Give back every kept model and its compiled functions (they go with the last reference)."""
    for key in list(_KEPT):
        _forget(key)
