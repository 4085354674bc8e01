"""Checks of exercise answers that are Keras models (they are called, not compared)."""

from __future__ import annotations

import numpy as np


def gender_model_problem(model, batch: dict, num_classes: int) -> str:
    """What is wrong with exercise 07-3's model, or "" when it is right: five inputs (the four of
    ``batch`` by name, plus ``gender``), ``num_classes`` logits that change with ``gender`` and
    from one utterance to the next at the same ``gender``."""
    inputs = getattr(model, "inputs", None)
    if inputs is None or not callable(model):
        return f"expected a keras.Model, got {type(model).__name__}"
    names = [getattr(t, "name", "") for t in inputs]
    extra = [n for n in names if n not in batch]
    if len(names) != 5 or len(extra) != 1:
        return (f"expected 5 inputs, the four of `gated` ({', '.join(batch)}) and `gender`; "
                f"yours takes {names}")
    size = int(np.shape(batch["audio"])[0])

    def logits(gender_value: float) -> np.ndarray:
        gender = np.full((size, 1), gender_value, "float32")
        feed = [gender if n in extra else np.asarray(batch[n]) for n in names]
        return np.asarray(model(feed, training=False))

    try:
        female, male = logits(0.0), logits(1.0)
    except Exception as error:  # noqa: BLE001 - a broken model is wrong, not fatal
        return f"calling it on a test batch raised {type(error).__name__}: {error}"
    if female.shape != (size, num_classes):
        return f"expected logits of shape (batch, {num_classes}), got {female.shape[1:]}"
    if np.allclose(female, male, atol=1e-6):
        return "its output does not change with `gender`: feed it to the classifier"
    if size > 1 and np.allclose(female, female[:1], atol=1e-6):
        return ("its output is the same for every utterance: the classifier must see the fused "
                "code too")
    return ""
