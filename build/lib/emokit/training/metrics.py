"""Evaluation metrics of the IEMOCAP literature, from scikit-learn.

- WA (weighted accuracy) = plain accuracy over utterances;
- UA (unweighted accuracy) = mean per-class recall over the classes *present* in the labels
  (every emotion present counts the same). A class absent from a test set has no recall (NaN):
  counting it as 0 would cap a perfect model at 75% UA on a 4-class fold missing one class.

>>> m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], num_classes=3)
>>> m["wa"], m["ua"], m["recall"]
(0.75, 0.8333333333333334, [0.5, 1.0, 1.0])
>>> m = classification_metrics([0, 1, 1], [0, 1, 1], num_classes=3)
>>> m["ua"], m["absent"]
(1.0, [2])
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix


def classification_metrics(y_true, y_pred, num_classes) -> dict:
    """``y_true, y_pred (n,)`` class ids -> ``{"wa", "ua", "recall" (list), "absent" (list of
    class ids missing from y_true), "confusion" (list of lists, rows = true class)}``. A class
    absent from ``y_true`` has recall NaN and does not count in UA (the mean over the classes
    present); a prediction of it is still an error of the true class."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no utterances to evaluate: the dataset is empty")
    classes = list(range(num_classes))
    confusion = confusion_matrix(y_true, y_pred, labels=classes)
    support = confusion.sum(axis=1)
    recall = [float(confusion[c, c] / support[c]) if support[c] else math.nan for c in classes]
    return {
        "wa": float(accuracy_score(y_true, y_pred)),
        "ua": float(np.nanmean(recall)),
        "recall": recall,
        "absent": [c for c in classes if not support[c]],
        "confusion": confusion.tolist(),
    }
