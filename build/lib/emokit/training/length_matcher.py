"""A manipulation check for the pair loss: how much of its task lengths alone solve.

The InfoNCE pair loss with instance pairing asks each audio code to pick its own utterance's text
code among the batch's. Audio knows its duration, text its word count, and the two correlate: a
matcher that reads nothing else (:func:`length_matcher_accuracy`: word count predicted from the
frame count by least squares, then the batch's text with the closest word count) already beats
chance. A pair accuracy (``disc_acc``) not above this matcher's on the same batches says the
encoders need not carry more than length to solve the pair task.

>>> frames = np.array([100, 200, 300, 400])
>>> words = np.array([1, 2, 3, 4])
>>> length_matcher_accuracy(frames, words, [np.arange(4)], frames, words)
1.0
>>> pairs = np.array([1, 1, 2, 2])  # two texts tie for every audio: half a hit each
>>> length_matcher_accuracy(frames, pairs, [np.arange(4)], frames, pairs)
0.5
"""

from __future__ import annotations

import dataclasses

import numpy as np


def fit_word_count(fit_frames, fit_words) -> tuple[float, float]:
    """Least squares ``words ~ a + b * frames`` over ``(n,)`` lengths -> ``(a, b)`` (``b`` = 0
    when every frame count is the same)."""
    frames = np.asarray(fit_frames, dtype="float64")
    design = np.stack([np.ones_like(frames), frames], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(fit_words, dtype="float64"), rcond=None)
    return float(a), float(b)


def _direction_credit(distance: np.ndarray) -> np.ndarray:
    """``distance (n, n)`` (row: the one choosing, columns: its candidates, inf = left out) ->
    ``(n,)`` the expected hit of a random pick among the closest: ``1/k`` when the diagonal is
    among ``k`` tied closest, else 0."""
    closest = distance <= distance.min(axis=1, keepdims=True) + 1e-9
    return np.diagonal(closest) / closest.sum(axis=1)


def batch_length_accuracy(predicted, words, text_keys=None, symmetric: bool = False) -> float:
    """One batch: audio ``i`` (predicted word count ``predicted[i]``, ``(n,)``) picks the text
    whose word count ``words (n,)`` is closest; ties share the credit. Texts identical to the
    row's own (equal ``text_keys (n,)``, None = all distinct) are left out of its candidates, as
    the pair loss leaves them out of its negatives. ``symmetric``: the mean with text -> audio
    (text ``j`` picks the audio whose predicted word count is closest to ``words[j]``)."""
    predicted = np.asarray(predicted, dtype="float64")
    distance = np.abs(predicted[:, None] - np.asarray(words, dtype="float64")[None, :])
    if text_keys is not None:
        keys = np.asarray(text_keys)
        duplicate = (keys[:, None] == keys[None, :]) & ~np.eye(len(keys), dtype=bool)
        distance = np.where(duplicate, np.inf, distance)
    credits = [_direction_credit(distance).mean()]
    if symmetric:
        credits.append(_direction_credit(distance.T).mean())
    return float(np.mean(credits))


def length_matcher_accuracy(frames, words, batches, fit_frames, fit_words, text_keys=None,
                            symmetric: bool = False) -> float:
    """Pair accuracy of a matcher that reads only lengths: ``words ~ a + b * frames`` fitted on
    ``fit_frames``/``fit_words`` (the fold's training turns), then per batch (index arrays into
    ``frames (n,)``, ``words (n,)``) :func:`batch_length_accuracy`. Averaged as ``disc_acc`` is:
    the mean over a batch's rows, then the mean over batches."""
    a, b = fit_word_count(fit_frames, fit_words)
    frames, words = np.asarray(frames), np.asarray(words)
    keys = None if text_keys is None else np.asarray(text_keys)
    return float(np.mean([batch_length_accuracy(a + b * frames[idx], words[idx],
                                                None if keys is None else keys[idx], symmetric)
                          for idx in batches]))


def example_lengths(examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the model sees of each of ``examples`` (:class:`emokit.data.pipeline.Examples`):
    ``(frames (n,), words (n,), text keys (n,))``, frames and words after truncation, equal keys
    for identical token sequences. Labels are not read."""
    frames = np.array([len(a) for a in examples.audio])
    words = np.array([len(t) for t in examples.tokens])
    ids: dict[tuple, int] = {}
    keys = np.array([ids.setdefault(tuple(np.asarray(t).tolist()), len(ids))
                     for t in examples.tokens])
    return frames, words, keys


def epoch_training_batches(fold_data, shuffle_seed: int, epoch: int) -> list[np.ndarray]:
    """Index arrays into ``fold_data.train_examples`` of training epoch ``epoch`` (0-based) of
    ``fold_data.train_dataset(shuffle_seed)``, the batches that epoch's steps saw."""
    from emokit.data.pipeline import epoch_batches

    config = dataclasses.replace(fold_data.pipeline, shuffle_seed=shuffle_seed)
    frames = np.array([len(a) for a in fold_data.train_examples.audio])
    return epoch_batches(frames, config, training=True, epoch=epoch)


def fold_length_matcher_accuracy(fold_data, shuffle_seed: int, epoch: int,
                                 symmetric: bool = False) -> float:
    """:func:`length_matcher_accuracy` on the training batches of ``epoch`` (0-based) in the data
    order of ``shuffle_seed``, fitted on the fold's training turns."""
    frames, words, keys = example_lengths(fold_data.train_examples)
    batches = epoch_training_batches(fold_data, shuffle_seed, epoch)
    return length_matcher_accuracy(frames, words, batches, frames, words, keys, symmetric)
