"""emokit.model.emotion_model: build_model, lambda = 0 is the baseline, unimodal models, .keras round trip."""

import dataclasses
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_examples

from emokit.config import DISCRIMINATORS, ModelConfig
from emokit.model.emotion_model import build_model

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, dropout=0.0)


def tiny_model(seed=0, **changes):
    return build_model(dataclasses.replace(TINY, **changes), FEATURE_DIM, VOCAB_SIZE,
                       NUM_CLASSES, seed=seed)


def shared_weights(model):
    skip = {id(v) for v in model.discriminator.weights}
    return [np.asarray(v) for v in model.weights if id(v) not in skip]


def test_same_seed_same_initial_weights_whatever_lambda():
    base, reg = tiny_model(contrastive_weight=0.0), tiny_model(contrastive_weight=0.5)
    a, b = shared_weights(base), shared_weights(reg)
    assert len(a) == len(b) > 10
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    other = shared_weights(tiny_model(seed=1))
    assert not all(np.array_equal(wa, wo) for wa, wo in zip(a, other))


def test_baseline_skips_the_discriminator_entirely():
    inputs, labels = fake_examples(6)
    base = tiny_model(contrastive_weight=0.0)
    out = base.compute_losses(inputs, labels)
    assert set(out) == {"loss", "ce", "ce_term", "logits"}
    disc = {id(v) for v in base.discriminator.trainable_weights}
    assert not disc & {id(v) for v in base.variables_to_train()}

    reg = tiny_model(contrastive_weight=0.5)
    out = reg.compute_losses(inputs, labels)
    assert float(out["ce"]) == pytest.approx(float(base.compute_losses(inputs, labels)["ce"]))
    assert float(out["loss"]) == pytest.approx(float(out["ce"]) + 0.5 * float(out["disc_loss"]))
    with tf.GradientTape() as tape:
        loss = reg.compute_losses(inputs, labels)["loss"]
    grads = tape.gradient(loss, reg.discriminator.trainable_weights)
    assert all(g is not None and np.any(np.asarray(g) != 0) for g in grads)


@pytest.mark.parametrize("modality, ignored", [("audio", "tokens"), ("text", "audio")])
def test_unimodal_models_read_only_their_modality(modality, ignored):
    inputs, _ = fake_examples(3)
    model = tiny_model(modalities=modality)
    logits = np.asarray(model(inputs))
    assert logits.shape == (3, NUM_CLASSES)
    changed = dict(inputs, **{ignored: inputs[ignored][::-1].copy()})
    np.testing.assert_allclose(np.asarray(model(changed)), logits, atol=1e-6)
    codes = model.encode(inputs)
    assert (codes[0] is None) == (modality == "text") and (codes[1] is None) == (modality == "audio")


@pytest.mark.parametrize("changes, message", [
    ({"modalities": "audio", "contrastive_weight": 0.1}, "modalities='both'"),
    ({"modalities": "video"}, "modalities"),
    ({"pairing": "instance", "within_modality_pairs": True}, "pairing='label'"),
    ({"contrastive_weight": -1.0}, ">= 0"),
    ({"objective": "convex", "contrastive_weight": 1.0}, "< 1 with objective='convex'"),
    ({"discriminator": "mine", "pairing": "label"}, "pairing='instance'"),
    ({"discriminator": "cosine"}, "now called 'cosine_grid'"),
    ({"objective": "product"}, "objective must be one of"),
])
def test_inconsistent_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_model(**changes)


def test_embedding_matrix_sets_the_word_vectors():
    matrix = np.random.default_rng(0).normal(size=(VOCAB_SIZE, 7)).astype("float32")
    model = build_model(TINY, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, embedding_matrix=matrix)
    np.testing.assert_allclose(np.asarray(model.text_encoder.embedding.embeddings), matrix)


def test_a_saved_models_config_holds_no_word_vectors_and_reloads_them(tmp_path):
    import zipfile

    matrix = np.random.default_rng(4).normal(size=(VOCAB_SIZE, 7)).astype("float32")
    model = build_model(TINY, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, embedding_matrix=matrix)
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert b"embedding_matrix" not in archive.read("config.json")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(np.asarray(loaded.text_encoder.embedding.embeddings), matrix)
    inputs, _ = fake_examples(4)
    np.testing.assert_array_equal(np.asarray(loaded(inputs)), np.asarray(model(inputs)))


def test_the_models_logits_are_float32_under_mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_model()
        inputs, labels = fake_examples(4)
        assert model.audio_encoder.compute_dtype == "float16"
        assert model(inputs).dtype == "float32"
        assert model.compute_losses(inputs, labels)["logits"].dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("kind", DISCRIMINATORS)
def test_keras_file_round_trip_gives_the_same_predictions(tmp_path, kind):
    inputs, labels = fake_examples(5)
    pairing = "instance" if kind in ("mine", "shuffled_bce") else "label"
    model = tiny_model(contrastive_weight=0.3, discriminator=kind, dropout=0.2, pairing=pairing,
                       temperature=0.2 if kind == "infonce" else None)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)
    assert loaded.config == model.config
    disc = model.compute_losses(inputs, labels)["disc_loss"]
    assert float(loaded.compute_losses(inputs, labels)["disc_loss"]) == pytest.approx(float(disc))


def test_emotion_model_inside_a_users_functional_model():
    inner = tiny_model()
    audio = keras.Input((None, FEATURE_DIM), name="audio")
    audio_mask = keras.Input((None,), dtype="bool", name="audio_mask")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    text_mask = keras.Input((None,), dtype="bool", name="text_mask")
    feed = {"audio": audio, "audio_mask": audio_mask, "tokens": tokens, "text_mask": text_mask}
    probs = keras.layers.Softmax()(inner(feed))
    outer = keras.Model(feed, probs)
    inputs, _ = fake_examples(2)
    np.testing.assert_allclose(np.asarray(outer(inputs)).sum(-1), 1.0, atol=1e-5)


def test_predict_from_a_saved_bundle(tmp_path):
    import soundfile as sf

    from emokit.config import ExperimentConfig
    from emokit.data.features import extract_features, feature_dim
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary, tokenize
    from emokit.inference import load_bundle, predict, prepare_inputs, save_bundle

    config = ExperimentConfig()
    rate = config.features.sample_rate
    t = np.arange(rate) / rate
    wav = tmp_path / "hello.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + t)).astype("float32"), rate)
    raw = extract_features(np.asarray(sf.read(wav)[0], "float32"), config.features)
    vocab = Vocabulary.build([["what", "a", "day"], ["oh", "no"]])
    fold_data = SimpleNamespace(  # the parts of emokit.data.pipeline.FoldData a bundle keeps
        normalizer=FeatureNormalizer.fit({"u1": raw}, ["u1"], {"u1": "Ses01F"}, "speaker"),
        vocab=vocab, class_names=["neutral", "happy", "angry", "sad"])
    model = build_model(TINY, feature_dim(config.features), len(vocab), 4, seed=0)
    save_bundle(tmp_path / "bundle", model, fold_data, config)

    probs = predict(wav, "What a DAY!", tmp_path / "bundle")
    assert list(probs) == ["neutral", "happy", "angry", "sad"]
    assert sum(probs.values()) == pytest.approx(1.0)
    bundle = load_bundle(tmp_path / "bundle" / "model.keras")
    inputs = prepare_inputs(raw, "What a DAY!", bundle)
    assert inputs["tokens"].tolist() == [vocab.encode(tokenize("what a day"))]
    expected = np.asarray(tf.nn.softmax(model(inputs)))[0]
    np.testing.assert_allclose(list(probs.values()), expected, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="save_bundle"):
        predict(wav, "hi", tmp_path)
