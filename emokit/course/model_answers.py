"""Checks of exercise answers that are Keras models (they are called, not compared).

Exercise 07-3's model may be built three ways, all right when they do the job: a functional
model with a list of inputs (fed in its own order, the fifth input under any name), a functional
model with a dict of inputs (fed by its keys), or a subclassed ``keras.Model`` (an
``EmotionModel`` subclass among them), which reads the pipeline's dict plus ``"gender"``.
Whatever building or calling it raises is named in one line, never as a traceback.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

UNLOADABLE = "unloadablemodel"  # how the grader's stand-in for a model it cannot rebuild is named


def gender_model_problem(model, batch: dict, num_classes: int) -> str:
    """What is wrong with exercise 07-3's model, or "" when it is right: it reads the four inputs
    of ``batch`` by name, plus ``gender``, and gives ``num_classes`` logits that change with
    ``gender`` and from one utterance to the next at the same ``gender``."""
    import keras

    if type(model).__name__.lower().startswith(UNLOADABLE):
        return ("the grader could not rebuild your model from its .keras file (a subclass's code "
                "stays in your notebook): hand in a functional keras.Model")
    if not isinstance(model, keras.Model):
        return f"expected a keras.Model, got {type(model).__name__}"
    size = int(np.shape(batch["audio"])[0])
    feed, problem = _feeder(model, batch)
    if problem:
        return problem
    try:
        with warnings.catch_warnings():  # Keras' multi-line warnings on a broken call: the
            warnings.simplefilter("ignore")  # one line below says what went wrong
            female, male = (np.asarray(model(feed(np.full((size, 1), g, "float32")),
                                             training=False)) for g in (0.0, 1.0))
    except Exception as error:  # noqa: BLE001 - a broken model is wrong, not fatal
        return call_problem(error, list(batch))
    if female.shape != (size, num_classes):
        return f"expected logits of shape (batch, {num_classes}), got {female.shape[1:]}"
    if np.allclose(female, male, atol=1e-6):
        return "its output does not change with `gender`: feed it to the classifier"
    if size > 1 and np.allclose(female, female[:1], atol=1e-6):
        return ("its output is the same for every utterance: the classifier must see the fused "
                "code too")
    return ""


def _feeder(model, batch: dict):
    """``(gender -> what to call the model on, problem)``: a functional model's inputs must be
    the four of ``batch`` by name and one more; a subclassed model gets ``batch`` and
    ``"gender"``."""
    inputs = getattr(model, "_inputs_struct", None) if _is_functional(model) else None
    if inputs is None:  # subclassed: the pipeline's dict, plus gender
        return (lambda gender: {**batch, "gender": gender}), ""
    by_key = isinstance(inputs, dict)
    names = list(inputs) if by_key else [getattr(t, "name", "") for t in model.inputs]
    extra = [n for n in names if n not in batch]
    if len(names) != 5 or len(extra) != 1:
        return None, (f"expected 5 inputs, the four of `gated` ({', '.join(batch)}) and `gender`; "
                      f"yours takes {names}")

    tensors = dict(zip(names, inputs.values() if by_key else model.inputs, strict=True))
    dtype = getattr(tensors[extra[0]], "dtype", "float32")  # gender as its Input declares it

    def feed(gender):
        values = {n: gender.astype(dtype) if n in extra else np.asarray(batch[n]) for n in names}
        return values if by_key else [values[n] for n in names]

    return feed, ""


def _is_functional(model) -> bool:
    from keras import Model

    try:
        from keras.src.models.functional import Functional
    except ImportError:  # another Keras layout: a model with symbolic inputs is functional
        return type(model) is not Model and hasattr(model, "_inputs_struct")
    return isinstance(model, Functional)


def call_problem(error: BaseException, keys: list[str]) -> str:
    """One line for what calling an exercise's model raised: the cause named where it is a
    foreseeable one, else the error's own first line (no traceback, no Keras preamble)."""
    message = one_line(error)
    full = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if isinstance(error, KeyError):
        return (f"it reads the input '{message}', which the check does not feed: it feeds "
                f"{', '.join(keys)} and `gender`")
    width = re.search(r"expected axis -1 of input shape to have value (\d+), but received input "
                      r"with shape \(.*?(\d+)\)", full)
    if width:
        return (f"a layer built for inputs of width {width[1]} got width {width[2]}: a layer "
                "that was already called (such as a model's `classifier`) keeps its input "
                "width, so the wider code needs a new layer")
    return f"calling it on a test batch raised {type(error).__name__}: {message}"


def one_line(error: BaseException, limit: int = 160) -> str:
    """The first line of ``error``'s message that says something, without Keras' "Exception
    encountered when calling ..." preamble, its terminal colours or its argument listing."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Arguments received"):
            break
        if line and not line.startswith("Exception encountered when calling"):
            return line if len(line) <= limit else line[:limit - 3] + "..."
    return type(error).__name__
