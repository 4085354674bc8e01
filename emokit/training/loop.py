"""The training loop: a compiled ``tf.GradientTape`` step, early stopping, checkpoints, resume.

>>> history = fit(model, fold.train, fold.val, TrainConfig(epochs=20))   # doctest: +SKIP
>>> y_true, probs = predict_dataset(model, fold.test)                     # doctest: +SKIP

One epoch = one pass over ``train_ds`` with Adam (global gradient-norm clipping ``clipnorm``,
learning rate ``learning_rate * lr_decay ** epoch``), then WA/UA on ``val_ds``. The weights with
the best validation UA are restored at the end. With ``checkpoint_dir`` set, the model, optimizer
and loop state are saved after every epoch and a rerun of the same call resumes where the last
run stopped (even if it was killed), ending with the same result as an uninterrupted run.

With ``TrainConfig.monitor`` the history also records, per epoch, what the regularizer does: the
monitored gradient ratio ``grad_ratio`` (defined once, at ``TrainConfig.monitor``) and a linear
probe's validation UA on the audio code and on the text code alone (``probe_audio_ua``,
``probe_text_ua``; see :mod:`emokit.training.probes`). Monitoring does not change training: the same seed
gives the same weights with it on or off.

With ``ModelConfig.pair_loss_scaling="grad_ratio"`` each step computes the CE term's and the pair
loss's gradients separately and keeps an exponential average (momentum ``SCALE_MOMENTUM``) of each
one's norm on the encoders' weights, ``|grad CE term|`` and ``|grad L|``. The scale is the ratio of
the two averages (not an average of per-step ratios), moved towards it by at most a factor
``SCALE_MAX_CHANGE`` per step, so that the pair term ``w * scale * L`` pulls the encoders about
``w`` times as hard as the CE term (``CE``, or ``(1 - w) CE`` under ``objective="convex"``),
whatever the discriminator's kind. Only the encoders' gradients are scaled: the discriminator's
own parameters get the plain ``w * grad L``. The step logs the unscaled ``loss`` (CE term +
``w L``), the ``pair_scale`` and ``step_grad_ratio``, the pull the step applied. It costs a second
backward pass.

GPU switches (``TrainConfig``): ``mixed_precision`` (float16 compute, float32 logits/loss and a
loss-scale optimizer), ``xla`` (the forward/backward pass is XLA-compiled), ``distribute``
(``tf.distribute.MirroredStrategy`` over all visible GPUs). ``fit`` takes a model built the usual
way: when a switch needs a differently built model, it trains a copy built for it and copies the
final weights back.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from emokit.config import TrainConfig
from emokit.core.atomic import write_atomic
from emokit.core.optional import require
from emokit.core.tf_process import absorb_onednn_bool_notice, skip_graph_rewrites_on_cpu
from emokit.model.emotion_model import EmotionModel
from emokit.training.metrics import classification_metrics
from emokit.training.probes import linear_probe_ua
from emokit.training.runtime import CustomGradients

STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best_weights.npz"
# pair_loss_scaling="grad_ratio": momentum of the running averages of |grad CE term| and |grad L|
# on the encoders, and the most the scale may change in one step. Measured (bilinear, quick
# preset, fold 1): |grad L| grows about 20% per step for its first epochs, with 2x noise from batch
# to batch. Momentum 0.7 (a memory of about 3 steps) follows that drift with little lag, and since
# one step moves an average by at most a factor 1 / 0.7, a pair gradient that collapses 10^4-fold
# raises the next step's scale by at most 1.43x; the cap of 1.25 per step (above the measured
# drift) also bounds a spike in |grad CE|, which the averages alone would pass on.
SCALE_MOMENTUM = 0.7
SCALE_MAX_CHANGE = 1.25
_STRATEGIES: dict[bool, tf.distribute.Strategy] = {}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def get_strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """``MirroredStrategy`` over all visible devices when ``config.distribute``, else the default
    strategy. One instance per process (variables must be created under the strategy that runs
    them)."""
    if config.distribute not in _STRATEGIES:
        _STRATEGIES[config.distribute] = (tf.distribute.MirroredStrategy() if config.distribute
                                          else tf.distribute.get_strategy())
    return _STRATEGIES[config.distribute]


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """Adam with global gradient-norm clipping; wrapped for loss scaling under mixed precision."""
    optimizer = keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clipnorm)
    if config.mixed_precision:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """The learning rate of (0-based) ``epoch``: exponential decay per epoch."""
    return config.learning_rate * config.lr_decay**epoch


def _training_copy(model: EmotionModel, config: TrainConfig, strategy) -> EmotionModel:
    """``model`` itself, or a copy built for mixed precision and/or under ``strategy``."""
    policy = "mixed_float16" if config.mixed_precision else model.dtype_policy.name
    if not config.distribute and policy == model.dtype_policy.name:
        return model
    model_config = {**model.get_config(), "dtype": policy}
    with strategy.scope():
        copy = type(model).from_config(model_config)
    copy.set_weights(model.get_weights())
    return copy


def own_function(python_function, **options):
    """``tf.function(python_function, **options)`` whose tracing TensorFlow counts on its own.

    TensorFlow counts traces per *code object*: every Trainer's step and every model's predict
    function come from the same source line, so the first trace of each new one looked like
    retracing of a single function ("5 out of the last 13 calls to <function ...> triggered
    tf.function retracing"). Wrapped in a ``functools.partial``, each function is counted apart
    (and its counter goes with it), so a real retrace, many traces of one function, still warns.
    """
    return tf.function(functools.partial(python_function), **options)


def _global_norm(gradients) -> tf.Tensor:
    """The L2 norm of a list of gradients (None entries count as zero)."""
    present = [tf.cast(g, "float32") for g in gradients if g is not None]
    return tf.linalg.global_norm(present) if present else tf.constant(0.0)


class Trainer:
    """The compiled training step of one model under one ``TrainConfig``.

    ``step(inputs, labels) -> dict`` of scalar tensors (``loss``, ``ce`` and, with the
    discriminator, ``disc_loss``, ``disc_acc``, ``disc_chance``; with gradient-ratio scaling,
    ``pair_scale`` and ``step_grad_ratio``, the pull ratio this step applied: ``|scale * w *
    grad L| / |grad CE term|`` on the encoders, with dropout). ``loss`` is the unscaled
    objective (CE term + ``w L``). ``trace_count`` counts how often the step was traced
    (bounded by the number of distinct batch shapes, thanks to ``reduce_retracing``).
    ``release()`` gives back what tracing the step registered in TensorFlow for good (it happens
    anyway when the Trainer is garbage-collected); the traced steps then go with the Trainer.
    """

    def __init__(self, model: EmotionModel, config: TrainConfig):
        self.config = config
        self.strategy = get_strategy(config)
        self.model = _training_copy(model, config, self.strategy)
        self.variables = self.model.variables_to_train()
        self.regularized = self.model.contrastive_weight > 0
        self.scaling = (self.regularized
                        and self.model.config.pair_loss_scaling == "grad_ratio")
        encoders = [e for e in (self.model.audio_encoder, self.model.text_encoder) if e]
        encoder_ids = {id(v) for e in encoders for v in e.trainable_variables}
        self.on_encoders = [id(v) in encoder_ids for v in self.variables]
        with self.strategy.scope():
            self.optimizer = make_optimizer(config)
            self.optimizer.build(self.variables)
            # the scale (0 = none yet; 1 without scaling) and the running averages of
            # |grad CE term| and |grad L| on the encoders it is the ratio of
            replica_only = tf.VariableAggregation.ONLY_FIRST_REPLICA
            self.pair_scale = tf.Variable(0.0 if self.scaling else 1.0, trainable=False,
                                          aggregation=replica_only, name="pair_scale")
            self.ce_norm_average = tf.Variable(0.0, trainable=False, aggregation=replica_only,
                                               name="ce_norm_average")
            self.pair_norm_average = tf.Variable(0.0, trainable=False, aggregation=replica_only,
                                                 name="pair_norm_average")
        self.trace_count = 0
        # what tracing the step registers in TensorFlow for good: given back by release(), or
        # when this Trainer is garbage-collected (see emokit.training.runtime.CustomGradients)
        self._custom_gradients = CustomGradients()
        self.release = weakref.finalize(self, self._custom_gradients.forget)
        gradients = self._scaled_gradients if self.scaling else self._loss_and_gradients
        self._gradients = own_function(gradients, jit_compile=config.xla)
        self.step = own_function(self._step, reduce_retracing=True)
        self._ratio = own_function(self._gradient_ratio)
        self._compiled_for = None

    def compile_for(self, element_spec) -> None:
        """Trace the step once for every batch shape of a dataset with this ``element_spec``
        (a signature with free batch and length dimensions) instead of once per shape.
        Not available under ``distribute`` (its batches are per-replica values)."""
        if self.config.distribute or self._compiled_for == element_spec:
            return
        self.step = own_function(self._step, input_signature=general_signature(element_spec))
        self._compiled_for = element_spec

    def _scale(self, loss):
        return self.optimizer.scale_loss(loss) if self.config.mixed_precision else loss

    def _loss_and_gradients(self, inputs, labels):
        with tf.GradientTape() as tape:
            out = self.model.compute_losses(inputs, labels, training=True)
            loss = out.pop("loss") / self.strategy.num_replicas_in_sync
            scaled = self._scale(loss)
        out["loss"] = loss * self.strategy.num_replicas_in_sync
        del out["logits"]
        return out, tape.gradient(scaled, self.variables)

    def _encoder_norm(self, gradients) -> tf.Tensor:
        return _global_norm([g for g, enc in zip(gradients, self.on_encoders) if enc])

    def _loss_scale(self) -> tf.Tensor:
        """The mixed-precision loss scale the gradients carry (1 without mixed precision)."""
        if self.config.mixed_precision:
            return tf.cast(self.optimizer.dynamic_scale, "float32")
        return tf.constant(1.0)

    def _update_scale(self, ce_norm, pair_norm) -> tf.Tensor:
        """Fold this step's ``|grad CE term|`` and ``|grad L|`` (encoders) into their running
        averages -> the new scale: the ratio of the averages, at most ``SCALE_MAX_CHANGE`` times
        (or 1 / that) the previous scale. The first step starts the averages at its own norms.
        A step whose norms are not finite, or whose pair gradient is 0, changes nothing."""
        previous = self.pair_scale.read_value()
        started = previous > 0
        m = SCALE_MOMENTUM
        ce_average = tf.where(started, m * self.ce_norm_average + (1 - m) * ce_norm, ce_norm)
        pair_average = tf.where(started, m * self.pair_norm_average + (1 - m) * pair_norm,
                                pair_norm)
        target = ce_average / tf.maximum(pair_average, 1e-30)
        capped = tf.where(started, tf.clip_by_value(target, previous / SCALE_MAX_CHANGE,
                                                    previous * SCALE_MAX_CHANGE), target)
        ok = (tf.math.is_finite(ce_norm) & tf.math.is_finite(pair_norm) & (pair_norm > 0)
              & tf.math.is_finite(capped) & (capped > 0))
        self.ce_norm_average.assign(tf.where(ok, ce_average, self.ce_norm_average))
        self.pair_norm_average.assign(tf.where(ok, pair_average, self.pair_norm_average))
        scale = tf.where(ok, capped, previous)
        self.pair_scale.assign(scale)
        return tf.where(scale > 0, scale, 1.0)

    def _scaled_gradients(self, inputs, labels):
        """CE's and the pair term's gradients apart; the pair term's gradient on the encoders
        scaled so that it pulls them ``contrastive_weight`` times as hard as the CE term (see
        the module docstring); the discriminator's gradient unscaled."""
        replicas = self.strategy.num_replicas_in_sync
        weight = self.model.contrastive_weight
        with tf.GradientTape(persistent=True) as tape:
            out = self.model.compute_losses(inputs, labels, training=True)
            ce_term = self._scale(out["ce_term"] / replicas)
            pair_term = self._scale(out["pair_term"] / replicas)
        ce_grads = tape.gradient(ce_term, self.variables)
        pair_grads = tape.gradient(pair_term, self.variables)
        del tape
        unscale = self._loss_scale() / replicas  # norms in the units of the losses themselves
        ce_norm = self._encoder_norm(ce_grads) / unscale
        pair_norm = self._encoder_norm(pair_grads) / unscale / weight  # |grad L|
        scale = self._update_scale(ce_norm, pair_norm)
        gradients = []
        for c, p, on_encoder in zip(ce_grads, pair_grads, self.on_encoders):
            if p is not None and on_encoder:
                p = p * tf.cast(scale, p.dtype)
            gradients.append(c if p is None else (p if c is None else c + p))
        out["pair_scale"] = scale  # out["loss"] stays CE term + w L: unscaled
        out["step_grad_ratio"] = scale * weight * pair_norm / tf.maximum(ce_norm, 1e-12)
        for key in ("logits", "ce_term", "pair_term"):
            del out[key]
        return out, gradients

    def _replica_step(self, inputs, labels):
        out, gradients = self._gradients(inputs, labels)
        self.optimizer.apply(gradients, self.variables)
        return out

    def _step(self, inputs, labels):
        self.trace_count += 1  # Python side effect: runs once per trace, not per call
        with self._custom_gradients.recording():
            per_replica = self.strategy.run(self._replica_step, args=(inputs, labels))
        return {k: self.strategy.reduce("MEAN", v, axis=None) for k, v in per_replica.items()}

    def _gradient_ratio(self, inputs, labels):
        with tf.GradientTape(persistent=True) as tape:
            out = self.model.compute_losses(inputs, labels, training=False,
                                            pair_scale=self.pair_scale)
        ce_norm = self._encoder_norm(tape.gradient(out["ce_term"], self.variables))
        pair_norm = self._encoder_norm(tape.gradient(out["pair_term"], self.variables))
        return pair_norm / tf.maximum(ce_norm, 1e-12)

    def gradient_ratio(self, inputs, labels) -> float:
        """The monitored gradient ratio of ``TrainConfig.monitor`` on the batch ``(inputs,
        labels)``: ``|grad (w * scale * L)| / |grad CE term|`` on the encoders' weights, no
        dropout, at the current ``pair_scale`` (1 without scaling). 0 for a model without pair
        loss."""
        if not self.regularized:
            return 0.0
        return float(self._ratio(inputs, labels))

    def set_learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate = value

    def run_epoch(self, train_ds, epoch: int, progbar=None) -> dict[str, float]:
        """One pass over ``train_ds`` -> mean of each step value. Raises ``TrainingDiverged``
        as soon as a step's loss is not finite."""
        dataset = (self.strategy.experimental_distribute_dataset(train_ds)
                   if self.config.distribute else train_ds)
        totals: dict[str, float] = {}
        steps = 0
        for steps, (inputs, labels) in enumerate(dataset, start=1):
            values = {k: float(v) for k, v in self.step(inputs, labels).items()}
            if not math.isfinite(values["loss"]):
                raise TrainingDiverged(f"the training loss became {values['loss']} at epoch "
                                       f"{epoch + 1}, step {steps}")
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + v
            if progbar is not None:
                progbar.update(steps, list(values.items()))
        if steps == 0:
            raise ValueError("train_ds yielded no batches: is the training split empty?")
        return {k: v / steps for k, v in totals.items()}


def release_run_state() -> None:
    """Give back what a finished run left in Keras' global state (layer-name counters, the
    default graph, TensorFlow's kernel cache), then collect the run's garbage: its model,
    ``Trainer`` and traced functions (a ``Trainer`` gives back the custom gradients its step
    registered in TensorFlow when it is collected; see :class:`emokit.training.runtime.CustomGradients`).
    A model still in use keeps working; the global dtype policy is kept."""
    policy = keras.config.dtype_policy()
    keras.backend.clear_session(free_memory=True)
    keras.config.set_dtype_policy(policy)


def general_signature(element_spec):
    """``element_spec`` with every dimension free except the feature axis of rank-3 tensors
    (``(batch, frames, feature_dim)`` audio), as a tf.function ``input_signature``."""
    def free(spec):
        shape = [None] * (spec.shape.rank - 1) + [spec.shape[-1] if spec.shape.rank == 3 else None]
        return tf.TensorSpec(shape, spec.dtype)

    return tuple(tf.nest.map_structure(free, element_spec))


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


def probe_keys(model) -> list[str]:
    """The history keys :func:`probe_codes` fills for ``model``: one per code it has."""
    return [f"probe_{name}_ua" for name in ("audio", "text")
            if getattr(model, f"{name}_encoder", None) is not None]


def _probe_kept_epoch(model, state: LoopState, probe_train_ds, val_ds, probes: bool) -> None:
    """With ``TrainConfig.probe_every`` > 1: the probes of the kept epoch, if it had none, from
    ``model`` holding that epoch's (restored) weights, written into its history entries."""
    keys = probe_keys(model)
    kept = state.best_epoch - 1
    entries = state.history.get(keys[0], []) if keys else []
    if not probes or not 0 <= kept < len(entries) or entries[kept] is not None:
        return
    for key, value in probe_codes(model, probe_train_ds, val_ds).items():
        state.history[key][kept] = value


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


@dataclasses.dataclass
class LoopState:
    """Where a run stands after ``epoch`` finished epochs (saved with every checkpoint)."""

    epoch: int = 0
    best_val_ua: float = -1.0
    best_epoch: int = -1
    wait: int = 0  # epochs since the best validation UA
    history: dict = dataclasses.field(default_factory=dict)


def _rng_states(model) -> dict:
    """The dropout seed-generator states of ``model`` (Keras does not checkpoint them)."""
    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    return {f"state{i}": v.value for i, v in enumerate(states)}


class Checkpoints:
    """Model + optimizer (``tf.train.Checkpoint``, dropout RNG states included), the best
    weights so far (``best_weights.npz``) and the ``LoopState`` (``state.json``, written last, so
    it only ever names a complete checkpoint)."""

    def __init__(self, directory, trainer: Trainer):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer,
                                              rng=_rng_states(trainer.model),
                                              pair_scale=trainer.pair_scale,
                                              ce_norm_average=trainer.ce_norm_average,
                                              pair_norm_average=trainer.pair_norm_average)

    def restore(self) -> tuple[LoopState, list | None]:
        """The saved state and best weights (restoring model and optimizer), or a fresh start."""
        state_path = self.dir / STATE_FILE
        if not state_path.exists():
            return LoopState(), None
        import zipfile

        from emokit.core.errors import CorruptFileError

        fix = f"delete the folder {self.dir} (this run restarts from epoch 1)"
        try:
            saved = json.loads(state_path.read_text())
            self.checkpoint.restore(str(self.dir / saved.pop("checkpoint"))).assert_consumed()
        except (ValueError, KeyError, TypeError, AssertionError, tf.errors.OpError) as e:
            raise CorruptFileError(state_path, f"{type(e).__name__}: {e}", fix) from None
        try:
            with np.load(self.dir / BEST_WEIGHTS_FILE) as best:
                weights = [best[f"w{i}"] for i in range(len(best.files))]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CorruptFileError(self.dir / BEST_WEIGHTS_FILE, f"{type(e).__name__}: {e}",
                                   fix) from None
        return LoopState(**saved), weights

    def save(self, state: LoopState, best_weights: list) -> None:
        import io

        prefix = self.checkpoint.save(str(self.dir / f"epoch{state.epoch:03d}"))
        buffer = io.BytesIO()
        np.savez(buffer, **{f"w{i}": w for i, w in enumerate(best_weights)})
        write_atomic(self.dir / BEST_WEIGHTS_FILE, buffer.getvalue())
        payload = {**dataclasses.asdict(state), "checkpoint": Path(prefix).name}
        write_atomic(self.dir / STATE_FILE, json.dumps(payload, indent=1))
        for old in self.dir.glob("epoch*"):  # keep only the checkpoint the state names
            if not old.name.startswith(Path(prefix).name):
                old.unlink()


def _append(history: dict, values: dict) -> None:
    for key, value in values.items():
        history.setdefault(key, []).append(value)


def _write_summaries(writer, values: dict, epoch: int) -> None:
    with writer.as_default():
        for key, value in values.items():
            if value is not None:  # probes skipped this epoch (TrainConfig.probe_every)
                tf.summary.scalar(key, value, step=epoch)
    writer.flush()


def _kept(config: TrainConfig, epoch: int) -> str:
    if not config.checkpoint_dir:
        return "No checkpoint was kept (TrainConfig.checkpoint_dir is not set)."
    if epoch == 0:
        return "No epoch had finished, so there is no checkpoint yet."
    return (f"The checkpoint of epoch {epoch} in {config.checkpoint_dir} is kept: a rerun "
            "resumes from it.")


def fit(model: EmotionModel, train_ds, val_ds, config: TrainConfig, probe_train_ds=None) -> dict:
    """Train ``model`` in place with early stopping on validation UA -> history dict.

    ``train_ds``/``val_ds`` yield ``(inputs, labels)`` batches (see ``emokit.data.pipeline``).
    ``probe_train_ds``: the training utterances, one pass each, unshuffled
    (``FoldData.train_by_length``, the cheapest to encode, or ``train_in_order``), for the linear
    probes of ``config.monitor`` (no probes without it).
    History: per-epoch lists ``loss, ce, [disc_loss, disc_acc, disc_chance, pair_scale], lr,
    val_wa, val_ua`` and with ``monitor`` ``[grad_ratio], probe_audio_ua, probe_text_ua``
    (None on epochs without probes, ``TrainConfig.probe_every``; never on the kept epoch), plus
    ``best_epoch`` (1-based), ``best_val_ua``, ``epochs_run``, ``stopped_early``.
    """
    if config.tensorboard_dir:  # before any work: TensorFlow >= 2.21 does not bring tensorboard
        require("tensorboard", f"TrainConfig.tensorboard_dir={config.tensorboard_dir!r}")
    keras.utils.set_random_seed(config.seed)
    skip_graph_rewrites_on_cpu()  # seconds per model on CPU, see emokit.core.tf_process
    absorb_onednn_bool_notice()  # TensorFlow's one-time DT_BOOL notice, see emokit.core.tf_process
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    trainer = Trainer(model, config)
    trainer.compile_for(train_ds.element_spec)
    checkpoints = Checkpoints(config.checkpoint_dir, trainer) if config.checkpoint_dir else None
    state, best_weights = checkpoints.restore() if checkpoints else (LoopState(), None)
    for _ in range(state.epoch):  # replay the shuffle draws of the finished epochs
        next(iter(train_ds))
    writer = (tf.summary.create_file_writer(config.tensorboard_dir)
              if config.tensorboard_dir else None)
    num_classes = trainer.model.num_classes
    monitor_batch = next(iter(val_ds)) if config.monitor and trainer.regularized else None
    probes = config.monitor and probe_train_ds is not None
    stopped_early = False
    for epoch in range(state.epoch, config.epochs):
        if state.wait >= config.patience:  # a resumed run that had already stopped
            stopped_early = True
            break
        lr = learning_rate_at(config, epoch)
        trainer.set_learning_rate(lr)
        progbar = None
        if config.verbose:
            print(f"Epoch {epoch + 1}/{config.epochs}")
            cardinality = int(train_ds.cardinality())
            progbar = keras.utils.Progbar(cardinality if cardinality > 0 else None)
        try:
            logs = trainer.run_epoch(train_ds, epoch, progbar)
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}. {_kept(config, epoch)} Try a lower "
                                   "TrainConfig.learning_rate or clipnorm, a smaller "
                                   "ModelConfig.contrastive_weight, mixed_precision=False, and "
                                   "check the features for NaN/inf.") from None
        probe_now = probes and (epoch + 1) % config.probe_every == 0
        if probe_now:  # the validation codes come from the validation pass itself
            val, val_codes = evaluate_and_encode(trainer.model, val_ds, num_classes)
        else:
            val = evaluate(trainer.model, val_ds, num_classes)
        logs.update(lr=lr, val_wa=val["wa"], val_ua=val["ua"])
        if monitor_batch is not None:
            logs["grad_ratio"] = trainer.gradient_ratio(*monitor_batch)
        if probe_now:
            logs.update(probe_codes(trainer.model, probe_train_ds, val_codes=val_codes))
        elif probes:  # filled in for the kept epoch after training
            logs.update(dict.fromkeys(probe_keys(trainer.model)))
        _append(state.history, logs)
        if config.verbose:
            print(f"  val WA {val['wa']:.4f}  UA {val['ua']:.4f}")
        if writer is not None:
            _write_summaries(writer, logs, epoch)
        state.epoch = epoch + 1
        if val["ua"] > state.best_val_ua:
            state.best_val_ua, state.best_epoch, state.wait = val["ua"], epoch + 1, 0
            best_weights = trainer.model.get_weights()
        else:
            state.wait += 1
        if checkpoints:
            checkpoints.save(state, best_weights)
    trainer.release()  # the traced steps can go with the trainer (issue #20)
    stopped_early = stopped_early or state.wait >= config.patience
    if best_weights is not None:
        trainer.model.set_weights(best_weights)
        _probe_kept_epoch(trainer.model, state, probe_train_ds, val_ds, probes)
    if trainer.model is not model:
        model.set_weights(trainer.model.get_weights())
    return {**state.history, "best_epoch": state.best_epoch, "best_val_ua": state.best_val_ua,
            "epochs_run": state.epoch, "stopped_early": stopped_early}
