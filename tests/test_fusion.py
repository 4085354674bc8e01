"""The fusion remedies. Modality dropout (emokit.model.layers.ModalityDropout,
ModelConfig.modality_dropout): what it zeroes, that it is off at inference, serialization, and
that the setting at 0 is the baseline. Unimodal auxiliary heads (ModelConfig.aux_heads_weight):
exactly the baseline at 0, the gradient they add to each encoder, training only, serialization and
warm start."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_examples

from emokit.config import ExperimentConfig, ModelConfig
from emokit.core.errors import ConfigError
from emokit.model.emotion_model import build_model
from emokit.model.layers import ModalityDropout
from emokit.training.warm_start import shared_weights, warm_start

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


# --- unimodal auxiliary heads ----------------------------------------------------------------


def test_aux_heads_off_is_exactly_the_baseline_and_on_keeps_its_weights_and_predictions():
    inputs, labels = fake_examples(6)
    base = tiny_model()
    assert TINY.aux_heads_weight == 0.0 and base.audio_aux_head is base.text_aux_head is None
    out = base.compute_losses(inputs, labels, training=True)
    assert set(out) == {"loss", "ce", "ce_term", "logits"}  # nothing added to the objective
    assert float(out["loss"]) == float(out["ce"])
    remedy = tiny_model(aux_heads_weight=0.5)
    assert len(remedy.weights) == len(base.weights) + 4  # two heads: kernel + bias each
    heads = {id(v) for v in remedy.audio_aux_head.weights + remedy.text_aux_head.weights}
    for a, b in zip(base.weights, [v for v in remedy.weights if id(v) not in heads], strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    on = remedy.compute_losses(inputs, labels, training=True)
    assert float(on["ce"]) == float(out["ce"])  # the fused head's CE is untouched
    assert float(on["loss"]) == pytest.approx(
        float(on["ce"]) + 0.5 * (float(on["aux_audio_ce"]) + float(on["aux_text_ce"])), rel=1e-6)
    assert float(on["loss"]) > float(out["loss"]) + 0.1
    np.testing.assert_array_equal(np.asarray(remedy(inputs)), np.asarray(base(inputs)))
    # unimodal models have no second code to add a head to; bad weights are refused
    assert tiny_model(modalities="text", aux_heads_weight=1.0).audio_aux_head is None
    with pytest.raises(ValueError, match="aux_heads_weight"):
        tiny_model(aux_heads_weight=-0.1)
    with pytest.raises(ConfigError, match="aux_heads_weight"):
        ExperimentConfig.from_dict({"model": {"aux_heads_weight": -1}})


def _gradients(model, inputs, labels):
    """``{part: [gradient per variable]}`` of the total loss and of each aux CE, for the audio
    encoder, the text encoder and the fused classifier."""
    parts = {"audio": model.audio_encoder, "text": model.text_encoder,
             "classifier": model.classifier}
    with tf.GradientTape(persistent=True) as tape:
        out = model.compute_losses(inputs, labels, training=True)
    grads = {}
    for key in ("loss", "aux_audio_ce", "aux_text_ce"):
        if key in out:
            for name, layer in parts.items():
                grads[key, name] = [np.zeros(v.shape) if g is None else np.asarray(
                                        tf.convert_to_tensor(g)) for g, v in
                                    zip(tape.gradient(out[key], layer.trainable_variables),
                                        layer.trainable_variables, strict=True)]
    return grads


def _norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a)) for a in arrays)))


def test_aux_heads_add_their_ce_gradient_to_each_encoder_and_leave_the_fused_head_alone():
    inputs, labels = fake_examples(8)
    weight = 0.7
    base = _gradients(tiny_model(), inputs, labels)
    on = _gradients(tiny_model(aux_heads_weight=weight), inputs, labels)
    for modality, other in (("audio", "text"), ("text", "audio")):
        aux = on[f"aux_{modality}_ce", modality]
        assert _norm(aux) > 1e-3  # the head pulls on its own encoder ...
        assert _norm(on[f"aux_{modality}_ce", other]) == 0.0  # ... and only on it
        changed = [a - b for a, b in zip(on["loss", modality], base["loss", modality])]
        assert _norm(changed) > 1e-3 * _norm(base["loss", modality])
        for total, plain, extra in zip(on["loss", modality], base["loss", modality], aux):
            np.testing.assert_allclose(total, plain + weight * extra, atol=1e-6)
    for a, b in zip(on["loss", "classifier"], base["loss", "classifier"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_model_with_aux_heads_round_trips_and_warm_starts(tmp_path):
    inputs, labels = fake_examples(5)
    model = tiny_model(aux_heads_weight=0.3, seed=3)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.config.aux_heads_weight == 0.3 and loaded.text_aux_head is not None
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    ours, theirs = (m.compute_losses(inputs, labels) for m in (model, loaded))
    for key in ("loss", "aux_audio_ce", "aux_text_ce"):
        assert float(ours[key]) == pytest.approx(float(theirs[key]), abs=1e-6)
    # warm start: the heads are shared weights (only the discriminator is not)
    shared = [np.asarray(v) for v in shared_weights(model)]
    target = tiny_model(aux_heads_weight=0.3, contrastive_weight=0.5, seed=4)
    warm_start(target, shared)
    np.testing.assert_array_equal(np.asarray(target.audio_aux_head.logits.kernel),
                                  np.asarray(model.audio_aux_head.logits.kernel))
    with pytest.raises(ValueError, match="do not fit"):
        warm_start(tiny_model(seed=4), shared)

