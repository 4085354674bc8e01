"""What the model may see of the labels in one fold: label noise, hidden labels, unlabelled turns.

Three settings change what training sees, never what the model is tested on:

- ``corpus.train_label_noise``: a share of the labels *outside the test fold* (training and
  validation turns) is flipped to another class; test labels stay clean. A real corpus's raters
  disagree on training and validation turns alike, so validation (early stopping, the weight
  chosen by ``-selected``) sees the noisy labels too.
- ``corpus.labelled_fraction``: the share of *training* turns whose label the model may see.
  Validation and test keep every label (early stopping needs them).
- ``train.unlabelled_pairs``: the training turns without a usable label (those hidden by
  ``labelled_fraction`` and, when the manifest holds them, the training speakers' turns outside
  the class set: frustrated, surprised, ..., no agreement) stay in the training batches with the
  label :data:`UNLABELLED` (``-1``): the classification loss skips them
  (:func:`emokit.model.losses.classification_loss`), the pair loss (instance pairing, no labels)
  uses them. Without it, hidden turns are left out of training altogether.

Every decision is fixed per utterance by its id and ``corpus.synthetic_seed`` (a hash, not a
random stream): a turn is flipped, or hidden, in every fold where it trains, whatever the other
turns, so folds and runs stay comparable.

>>> view = fold_labels(fold, utterances, config, class_names)   # doctest: +SKIP
>>> view.train_ids, view.train_labels          # ids in training order, labels with -1 unlabelled
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from emokit.config import ExperimentConfig

UNLABELLED = -1  # the label of a training turn the classification loss must skip


@dataclass(frozen=True)
class FoldLabels:
    """The ids and labels one fold trains, validates and tests on.

    ``train_ids``: the labelled training turns the model may see (manifest order), then the
    unlabelled ones (``train_labels`` :data:`UNLABELLED`) under ``train.unlabelled_pairs``.
    Labels are class indices ``(n,)`` int32, training and validation ones after label noise."""

    train_ids: tuple[str, ...]
    train_labels: np.ndarray
    val_labels: np.ndarray
    test_labels: np.ndarray
    flipped: int  # labels outside the test fold that label noise changed
    hidden: int  # training labels hidden by labelled_fraction
    outside_class_set: int  # training turns outside the class set that the pair loss sees


def uniform_draw(utterance_id: str, seed: int, purpose: str) -> float:
    """A number in [0, 1) fixed by ``(utterance_id, seed, purpose)``: the same in every fold."""
    return zlib.crc32(f"{purpose}|{seed}|{utterance_id}".encode()) / 2**32


def noisy_label(utterance_id: str, label: int, num_classes: int, noise: float, seed: int) -> int:
    """``label``, or with probability ``noise`` another of the ``num_classes`` (uniformly)."""
    if num_classes < 2 or uniform_draw(utterance_id, seed, "noise") >= noise:
        return label
    shift = 1 + int(uniform_draw(utterance_id, seed, "noise-class") * (num_classes - 1))
    return (label + shift) % num_classes


def label_hidden(utterance_id: str, labelled_fraction: float, seed: int) -> bool:
    """True when the training turn's label is hidden (probability ``1 - labelled_fraction``)."""
    return uniform_draw(utterance_id, seed, "hidden") >= labelled_fraction


def fold_labels(fold, utterances, config: ExperimentConfig, class_names: list[str]) -> FoldLabels:
    """The labels ``fold`` (an :class:`emokit.data.folds.Fold`) trains, validates and tests on,
    under ``config.corpus.train_label_noise``, ``labelled_fraction`` and
    ``config.train.unlabelled_pairs``; ``utterances``: the manifest rows (those outside the class
    set included, for unlabelled pairs)."""
    corpus, seed = config.corpus, config.corpus.synthetic_seed
    by_id = {u.id: u for u in utterances}
    index = {name: k for k, name in enumerate(class_names)}

    def labels(ids, noise: float) -> np.ndarray:
        return np.array([noisy_label(i, index[by_id[i].label], len(class_names), noise, seed)
                         for i in ids], dtype=np.int32)

    noise = corpus.train_label_noise
    shown = [i for i in fold.train_ids if not label_hidden(i, corpus.labelled_fraction, seed)]
    hidden = [i for i in fold.train_ids if label_hidden(i, corpus.labelled_fraction, seed)]
    outside: list[str] = []
    if config.train.unlabelled_pairs:
        outside = outside_class_set(utterances, fold)
    unlabelled = [*hidden, *outside] if config.train.unlabelled_pairs else []
    train_labels = np.concatenate([labels(shown, noise),
                                   np.full(len(unlabelled), UNLABELLED, np.int32)])
    flipped = sum(int(noisy_label(i, index[by_id[i].label], len(class_names), noise, seed)
                      != index[by_id[i].label]) for i in (*shown, *fold.val_ids))
    return FoldLabels(train_ids=(*shown, *unlabelled), train_labels=train_labels,
                      val_labels=labels(fold.val_ids, noise), test_labels=labels(fold.test_ids, 0.0),
                      flipped=flipped, hidden=len(hidden), outside_class_set=len(outside))


def outside_class_set(utterances, fold) -> list[str]:
    """The ids of the manifest rows outside the class set (``label == ""``, with a recording) whose
    speaker trains in ``fold``: never a validation or test speaker's."""
    held_out = {*fold.val_speakers, *fold.test_speakers}
    train_ids = set(fold.train_ids)
    trains = {u.speaker for u in utterances if u.id in train_ids}
    return [u.id for u in utterances
            if not u.label and u.wav and u.speaker in trains and u.speaker not in held_out]
