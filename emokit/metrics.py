"""Evaluation metrics of the IEMOCAP literature, from scikit-learn.

- WA (weighted accuracy) = plain accuracy over utterances;
- UA (unweighted accuracy) = mean per-class recall (every emotion counts the same).

>>> m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], num_classes=3)
>>> m["wa"], m["ua"], m["recall"]
(0.75, 0.8333333333333334, [0.5, 1.0, 1.0])
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score


def classification_metrics(y_true, y_pred, num_classes) -> dict:
    """``y_true, y_pred (n,)`` class ids -> ``{"wa", "ua", "recall" (list), "confusion"
    (list of lists, rows = true class)}``. A class absent from ``y_true`` has recall 0 and still
    counts in UA, so UA is comparable across folds."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no utterances to evaluate: the dataset is empty")
    classes = list(range(num_classes))
    recall = recall_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {
        "wa": float(accuracy_score(y_true, y_pred)),
        "ua": float(np.mean(recall)),
        "recall": [float(r) for r in recall],
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }
