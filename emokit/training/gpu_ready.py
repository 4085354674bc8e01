"""Notebook 05's hand-written regularized step, made GPU-ready piece by piece (notebook 10):
compiled with ``tf.function``, under mixed precision with a loss-scale optimizer, under a
``tf.distribute`` strategy, with GRUs that meet cuDNN's conditions.

Everything here runs on a CPU too; only cuDNN's kernel needs a GPU. emokit's own loop
(:class:`emokit.training.trainer.Trainer`) does all of it; these are the same steps, written out.

>>> step = make_step(model, keras.optimizers.Adam(1e-3), weight=0.5)   # doctest: +SKIP
>>> losses = tf.function(step)(inputs, labels)                         # doctest: +SKIP
>>> cudnn_report(model)                                                # doctest: +SKIP
[('audio_encoder/bidirectional/forward_gru', True, 'meets all six conditions'), ...]
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import time
from collections import Counter

import keras
import numpy as np
import tensorflow as tf

from emokit.model.losses import classification_loss, infonce_from_scores
from emokit.model.pairs import pair_targets


def regularized_losses(model, inputs, labels, weight: float, training: bool = True) -> dict:
    """Notebook 05's objective on one batch -> ``{"loss", "ce", "pair"}``, float32 scalars:
    ``loss = ce + weight * pair``, ``pair`` the InfoNCE loss with label pairing.

    ``inputs``: the pipeline's dict (``audio (batch, frames, feature_dim)``, ``audio_mask (batch,
    frames)``, ``tokens (batch, words)``, ``text_mask (batch, words)``); ``labels (batch,)`` int.
    ``model``: an :class:`emokit.model.emotion_model.EmotionModel` (its discriminator scores the
    ``(batch, batch)`` grid). The pair loss is computed in float32 whatever the model's policy:
    its scores are cast before the softmax."""
    audio, text = model.encode(inputs, training=training)
    ce = classification_loss(labels, model.classify(audio, text, training=training))
    scores = tf.cast(model.discriminator(audio, text), "float32")
    pair = infonce_from_scores(scores, pair_targets(labels, "label")).loss
    return {"loss": ce + weight * pair, "ce": ce, "pair": pair}


def scaled_gradients(model, optimizer, inputs, labels, weight: float, replicas: int = 1,
                     training: bool = True) -> tuple[dict, list]:
    """The losses and the gradients a step applies: of ``optimizer.scale_loss(loss / replicas)``
    with respect to ``model.trainable_variables`` (one per variable, float32). With a
    ``keras.optimizers.LossScaleOptimizer`` they are ``scale`` times the true gradients (its
    ``apply`` divides them back); with another optimizer ``scale_loss`` changes nothing."""
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        losses = regularized_losses(model, inputs, labels, weight, training=training)
        scaled = optimizer.scale_loss(losses["loss"] / replicas)
    return losses, tape.gradient(scaled, variables)


def make_step(model, optimizer, weight: float, replicas: int = 1):
    """``step(inputs, labels) -> {"loss", "ce", "pair"}`` (before the update): one gradient
    step on ``model.trainable_variables``. Plain Python: eager when called as it is, a graph
    under ``tf.function``. ``replicas``: how many replicas share the global batch (each divides
    its loss by it, so that the gradients summed over replicas are those of the mean). The
    optimizer's variables are created here, not inside a trace."""
    variables = model.trainable_variables
    if not optimizer.built:
        optimizer.build(variables)

    def step(inputs, labels):
        losses, gradients = scaled_gradients(model, optimizer, inputs, labels, weight, replicas)
        optimizer.apply(gradients, variables)
        return losses

    # TensorFlow counts traces per code object: a partial makes each step's count its own, so
    # that several steps traced once each never read as one step retraced (a warning)
    return functools.partial(step)


def replicated(strategy: tf.distribute.Strategy, step):
    """``step`` run on every replica of ``strategy`` -> the losses averaged over replicas.
    ``inputs, labels``: one batch per replica (``strategy.experimental_distribute_dataset``), or
    one batch that every replica gets whole (with one replica, the same thing). Call it inside
    ``tf.function``."""
    def run(inputs, labels):
        per_replica = strategy.run(step, args=(inputs, labels))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in per_replica.items()}

    return run


def mirrored_strategy() -> tf.distribute.MirroredStrategy:
    """``tf.distribute.MirroredStrategy()``: one replica per visible GPU, the CPU when there is
    none (``strategy.extended.worker_devices`` names them). Made without TensorFlow's INFO line
    "Using MirroredStrategy with devices ...", which a notebook would print: it says no more than
    ``worker_devices``."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        return tf.distribute.MirroredStrategy()
    finally:
        logger.setLevel(level)


def copy_model(model, policy: str | None = None, strategy: tf.distribute.Strategy | None = None):
    """A copy of ``model`` (same class, config and weights) under the dtype ``policy`` (e.g.
    ``"mixed_float16"``: float16 compute, float32 variables), its variables created inside
    ``strategy.scope()`` when a strategy is given (mirrored on each of its devices)."""
    config = {**model.get_config(), "dtype": policy or model.dtype_policy.name}
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy


FLOAT16_MAX = 65504.0  # the largest finite float16
FLOAT16_TINY = 2.0**-14  # the smallest normal float16 (about 6.1e-5); below it, fewer bits
FLOAT16_ZERO = 2.0**-25  # at or below it a value rounds to 0 (half the smallest subnormal)


def float16_fate(gradients, scale: float = 1.0) -> dict[str, float]:
    """What float16 would make of ``scale`` times each nonzero gradient entry -> fractions in
    [0, 1] of those entries: ``"zero"`` (rounded to 0: the update is lost), ``"subnormal"``
    (below :data:`FLOAT16_TINY`: kept with fewer significant bits, ``"zero"`` not included) and
    ``"overflow"`` (above :data:`FLOAT16_MAX`: inf). ``gradients``: a list of arrays or tensors
    of any shapes (None entries skipped)."""
    values = np.concatenate([np.ravel(tf.convert_to_tensor(g).numpy()).astype("float64")
                             for g in gradients if g is not None])
    magnitudes = np.abs(values[values != 0]) * scale
    if not magnitudes.size:
        return {"zero": 0.0, "subnormal": 0.0, "overflow": 0.0}
    zero = magnitudes <= FLOAT16_ZERO
    return {"zero": float(zero.mean()),
            "subnormal": float(((magnitudes < FLOAT16_TINY) & ~zero).mean()),
            "overflow": float((magnitudes > FLOAT16_MAX).mean())}


def seconds_per_call(function, *args, repeats: int = 5) -> float:
    """The median wall time of ``function(*args)`` over ``repeats`` calls after one warm-up call
    (which, for a ``tf.function``, traces it). Each call's result is fetched (``.numpy()``)."""
    def once():
        began = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, function(*args))
        return time.perf_counter() - began

    once()
    return statistics.median(once() for _ in range(repeats))


def batch_shapes(dataset) -> Counter:
    """How many batches of ``dataset`` (``(inputs dict, labels)`` pairs) have each input shape
    -> ``Counter({((name, shape), ...): batches})``: a plain ``tf.function`` traces once per
    key."""
    return Counter(tuple(sorted((name, tuple(value.shape)) for name, value in inputs.items()))
                   for inputs, _ in dataset)


def traced_op_types(function, *args) -> Counter:
    """The op types of ``function``'s graph for ``args`` (a ``tf.function``; traced if it was not
    for these shapes), nested functions (loops, the gradient pass) included -> ``Counter``. On a
    GPU a GRU that runs cuDNN's fused kernel shows as ``CudnnRNNV3``; Keras' generic GRU loop
    (always, on a CPU) as ``While``."""
    graph_def = function.get_concrete_function(*args).graph.as_graph_def()
    types = Counter(node.op for node in graph_def.node)
    for nested in graph_def.library.function:
        types.update(node.op for node in nested.node_def)
    return types


# What Keras 3 (TensorFlow backend) asks of a GRU before it hands the loop to cuDNN
# (keras.src.layers.rnn.gru.GRU.inner_loop and keras.src.backend.tensorflow.rnn.gru).
CUDNN_CONDITIONS = ("activation tanh", "recurrent_activation sigmoid", "recurrent_dropout 0",
                    "unroll False", "use_bias True", "reset_after True")


def cudnn_problems(gru: keras.layers.GRU) -> list[str]:
    """The cuDNN conditions (:data:`CUDNN_CONDITIONS`) that ``gru`` breaks, one line each, e.g.
    ``"recurrent_dropout=0.2 (must be 0)"`` (empty: it meets them all; ``use_cudnn=False``, which
    switches cuDNN off, is one more line). Input ``dropout`` is no problem: Keras applies it to
    the sequence before the kernel."""
    def name(function):
        return getattr(function, "__name__", repr(function))

    cell, problems = gru.cell, []
    if cell.activation not in (keras.activations.tanh, tf.tanh, keras.ops.tanh):
        problems.append(f"activation={name(cell.activation)} (must be tanh)")
    if cell.recurrent_activation not in (keras.activations.sigmoid, tf.sigmoid,
                                         keras.ops.sigmoid):
        problems.append(f"recurrent_activation={name(cell.recurrent_activation)} "
                        "(must be sigmoid)")
    if cell.recurrent_dropout:
        problems.append(f"recurrent_dropout={cell.recurrent_dropout:g} (must be 0)")
    if gru.unroll:
        problems.append("unroll=True (must be False)")
    if not cell.use_bias:
        problems.append("use_bias=False (must be True)")
    if not cell.reset_after:
        problems.append("reset_after=False (must be True)")
    if gru.use_cudnn is False:
        problems.append("use_cudnn=False (cuDNN switched off)")
    return problems


def _walk(layer, path: str):
    """``(path, layer)`` for ``layer`` and every layer inside it, depth first."""
    yield path or layer.name, layer
    for child in getattr(layer, "_layers", []):  # Keras' tracked sublayers
        yield from _walk(child, f"{path}/{child.name}" if path else child.name)


def right_padded(mask) -> bool:
    """Whether every row of a ``(batch, time)`` bool mask is ``True...True False...False`` with at
    least one True: the only masks cuDNN's GRU accepts (it fails on others)."""
    mask = np.asarray(mask, bool)
    lengths = mask.sum(axis=1)
    return bool((lengths > 0).all()
                and (mask == (np.arange(mask.shape[1]) < lengths[:, None])).all())


def cudnn_report(model, inputs=None) -> list[tuple[str, bool, str]]:
    """Whether each GRU of ``model`` meets the conditions under which Keras runs cuDNN's fused
    kernel on a GPU (:data:`CUDNN_CONDITIONS`) -> ``[(layer path, ok, why)]``, one row per
    ``keras.layers.GRU`` (the two directions of a ``Bidirectional`` apart). With ``inputs`` (a
    pipeline batch: a dict of ``(batch, time)`` masks ``audio_mask`` and ``text_mask``), one row
    per mask too: right-padded, no row all padding (the audio encoder pools its mask, which
    keeps a right-padded mask right-padded). A GRU that fails a condition falls back, silently,
    to a step-by-step loop; a mask that fails makes the cuDNN step raise."""
    rows = []
    for path, layer in _walk(model, ""):
        if isinstance(layer, keras.layers.GRU):
            problems = cudnn_problems(layer)
            rows.append((path, not problems,
                         "; ".join(problems) or "meets all six conditions"))
    for name in ("audio_mask", "text_mask"):
        if inputs is not None and name in inputs:
            ok = right_padded(inputs[name])
            rows.append((name, ok, "right-padded, no empty row" if ok else
                         "not right-padded, or a row that is all padding"))
    return rows


@contextlib.contextmanager
def pretend_gpus(count: int):
    """Inside this block TensorFlow's physical device list shows ``count`` GPUs (nothing runs on
    them): what the tests do to see what emokit decides on a GPU machine, e.g.
    ``get_preset`` applying :func:`emokit.config.accelerator.use_accelerator`."""
    real = tf.config.list_physical_devices

    def listed(device_type=None):
        if device_type == "GPU":
            return [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU")
                    for i in range(count)]
        return real(device_type)

    tf.config.list_physical_devices = listed
    try:
        yield
    finally:
        tf.config.list_physical_devices = real


def config_changes(before, after, parts=("pipeline", "train")) -> dict[str, tuple]:
    """The settings that differ between two ``ExperimentConfig``s -> ``{"train.mixed_precision":
    (False, True), ...}``, in the ``parts`` named."""
    changes = {}
    for part in parts:
        old, new = vars(getattr(before, part)), vars(getattr(after, part))
        changes.update({f"{part}.{key}": (old[key], new[key]) for key in old
                        if old[key] != new.get(key)})
    return changes
