"""Modality dropout (emokit.layers.ModalityDropout, ModelConfig.modality_dropout): what it
zeroes, that it is off at inference, serialization, and that the setting at 0 is the baseline."""

import dataclasses

import keras
import numpy as np
import pytest
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_examples

from emokit.config import ModelConfig
from emokit.layers import ModalityDropout
from emokit.model import build_model

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, dropout=0.0)


def tiny_model(seed=0, **changes):
    return build_model(dataclasses.replace(TINY, **changes), FEATURE_DIM, VOCAB_SIZE,
                       NUM_CLASSES, seed=seed)


def codes(batch=4000, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(1, 2, (batch, 3)).astype("float32"),
            rng.uniform(1, 2, (batch, 5)).astype("float32")]


def test_modality_dropout_zeroes_one_code_of_rate_of_the_examples():
    audio, text = codes()
    out_audio, out_text = (np.asarray(c) for c in
                           ModalityDropout(0.4, seed=1)([audio, text], training=True))
    audio_off = np.all(out_audio == 0, axis=1)
    text_off = np.all(out_text == 0, axis=1)
    assert not np.any(audio_off & text_off)  # never both
    assert audio_off.mean() + text_off.mean() == pytest.approx(0.4, abs=0.03)
    assert audio_off.mean() == pytest.approx(0.2, abs=0.03)  # the modality is drawn uniformly
    np.testing.assert_array_equal(out_audio[~audio_off], audio[~audio_off])  # no rescaling
    np.testing.assert_array_equal(out_text[~text_off], text[~text_off])
    # a new call draws new examples
    again = np.all(np.asarray(ModalityDropout(0.4, seed=2)([audio, text], training=True)[0]) == 0,
                   axis=1)
    assert not np.array_equal(again, audio_off)


@pytest.mark.parametrize("rate, training, n_codes", [(0.5, False, 2), (0.0, True, 2),
                                                     (0.5, True, 1)])
def test_modality_dropout_is_the_identity_at_inference_rate_0_or_one_modality(rate, training,
                                                                               n_codes):
    inputs = codes(50)[:n_codes]
    out = ModalityDropout(rate, seed=0)(inputs, training=training)
    for a, b in zip(out, inputs, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)


def test_modality_dropout_serializes_and_refuses_bad_rates():
    layer = ModalityDropout(0.3, seed=5, name="md")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, ModalityDropout) and (clone.rate, clone.seed) == (0.3, 5)
    with pytest.raises(ValueError, match="rate"):
        ModalityDropout(1.0)
    with pytest.raises(ValueError, match="modality_dropout"):
        tiny_model(modality_dropout=-0.1)


def test_default_is_plain_concatenation_and_the_setting_keeps_initial_weights():
    inputs, labels = fake_examples(6)
    base = tiny_model()
    assert TINY.modality_dropout == 0.0 and base.modality_dropout is None
    remedy = tiny_model(modality_dropout=0.5)
    assert isinstance(remedy.modality_dropout, ModalityDropout)
    trainable = [np.asarray(v) for v in base.trainable_weights]
    assert len(trainable) == len(remedy.trainable_weights) > 10
    for a, b in zip(trainable, remedy.trainable_weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))
    # inference ignores it; training drops codes, so the loss differs
    np.testing.assert_allclose(np.asarray(remedy(inputs)), np.asarray(base(inputs)), atol=1e-6)
    ce_base = float(base.compute_losses(inputs, labels, training=True)["ce"])
    assert float(remedy.compute_losses(inputs, labels, training=True)["ce"]) != pytest.approx(
        ce_base, abs=1e-6)
    # unimodal models have nothing to drop
    assert tiny_model(modalities="audio", modality_dropout=0.5).modality_dropout is None


def test_model_with_modality_dropout_round_trips(tmp_path):
    inputs, _ = fake_examples(5)
    model = tiny_model(modality_dropout=0.3)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.config.modality_dropout == 0.3 and loaded.modality_dropout.rate == 0.3
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)
