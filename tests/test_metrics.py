"""emokit.training.metrics: WA, UA, per-class recall and the confusion matrix."""

import numpy as np
import pytest

from emokit.training.metrics import classification_metrics


def test_wa_ua_recall_and_confusion_by_hand():
    y_true = [0, 0, 0, 0, 1, 1, 2, 3]
    y_pred = [0, 0, 0, 1, 1, 0, 2, 2]
    m = classification_metrics(y_true, y_pred, num_classes=4)
    assert m["wa"] == pytest.approx(5 / 8)
    assert m["recall"] == pytest.approx([3 / 4, 1 / 2, 1.0, 0.0])
    assert m["ua"] == pytest.approx((3 / 4 + 1 / 2 + 1 + 0) / 4)
    assert m["confusion"] == [[3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]


def test_ua_differs_from_wa_on_imbalanced_classes():
    y_true = np.array([0] * 9 + [1])
    m = classification_metrics(y_true, np.zeros(10, int), num_classes=2)
    assert m["wa"] == pytest.approx(0.9) and m["ua"] == pytest.approx(0.5)


def test_ua_is_over_the_classes_present_in_the_test_set():
    # a fold without class 3: a perfect model scores UA 1, not 0.75
    perfect = classification_metrics([0, 1, 2, 2], [0, 1, 2, 2], num_classes=4)
    assert perfect["ua"] == 1.0 and perfect["absent"] == [3] and np.isnan(perfect["recall"][3])
    assert len(perfect["confusion"]) == 4
    # recall 1/2, 1, 1/2 over the 3 present classes; predicting the absent class is an error
    m = classification_metrics([0, 0, 1, 2, 2], [0, 3, 1, 2, 0], num_classes=4)
    assert m["ua"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["wa"] == pytest.approx(3 / 5)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels"):
        classification_metrics([0, 1], [0], 2)
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [], 2)
