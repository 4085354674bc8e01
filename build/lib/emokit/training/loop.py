"""The training loop: a compiled ``tf.GradientTape`` step, early stopping, checkpoints, resume.

>>> history = fit(model, fold.train, fold.val, TrainConfig(epochs=20))   # doctest: +SKIP
>>> y_true, probs = predict_dataset(model, fold.test)                     # doctest: +SKIP

One epoch = one pass over ``train_ds`` with Adam (global gradient-norm clipping ``clipnorm``,
learning rate ``learning_rate * lr_decay ** epoch``), then WA/UA on ``val_ds``. The weights with
the best validation UA are restored at the end. With ``checkpoint_dir`` set, the model, optimizer
and loop state are saved after every epoch and a rerun of the same call resumes where the last
run stopped (even if it was killed), ending with the same result as an uninterrupted run.

With ``TrainConfig.monitor`` the history also records, per epoch, what the regularizer does: the
monitored gradient ratio ``grad_ratio`` and the cosines ``grad_cos_audio``, ``grad_cos_text``
between CE's and the pair loss's gradients on each encoder (defined once, at
``TrainConfig.monitor``; a model without pair loss records none of them) and a linear probe's
validation UA on the audio code and on the text code alone (``probe_audio_ua``,
``probe_text_ua``; see :mod:`emokit.training.probes`). Monitoring does not change training: the
same seed gives the same weights with it on or off.

The compiled step is :class:`emokit.training.trainer.Trainer`; the forward passes over a dataset
(validation, probes, prediction) are :mod:`emokit.training.forward`; checkpoints are
:mod:`emokit.training.checkpoints`.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from emokit.config import ModelConfig, TrainConfig
from emokit.core.optional import require
from emokit.core.tf_process import (
    absorb_onednn_bool_notice,
    kernel_cache_kept,
    set_random_seed,
    skip_graph_rewrites_on_cpu,
)
from emokit.model.emotion_model import EmotionModel
from emokit.training.checkpoints import Checkpoints, LoopState
from emokit.training.forward import evaluate, evaluate_and_encode, probe_codes, probe_keys
from emokit.training.reuse import trainer_for
from emokit.training.trainer import TrainingDiverged, learning_rate_at


def release_run_state() -> None:
    """Give back what a finished run left in Keras' global state (layer-name counters, the
    default graph), then collect the run's garbage: its model, ``Trainer`` and traced functions
    (a ``Trainer`` gives back the custom gradients its step registered in TensorFlow when it is
    collected; see :class:`emokit.training.runtime.CustomGradients`). A model still in use keeps
    working; the global dtype policy and TensorFlow's compiled kernels are kept (the kept models'
    functions would otherwise create theirs again: :func:`emokit.core.tf_process.kernel_cache_kept`)."""
    policy = keras.config.dtype_policy()
    with kernel_cache_kept():
        keras.backend.clear_session(free_memory=True)
    keras.config.set_dtype_policy(policy)


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


# The settings that can make the loss diverge, by their config-file names (section, field).
DIVERGENCE_SETTINGS = (("model", "aux_heads_weight"), ("model", "contrastive_weight"),
                       ("model", "temperature"), ("model", "pair_loss_scaling"),
                       ("train", "learning_rate"), ("train", "lr_decay"), ("train", "clipnorm"),
                       ("train", "mixed_precision"))


def divergence_hint(model_config: ModelConfig, config: TrainConfig) -> str:
    """One sentence naming the run's settings that can make training diverge, with their values:
    those changed from their defaults first (the furthest moved first, in orders of magnitude),
    then the others."""
    sections = {"model": (model_config, ModelConfig()), "train": (config, TrainConfig())}
    named = []
    for section, name in DIVERGENCE_SETTINGS:
        run, default = (getattr(c, name) for c in sections[section])
        named.append((-_moved(run, default), f"{section}.{name} = {run!r}"
                      + (f" (default {default!r})" if run != default else "")))
    named.sort(key=lambda pair: pair[0])  # stable: unchanged ones keep the order above
    first = (f"bring {named[0][1].split(' = ')[0]} back towards its default"
             if named[0][0] < 0 else "try a lower train.learning_rate")
    return ("Settings of this run that can make training diverge, those changed from their "
            f"defaults first: {', '.join(text for _, text in named)}. Fix: {first} (a lower "
            "learning_rate, a clipnorm, mixed_precision false help too), and check the features "
            "for NaN/inf.")


def _moved(value, default) -> float:
    """How far ``value`` moved from ``default``: 0 when equal, else in orders of magnitude (at
    least 1; a setting that is not a number counts 1)."""
    if value == default:
        return 0.0
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                  for v in (value, default))
    if not numbers:
        return 1.0
    return max(1.0, abs(math.log10(abs(value) + 1e-3) - math.log10(abs(default) + 1e-3)))


def fit(model: EmotionModel, train_ds, val_ds, config: TrainConfig, probe_train_ds=None) -> dict:
    """Train ``model`` in place with early stopping on validation UA -> history dict.

    ``train_ds``/``val_ds`` yield ``(inputs, labels)`` batches (see ``emokit.data.pipeline``).
    ``probe_train_ds``: the training utterances, one pass each, unshuffled
    (``FoldData.train_by_length``, the cheapest to encode, or ``train_in_order``), for the linear
    probes of ``config.monitor`` (no probes without it).
    History: per-epoch lists ``loss, ce, [disc_loss, disc_acc, disc_chance, pair_scale], lr,
    val_wa, val_ua`` and with ``monitor`` ``[grad_ratio, grad_cos_audio, grad_cos_text],
    probe_audio_ua, probe_text_ua``
    (None on epochs without probes, ``TrainConfig.probe_every``; never on the kept epoch), plus
    ``best_epoch`` (1-based), ``best_val_ua``, ``epochs_run``, ``stopped_early``.
    """
    if config.tensorboard_dir:  # before any work: TensorFlow >= 2.21 does not bring tensorboard
        require("tensorboard", f"TrainConfig.tensorboard_dir={config.tensorboard_dir!r}")
    set_random_seed(config.seed)  # keeps compiled kernels when the seed is unchanged
    skip_graph_rewrites_on_cpu()  # seconds per model on CPU, see emokit.core.tf_process
    absorb_onednn_bool_notice()  # TensorFlow's one-time DT_BOOL notice, see emokit.core.tf_process
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    trainer, shared = trainer_for(model, config)  # a kept model's is compiled already
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
            raise TrainingDiverged(f"{error}. {_kept(config, epoch)} "
                                   f"{divergence_hint(model.config, config)}") from None
        probe_now = probes and (epoch + 1) % config.probe_every == 0
        if probe_now:  # the validation codes come from the validation pass itself
            val, val_codes = evaluate_and_encode(trainer.model, val_ds, num_classes)
        else:
            val = evaluate(trainer.model, val_ds, num_classes)
        logs.update(lr=lr, val_wa=val["wa"], val_ua=val["ua"])
        if monitor_batch is not None:
            logs.update(trainer.monitored_gradients(*monitor_batch))
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
    if not shared:
        trainer.release()  # the traced steps can go with the trainer (issue #20)
    stopped_early = stopped_early or state.wait >= config.patience
    if best_weights is not None:
        trainer.model.set_weights(best_weights)
        _probe_kept_epoch(trainer.model, state, probe_train_ds, val_ds, probes)
    if trainer.model is not model:
        model.set_weights(trainer.model.get_weights())
    return {**state.history, "best_epoch": state.best_epoch, "best_val_ua": state.best_val_ua,
            "epochs_run": state.epoch, "stopped_early": stopped_early}
