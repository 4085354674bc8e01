"""The compiled training step of one model: a ``tf.GradientTape`` step under a strategy.

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

import math
import weakref

import keras
import tensorflow as tf

from emokit.config import TrainConfig
from emokit.core.errors import UserError
from emokit.model.emotion_model import EmotionModel
from emokit.training.runtime import CustomGradients
from emokit.training.tracing import general_signature, own_function

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


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept. A user error: the
    settings of the run made it diverge (the message names them, :func:`emokit.training.loop.fit`),
    so a command line prints one line, no traceback."""


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


def _global_norm(gradients) -> tf.Tensor:
    """The L2 norm of a list of gradients (None entries count as zero). An embedding's gradient
    (``IndexedSlices``, one row per token *occurrence*) is made dense first, so a token seen twice
    in a batch counts once with its summed gradient, as the optimizer applies it."""
    present = [tf.cast(tf.convert_to_tensor(g), "float32") for g in gradients if g is not None]
    return tf.linalg.global_norm(present) if present else tf.constant(0.0)


def _cosine(first, second) -> tf.Tensor:
    """The cosine between two lists of gradients of the same variables, each list flattened and
    concatenated into one vector: ``dot / (|first| |second|)``, 0 when either is 0 (None entries
    count as zero)."""
    def flat(gradients):  # dense: an embedding's gradient is IndexedSlices, whose repeated
        # rows (one per occurrence of a token) must be summed before squaring
        return [tf.reshape(tf.cast(tf.convert_to_tensor(g), "float32"), [-1])
                if g is not None else None for g in gradients]

    first, second = flat(first), flat(second)
    dot = tf.add_n([tf.tensordot(a, b, 1) for a, b in zip(first, second)
                    if a is not None and b is not None] or [tf.constant(0.0)])
    norms = _global_norm(first) * _global_norm(second)
    return tf.where(norms > 0, dot / tf.maximum(norms, 1e-30), 0.0)


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
        # per encoder ("audio", "text": those the model has), which of self.variables are its
        self.on_encoder = {}
        for name in ("audio", "text"):
            encoder = getattr(self.model, f"{name}_encoder")
            if encoder is not None:
                ids = {id(v) for v in encoder.trainable_variables}
                self.on_encoder[name] = [id(v) in ids for v in self.variables]
        self.on_encoders = [any(on) for on in zip(*self.on_encoder.values())]
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
        # what reset() puts back: the optimizer's step count, slots and learning rate, the scale
        # and its running averages, as they are before a first step
        self._initial_state = [(v, v.numpy()) for v in (*self.optimizer.variables, self.pair_scale,
                                                        self.ce_norm_average,
                                                        self.pair_norm_average)]
        self.trace_count = 0
        # what tracing the step registers in TensorFlow for good: given back by release(), or
        # when this Trainer is garbage-collected (see emokit.training.runtime.CustomGradients)
        self._custom_gradients = CustomGradients()
        self.release = weakref.finalize(self, self._custom_gradients.forget)
        gradients = self._scaled_gradients if self.scaling else self._loss_and_gradients
        self._gradients = own_function(gradients, jit_compile=config.xla)
        self.step = own_function(self._step, reduce_retracing=True)
        self._monitored = own_function(self._monitored_gradients)
        self._compiled_for = None

    @staticmethod
    def compiled_settings(config: TrainConfig) -> tuple:
        """The settings of ``config`` that the compiled step holds: two configs that agree on them
        can share one Trainer (the learning rate is set every epoch, the rest is the loop's)."""
        return config.xla, config.mixed_precision, config.distribute, config.clipnorm

    def restart(self, model: EmotionModel) -> None:
        """Ready this Trainer, built for ``model``, for a new run of it: the optimizer's step count
        and moments, the pair scale and its averages back to where a new Trainer starts, and a
        training copy (mixed precision, distribute) given ``model``'s current weights. The
        compiled step is kept: the run trains exactly as with a new Trainer, without tracing."""
        if self.model is not model:
            self.model.set_weights(model.get_weights())
        for variable, value in self._initial_state:
            variable.assign(value)

    def compile_for(self, element_spec) -> None:
        """Trace the step (and the monitored gradients) once for every batch shape of a
        dataset with this ``element_spec`` (a signature with free batch and length dimensions)
        instead of once per shape: one trace serves every fold. Not available under
        ``distribute`` (its batches are per-replica values)."""
        if self.config.distribute or self._compiled_for == element_spec:
            return
        signature = general_signature(element_spec)
        self.step = own_function(self._step, input_signature=signature)
        self._monitored = own_function(self._monitored_gradients, input_signature=signature)
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

    def _monitored_gradients(self, inputs, labels):
        with tf.GradientTape(persistent=True) as tape:
            out = self.model.compute_losses(inputs, labels, training=False,
                                            pair_scale=self.pair_scale)
        ce_grads = tape.gradient(out["ce_term"], self.variables)
        pair_grads = tape.gradient(out["pair_term"], self.variables)
        del tape
        ce_norm = self._encoder_norm(ce_grads)
        pair_norm = self._encoder_norm(pair_grads)
        measures = {"grad_ratio": pair_norm / tf.maximum(ce_norm, 1e-12)}
        for name, on_encoder in self.on_encoder.items():
            ce_part = [g for g, on in zip(ce_grads, on_encoder) if on]
            pair_part = [g for g, on in zip(pair_grads, on_encoder) if on]
            measures[f"grad_cos_{name}"] = _cosine(ce_part, pair_part)
        return measures

    def monitored_gradients(self, inputs, labels) -> dict[str, float]:
        """What ``TrainConfig.monitor`` records of the two terms' gradients on the batch
        ``(inputs, labels)``, no dropout, at the current ``pair_scale`` (1 without scaling), from
        one forward pass: ``grad_ratio`` = ``|grad (w * scale * L)| / |grad CE term|`` on the
        encoders' weights, and ``grad_cos_audio``, ``grad_cos_text``: the cosine in [-1, 1]
        between the CE term's and the pair term's gradients on that encoder's weights (each
        flattened and concatenated; 0 when either is 0; below 0 the two terms pull the encoder
        in opposing directions). ``{}`` for a model without pair loss."""
        if not self.regularized:
            return {}
        return {k: float(v) for k, v in self._monitored(inputs, labels).items()}

    def gradient_ratio(self, inputs, labels) -> float:
        """The monitored gradient ratio ``grad_ratio`` of :meth:`monitored_gradients`; 0 for a
        model without pair loss. Run eagerly: for a one-off look (one batch, a fresh model per
        discriminator kind) tracing would cost several times the computation."""
        if not self.regularized:
            return 0.0
        return float(self._monitored_gradients(inputs, labels)["grad_ratio"])

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
