"""Measuring what the latent codes carry: linear probes and cross-modal retrieval.

A *linear probe* trains a logistic regression on one modality's training-set codes
``(n, latent_dim)`` and reports its UA on the validation codes: how much emotion a code carries on
its own, however the classifier head uses it. *Cross-modal retrieval* asks, for every audio code,
which text code is nearest (cosine): the share whose nearest text code has the same emotion says
whether the two modalities' codes are aligned (chance: the sum of squared class shares).

>>> import numpy as np
>>> codes = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> float(retrieval_accuracy(codes, codes, np.array([0, 0, 1, 1])))
1.0
"""

from __future__ import annotations

import warnings

import numpy as np

from emokit.metrics import classification_metrics


def linear_probe_ua(train_codes, train_labels, eval_codes, eval_labels, num_classes) -> float:
    """UA on ``eval_codes (m, d)`` of a logistic regression fitted on ``train_codes (n, d)``
    (standardized with the training codes' statistics; class-balanced, deterministic)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    train_codes = np.asarray(train_codes, dtype="float64")
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
