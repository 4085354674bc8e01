"""The GPU path, checked where no GPU is: every GRU call meets the conditions under which
TensorFlow runs cuDNN's fused kernel, and a mixed-precision training step agrees with float32.

On a GPU, Keras' GRU hands its loop to ``keras.src.backend.gru``, which runs cuDNN only when the
cell uses tanh / sigmoid, a bias, ``reset_after=True``, no unrolling, no recurrent dropout, and
when the mask is right-padded with no fully masked row; otherwise it falls back, silently, to a
step-by-step loop that is many times slower. The test records the very call the GPU would get.
"""

import dataclasses
import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import FEATURE_DIM, VOCAB_SIZE, fake_examples

from emokit.config import ModelConfig, PipelineConfig, TrainConfig, presets
from emokit.data.pipeline import Examples, make_dataset
from emokit.model.emotion_model import build_model
from emokit.training.trainer import Trainer

# Keras' TensorFlow RNN module (the package's ``rnn`` name is a function of the same name)
tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
PRESET_MODELS = {name: make().model for name, make in presets.PRESETS.items()}


class GruCalls:
    """Stands in for ``keras.src.backend.gru``: records each call's arguments, then declines
    (as TensorFlow does without a GPU) so Keras runs its generic loop."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, initial_state, mask, kernel, recurrent_kernel, bias, activation,
                 recurrent_activation, return_sequences=False, go_backwards=False, unroll=False,
                 time_major=False, reset_after=True):
        self.calls.append({
            "cudnn_arguments": tf_rnn._do_gru_arguments_support_cudnn(
                activation, recurrent_activation, unroll, bias is not None, reset_after),
            "mask": None if mask is None else np.asarray(mask),
            "time_major": time_major})
        raise NotImplementedError


@pytest.fixture
def gru_calls(monkeypatch):
    recorder = GruCalls()
    monkeypatch.setattr(keras.src.backend, "gru", recorder)
    return recorder


def pipeline_batches(n=24, seed=0):
    """Real pipeline batches (``emokit.data.pipeline.make_dataset``) of utterances from 1 frame (shorter
    than the encoder's pooling) to 90 frames, and 1 to 9 words."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(1, 91, size=n)
    frames[:3] = [1, 2, 3]
    words = rng.integers(1, 10, size=n)
    data = Examples(
        audio=[rng.normal(size=(k, FEATURE_DIM)).astype("float32") for k in frames],
        tokens=[rng.integers(1, VOCAB_SIZE, size=w).astype("int32") for w in words],
        labels=rng.integers(0, 4, size=n).astype("int32"))
    config = PipelineConfig(batch_size=8, max_frames=80, max_words=8, bucket_width=20)
    return [x for x, _ in make_dataset(data, config, training=False)]


def small(model_config: ModelConfig) -> ModelConfig:
    """The preset's recurrent settings at a size that builds in a moment."""
    return dataclasses.replace(model_config, latent_dim=8, audio_conv_filters=4,
                               audio_rnn_units=4, text_rnn_units=4, discriminator_units=8)


@pytest.mark.parametrize("preset", sorted(PRESET_MODELS))
def test_every_gru_call_meets_cudnn_conditions(preset, gru_calls):
    model = build_model(small(PRESET_MODELS[preset]), FEATURE_DIM, VOCAB_SIZE, 4)
    batches = pipeline_batches()
    for inputs in batches:
        gru_calls.calls.clear()
        model(inputs, training=True)
        # both encoders x both directions, each through the cuDNN entry point (a GRU with
        # recurrent dropout never reaches it)
        assert len(gru_calls.calls) == 4
        for call in gru_calls.calls:
            assert call["cudnn_arguments"], "activation/recurrent activation/bias/reset_after/unroll"
            assert not call["time_major"]
            mask = call["mask"]
            assert mask is not None and mask.dtype == bool
            assert bool(tf_rnn._is_sequence_right_padded(mask)), mask.astype(int)
            assert not bool(tf_rnn._has_fully_masked_sequence(mask)), mask.astype(int)
    assert len(batches) == 3


def test_the_recorder_sees_a_mask_cudnn_would_refuse(gru_calls):
    """The check can fail: a left-padded mask reaches the GRU as it is."""
    model = build_model(small(PRESET_MODELS["quick"]), FEATURE_DIM, VOCAB_SIZE, 4)
    inputs, _ = fake_examples(4, frames=(16, 16), words=(4, 4))
    inputs["text_mask"] = np.array([[False, True, True, True]] * 4)
    gru_calls.calls.clear()
    model(inputs)
    masks = [c["mask"] for c in gru_calls.calls if c["mask"].shape[1] == 4]
    assert masks and not bool(tf_rnn._is_sequence_right_padded(masks[0]))


# --- mixed precision on the CPU ---------------------------------------------------------------

# A step under mixed_float16 computes the forward pass in float16 against float32 master
# weights. Dropout is off so that both steps draw nothing at random (the mixed-precision copy of
# the model draws its own dropout masks). Measured on the pinned CPU stack: loss within 4e-6
# (relative), gradient cosine 0.99999, norm ratio 0.9996, update cosine 0.9992. The bounds below
# leave margin; a step computed in float16 end to end, or a skipped (overflowed) step, fails them.
LOSS_RTOL = 1e-3
GRADIENT_COSINE = 0.999
UPDATE_COSINE = 0.99


def one_step(mixed_precision: bool):
    """One training step from seed-0 weights -> (loss, unscaled gradient, weight update, the
    dtypes of the trained variables, the training model's dtype policy)."""
    config = dataclasses.replace(small(PRESET_MODELS["quick"]), contrastive_weight=0.5,
                                 dropout=0.0, modality_dropout=0.0)
    model = build_model(config, FEATURE_DIM, VOCAB_SIZE, 4, seed=0)
    trainer = Trainer(model, TrainConfig(mixed_precision=mixed_precision, verbose=0))
    inputs, labels = fake_examples(16, seed=3)
    _, gradients = trainer._gradients(inputs, labels)
    gradient = flat(gradients) / float(trainer._loss_scale())
    before = [np.array(v) for v in trainer.variables]
    loss = float(trainer.step(inputs, labels)["loss"])
    update = flat(v - b for v, b in zip(map(np.array, trainer.variables), before))
    dtypes = {v.dtype for v in trainer.variables}
    return loss, gradient, update, dtypes, trainer.model.dtype_policy.name


def flat(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(tf.convert_to_tensor(a), "float64").ravel() for a in arrays])


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_mixed_precision_step_agrees_with_float32():
    loss32, gradient32, update32, _, policy32 = one_step(False)
    loss16, gradient16, update16, dtypes16, policy16 = one_step(True)
    assert (policy32, policy16) == ("float32", "mixed_float16")
    assert dtypes16 == {"float32"}  # master weights stay float32
    assert np.isfinite(loss16) and loss16 == pytest.approx(loss32, rel=LOSS_RTOL)
    assert cosine(gradient16, gradient32) > GRADIENT_COSINE
    assert np.linalg.norm(gradient16) == pytest.approx(np.linalg.norm(gradient32), rel=0.01)
    assert np.abs(update16).max() > 0, "the loss-scaled step was skipped (overflow)"
    assert cosine(update16, update32) > UPDATE_COSINE
