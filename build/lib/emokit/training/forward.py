"""Forward passes of a model over a whole dataset: probabilities, latent codes, metrics, probes.

Each pass is a ``tf.function`` compiled once per model and input signature (batch and length
dimensions free) and kept while the model lives, so validation every epoch, the probes and the
final test pass reuse one trace.

>>> y_true, probs = predict_dataset(model, fold.test)                     # doctest: +SKIP
>>> audio, text, labels = encode_dataset(model, fold.test)                # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from emokit.core.tf_process import absorb_onednn_bool_notice
from emokit.training.metrics import classification_metrics
from emokit.training.probes import linear_probe_ua
from emokit.training.tracing import general_signature, own_function


def _compiled_per_signature(cache: weakref.WeakKeyDictionary, model, input_spec, body):
    """``own_function(body(model_ref))`` for ``model`` and ``input_spec``, traced once per input
    signature and kept in ``cache`` (keyed weakly by the model: the cache never keeps a model
    alive, and ``body`` gets a weak reference for the same reason)."""
    absorb_onednn_bool_notice()
    signature = general_signature((input_spec,))
    functions = cache.setdefault(model, {})
    key = repr(signature)
    if key not in functions:
        functions[key] = own_function(body(weakref.ref(model)), input_signature=signature)
    return functions[key]


_PREDICT_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _predict_function(model, input_spec):
    """A compiled ``inputs -> probabilities`` of ``model``, traced once per input signature."""
    def body(model_ref):
        def probabilities(inputs):
            return tf.nn.softmax(model_ref()(inputs, training=False))
        return probabilities

    return _compiled_per_signature(_PREDICT_FUNCTIONS, model, input_spec, body)


def predict_dataset(model, ds) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities for every utterance of ``ds`` -> ``(y_true (n,) int, probs (n,
    num_classes) float32)``, in the order ``ds`` yields them."""
    predict = _predict_function(model, ds.element_spec[0])
    labels, probs = [], []
    for inputs, y in ds:
        probs.append(predict(inputs).numpy())
        labels.append(np.asarray(y))
    if not labels:
        raise ValueError("the dataset yielded no batches: is the split empty?")
    return np.concatenate(labels).astype("int64"), np.concatenate(probs)


_ENCODE_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _encode_function(model, input_spec):
    """A compiled ``inputs -> (audio_code, text_code)`` of ``model``, traced once per input
    signature (and reused across calls: no retracing)."""
    def body(model_ref):
        def codes(inputs):
            return model_ref().encode(inputs, training=False)
        return codes

    return _compiled_per_signature(_ENCODE_FUNCTIONS, model, input_spec, body)


def encode_dataset(model, ds) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """The model's latent codes for a whole dataset: ``(audio (n, latent_dim) or None,
    text (n, latent_dim) or None, labels (n,))``, in the order ``ds`` yields them."""
    _, codes = _collect_codes(_encode_function(model, ds.element_spec[0]), ds)
    return codes


def _collect_codes(function, ds) -> tuple[list, tuple]:
    """Run ``function(inputs) -> (*heads, audio_code, text_code)`` over every batch of ``ds``
    -> (the batches' heads, ``(audio (n, d) or None, text (n, d) or None, labels (n,))``)."""
    heads, audio, text, labels = [], [], [], []
    for inputs, y in ds:
        *head, a, t = function(inputs)
        heads.append(head)
        if a is not None:
            audio.append(np.asarray(a, dtype="float32"))
        if t is not None:
            text.append(np.asarray(t, dtype="float32"))
        labels.append(np.asarray(y))
    if not labels:
        raise ValueError("the dataset yielded no batches: is the split empty?")
    return heads, (np.concatenate(audio) if audio else None,
                   np.concatenate(text) if text else None,
                   np.concatenate(labels).astype("int64"))


def probe_codes(model, train_ds, val_ds=None, val_codes=None) -> dict[str, float]:
    """Linear-probe validation UA of each code the model has: ``{"probe_audio_ua",
    "probe_text_ua"}`` (see :func:`emokit.training.probes.linear_probe_ua`). ``train_ds``: the training
    utterances, one pass each; the validation codes from ``val_ds``, or ``val_codes`` already
    computed (``(audio, text, labels)`` as :func:`encode_dataset` returns them)."""
    train_audio, train_text, train_y = encode_dataset(model, train_ds)
    if val_codes is None:
        val_codes = encode_dataset(model, val_ds)
    val_audio, val_text, val_y = val_codes
    out = {}
    for name, train_part, val_part in (("audio", train_audio, val_audio),
                                       ("text", train_text, val_text)):
        if train_part is not None:
            out[f"probe_{name}_ua"] = linear_probe_ua(train_part, train_y, val_part, val_y,
                                                      model.num_classes)
    return out


def heldout_pair_accuracy(model, ds) -> dict[str, float]:
    """The pair task on turns the model never trained on: ``{"heldout_pair_acc",
    "heldout_pair_chance"}``, the discriminator's pair accuracy and its chance level on ``ds``'s
    batches (no dropout), averaged over batches as training's ``disc_acc`` is. Beside training's
    ``disc_acc`` it tells a pair task learned from what the views share (it holds on new turns)
    from training pairs memorized (it falls to chance). ``{}`` for a model without pair loss."""
    if model.contrastive_weight <= 0:
        return {}
    accuracy, chance = [], []
    for inputs, labels in ds:
        out = model.compute_losses(inputs, labels, training=False)
        accuracy.append(float(out["disc_acc"]))
        chance.append(float(out["disc_chance"]))
    return {"heldout_pair_acc": float(np.mean(accuracy)),
            "heldout_pair_chance": float(np.mean(chance))}


def probe_keys(model) -> list[str]:
    """The history keys :func:`probe_codes` fills for ``model``: one per code it has."""
    return [f"probe_{name}_ua" for name in ("audio", "text")
            if getattr(model, f"{name}_encoder", None) is not None]


def evaluate(model, ds, num_classes) -> dict:
    """``emokit.training.metrics.classification_metrics`` of ``model`` on ``ds`` (WA, UA, recall, ...)."""
    y_true, probs = predict_dataset(model, ds)
    return classification_metrics(y_true, probs.argmax(-1), num_classes)


_PREDICT_ENCODE_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _predict_encode_function(model, input_spec):
    """A compiled ``inputs -> (probabilities, audio_code, text_code)`` of ``model`` from one
    forward pass (``call`` is ``classify(*encode(inputs))``), traced once per input signature."""
    def body(model_ref):
        def probabilities_and_codes(inputs):
            audio, text = model_ref().encode(inputs, training=False)
            logits = model_ref().classify(audio, text, training=False)
            return tf.nn.softmax(logits), audio, text
        return probabilities_and_codes

    return _compiled_per_signature(_PREDICT_ENCODE_FUNCTIONS, model, input_spec, body)


def evaluate_and_encode(model, ds, num_classes) -> tuple[dict, tuple]:
    """:func:`evaluate` and :func:`encode_dataset` of ``model`` on ``ds`` from one forward pass
    -> ``(metrics, (audio (n, d) or None, text (n, d) or None, labels (n,)))``."""
    heads, codes = _collect_codes(_predict_encode_function(model, ds.element_spec[0]), ds)
    probs = np.concatenate([np.asarray(p) for p, in heads])
    return classification_metrics(codes[2], probs.argmax(-1), num_classes), codes
