"""The learned weighted sum of a frozen encoder's layers (emokit.model.layer_weights), alone, in a
user's keras.Model and inside emokit's model; the setting that asks for it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from emokit.config import ExperimentConfig, ModelConfig
from emokit.core.errors import ConfigError
from emokit.model.layer_weights import LayerWeightedSum

LAYERS, HIDDEN = 3, 4


def _frames(batch=16, frames=6, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, frames, LAYERS * HIDDEN)).astype(
        "float32")


def test_the_sum_weights_each_layer_by_the_softmax_of_its_logit():
    mix = LayerWeightedSum(LAYERS)
    x = _frames(2)
    mix.build(x.shape)
    mix.logits.assign([0.0, np.log(2.0), np.log(5.0)])  # softmax: 1/8, 2/8, 5/8
    layers = x.reshape(2, 6, LAYERS, HIDDEN)
    expected = (layers[:, :, 0] + 2 * layers[:, :, 1] + 5 * layers[:, :, 2]) / 8
    np.testing.assert_allclose(np.asarray(mix(x)), expected, atol=1e-5)
    np.testing.assert_allclose(mix.layer_weights(), [1 / 8, 2 / 8, 5 / 8], atol=1e-6)
    with pytest.raises(ValueError, match="10 wide, not a multiple of 3 layers"):
        LayerWeightedSum(3)(np.zeros((1, 2, 10), "float32"))


def test_the_gradient_reaches_the_weights_and_training_favours_the_layer_that_tells():
    """Only layer 2 carries the label: training moves the weights towards it."""
    x = _frames(64)
    y = (x.reshape(64, 6, LAYERS, HIDDEN)[:, :, 2, 0].mean(axis=1) > 0).astype("int32")
    inputs = keras.Input((None, LAYERS * HIDDEN))
    mix = LayerWeightedSum(LAYERS, name="mix")
    pooled = keras.layers.GlobalAveragePooling1D()(mix(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    gradient = tape.gradient(loss, mix.logits)
    assert gradient is not None and np.abs(np.asarray(gradient)).max() > 0
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=40, verbose=0)
    weights = mix.layer_weights()
    assert weights.argmax() == 2 and weights[2] > 1 / LAYERS + 0.05


def test_a_saved_user_model_keeps_the_learned_weights(tmp_path):
    inputs = keras.Input((None, LAYERS * HIDDEN))
    mix = LayerWeightedSum(LAYERS, name="mix")
    model = keras.Model(inputs, keras.layers.Dense(2)(mix(inputs)))
    mix.logits.assign([1.0, -2.0, 0.5])
    model.save(tmp_path / "user.keras")
    loaded = keras.saving.load_model(tmp_path / "user.keras")
    np.testing.assert_allclose(loaded.get_layer("mix").layer_weights(), mix.layer_weights(),
                               atol=1e-7)
    np.testing.assert_allclose(np.asarray(loaded(_frames(2))), np.asarray(model(_frames(2))),
                               atol=1e-6)


def test_emokit_model_mixes_the_layers_first_and_saves_them(tmp_path):
    from emokit.model.emotion_model import build_model

    tiny = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3,
                       audio_rnn_units=4, text_rnn_units=4, discriminator_units=8)
    model = build_model(tiny, LAYERS * HIDDEN, 10, 4, feature_layers=LAYERS)
    mix = model.audio_encoder.layer_mix
    assert mix.num_layers == LAYERS and model.audio_encoder.convs[0].kernel.shape[1] == HIDDEN
    mix.logits.assign([0.3, -1.0, 2.0])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.audio_encoder.layer_mix.layer_weights(),
                               mix.layer_weights(), atol=1e-7)
    assert build_model(tiny, LAYERS * HIDDEN, 10, 4).audio_encoder.layer_mix is None


@pytest.mark.parametrize("settings, message", [
    ({"features": {"hub_layers": "all"}}, r"features\.hub_layers.*one of \['one', 'weighted'\]"),
    ({"features": {"hub_layers": "weighted"}}, "'weighted' is read only with features.kind 'hub'"),
    ({"features": {"kind": "hub", "hub_preset": "w", "hub_layers": "weighted", "hub_layer": 2}},
     "features.hub_layer: 2 is not read with features.hub_layers 'weighted'"),
])
def test_bad_layer_settings_are_one_line(settings, message):
    with pytest.raises(ConfigError, match=message) as error:
        ExperimentConfig.from_dict(settings)
    assert len(error.value.problems) == 1 and "\n" not in error.value.problems[0]
