"""Measuring what the latent codes carry: linear probes and cross-modal retrieval.

A *linear probe* trains a logistic regression on one modality's training-set codes
``(n, latent_dim)`` and reports its UA on the validation codes: how much emotion a code carries on
its own, however the classifier head uses it. *Cross-modal retrieval* asks, for every audio code,
which text code is nearest (cosine): the share whose nearest text code has the same emotion says
whether the two modalities' codes are aligned (chance: the sum of squared class shares). The two
encoders' codes live in unrelated spaces, so the experiment first maps audio codes into the text
codes' space with the *same* post-hoc map for every system (:func:`fit_linear_map`, ridge least
squares fitted on the run's own training-set codes, :func:`mapped_retrieval_accuracy`): a
baseline and a regularized system are then compared like with like.

>>> import numpy as np
>>> codes = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> float(retrieval_accuracy(codes, codes, np.array([0, 0, 1, 1])))
1.0
"""

from __future__ import annotations

import warnings

import numpy as np

from emokit.training.metrics import classification_metrics


def linear_probe_ua(train_codes, train_labels, eval_codes, eval_labels, num_classes) -> float:
    """UA on ``eval_codes (m, d)`` of a logistic regression fitted on ``train_codes (n, d)``
    (standardized with the training codes' statistics; class-balanced, deterministic). Training
    rows labelled ``-1`` (unlabelled turns, :mod:`emokit.data.label_views`) are left out."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    labelled = np.asarray(train_labels) >= 0
    train_codes = np.asarray(train_codes, dtype="float64")[labelled]
    train_labels = np.asarray(train_labels)[labelled]
    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-6
    probe = LogisticRegression(max_iter=300, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit((train_codes - mean) / std, np.asarray(train_labels))
    predicted = probe.predict((np.asarray(eval_codes, dtype="float64") - mean) / std)
    return float(classification_metrics(np.asarray(eval_labels), predicted, num_classes)["ua"])


def _unit_rows(x):
    x = np.asarray(x, dtype="float64")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def retrieval_accuracy(audio_codes, text_codes, labels) -> float:
    """Share of audio codes ``(n, d)`` whose nearest text code ``(n, d)`` (cosine) has the same
    label: 1 = the two modalities' codes are aligned by emotion."""
    labels = np.asarray(labels)
    nearest = (_unit_rows(audio_codes) @ _unit_rows(text_codes).T).argmax(axis=1)
    return float(np.mean(labels[nearest] == labels))


def retrieval_chance(labels) -> float:
    """Retrieval accuracy of codes that carry no emotion: the sum of squared class shares."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    shares = counts / counts.sum()
    return float(np.sum(shares**2))


def fit_linear_map(source, target, ridge: float = 1e-3):
    """Ridge least squares from ``source (n, d_s)`` to ``target (n, d_t)`` codes, both centred
    on their means; ``ridge`` is relative to the mean source variance. Returns ``apply``:
    ``(m, d_s) -> (m, d_t)`` codes in the target's centred space."""
    source = np.asarray(source, dtype="float64")
    target = np.asarray(target, dtype="float64")
    s_mean, t_mean = source.mean(0), target.mean(0)
    xs, ts = source - s_mean, target - t_mean
    gram = xs.T @ xs
    penalty = ridge * max(np.trace(gram) / gram.shape[0], 1e-12)
    weights = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), xs.T @ ts)

    def apply(codes):
        return (np.asarray(codes, dtype="float64") - s_mean) @ weights

    apply.target_mean = t_mean
    return apply


def mapped_retrieval_accuracy(train_audio, train_text, audio_codes, text_codes, labels) -> float:
    """:func:`retrieval_accuracy` of test codes ``(n, d)`` after one map fitted on the training
    codes (:func:`fit_linear_map`, audio -> text): audio codes mapped into the text space, text
    codes centred with the training text mean. The same for every system."""
    to_text = fit_linear_map(train_audio, train_text)
    return retrieval_accuracy(to_text(audio_codes),
                              np.asarray(text_codes, dtype="float64") - to_text.target_mean,
                              labels)
