"""emokit.model.layers and emokit.model.discriminators: masking, the pair grid, serialization,
use inside a user's keras.Model."""

import json

import keras
import numpy as np
import pytest
from _fake_batches import FEATURE_DIM, VOCAB_SIZE, fake_examples

from emokit.config import DISCRIMINATORS
from emokit.model.discriminators import PairDiscriminator
from emokit.model.layers import (
    AudioEncoder,
    ConcatFusion,
    EmotionClassifier,
    MaskedAttentionPooling,
    TextEncoder,
)


def pad(array, extra, value=0):
    widths = [(0, 0), (0, extra)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, constant_values=value)


def test_attention_pooling_ignores_padding_and_empty_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)
    layer = MaskedAttentionPooling(8)
    out = np.asarray(layer(x, mask=mask))
    x_noisy = x.copy()
    x_noisy[~mask] = 100.0  # garbage in padded steps must not leak
    np.testing.assert_allclose(np.asarray(layer(x_noisy, mask=mask)), out, atol=1e-6)
    np.testing.assert_array_equal(out[2], 0.0)  # fully padded row: zeros, not NaN
    np.testing.assert_allclose(np.asarray(layer(pad(x, 3), mask=pad(mask, 3, False))), out,
                               atol=1e-6)


def test_audio_encoder_code_unchanged_by_appended_padding():
    inputs, _ = fake_examples(4, frames=(9, 30))
    encoder = AudioEncoder(latent_dim=8, conv_filters=4, conv_kernel=3, conv_layers=2, rnn_units=4)
    code = np.asarray(encoder(inputs["audio"], mask=inputs["audio_mask"]))
    for extra in (1, 7):
        longer = np.asarray(encoder(pad(inputs["audio"], extra),
                                    mask=pad(inputs["audio_mask"], extra, False)))
        np.testing.assert_allclose(longer, code, atol=1e-5)
    changed = inputs["audio"].copy()
    changed[0, 0] += 3.0  # a real frame does change the code
    assert not np.allclose(np.asarray(encoder(changed, mask=inputs["audio_mask"]))[0], code[0])


def test_text_encoder_padding_invariant_and_uses_embedding_matrix():
    inputs, _ = fake_examples(4)
    matrix = np.random.default_rng(1).normal(size=(VOCAB_SIZE, 5)).astype("float32")
    encoder = TextEncoder(VOCAB_SIZE, 5, latent_dim=8, rnn_units=4, train_embeddings=False,
                          embedding_matrix=matrix)
    code = np.asarray(encoder(inputs["tokens"], mask=inputs["text_mask"]))
    np.testing.assert_allclose(np.asarray(encoder.embedding.embeddings), matrix)
    assert not encoder.embedding.trainable_weights
    longer = encoder(pad(inputs["tokens"], 4), mask=pad(inputs["text_mask"], 4, False))
    np.testing.assert_allclose(np.asarray(longer), code, atol=1e-5)
    np.testing.assert_allclose(np.asarray(encoder(inputs["tokens"])),  # mask from id 0
                               code, atol=1e-5)


def test_text_encoder_rejects_mismatched_embedding_matrix():
    with pytest.raises(ValueError, match="vocab_size"):
        TextEncoder(VOCAB_SIZE, 5, embedding_matrix=np.zeros((VOCAB_SIZE + 1, 5), "float32"))


@pytest.mark.parametrize("kind", DISCRIMINATORS)
def test_discriminator_grid_matches_pair_by_pair(kind):
    rng = np.random.default_rng(0)
    left = rng.normal(size=(3, 6)).astype("float32")
    right = rng.normal(size=(5, 6)).astype("float32")
    disc = PairDiscriminator(kind, units=7, seed=3)
    grid = np.asarray(disc(left, right))
    assert grid.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            single = np.asarray(disc(left[i:i + 1], right[j:j + 1]))[0, 0]
            assert grid[i, j] == pytest.approx(single, abs=1e-5)
    assert not np.allclose(grid, grid[0, 0])  # it does depend on the pair


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cosine_grid_discriminator_starts_as_scaled_cosine_similarity():
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(3, 6)), rng.normal(size=(4, 6))
    logits = PairDiscriminator("cosine_grid")(left.astype("float32"), right.astype("float32"))
    np.testing.assert_allclose(np.asarray(logits), _unit(left) @ _unit(right).T / 0.1, atol=1e-4)


@pytest.mark.parametrize("temperature", [None, 0.5])
def test_infonce_scores_are_cosines_of_the_projected_left_codes(temperature):
    rng = np.random.default_rng(1)
    left = rng.normal(size=(3, 6)).astype("float32")
    right = rng.normal(size=(4, 6)).astype("float32")
    disc = PairDiscriminator("infonce", units=5, temperature=temperature, seed=2)
    scores = np.asarray(disc(left, right))
    w1, b1, w2, b2 = disc.get_weights()
    projected = np.maximum(left @ w1 + b1, 0) @ w2 + b2  # Dense(units, relu) -> Dense(d)
    expected = _unit(projected) @ _unit(right).T / (temperature or 1.0)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert np.all(np.abs(scores) <= 1 / (temperature or 1.0) + 1e-5)


def test_unknown_and_renamed_discriminators_are_refused():
    with pytest.raises(ValueError, match="infonce"):
        PairDiscriminator("dot")
    with pytest.raises(ValueError, match="now called 'cosine_grid'"):
        PairDiscriminator("cosine")


def test_discriminator_initialisation_depends_only_on_its_seed():
    codes = np.ones((2, 4), "float32")
    a, b = PairDiscriminator(seed=5), PairDiscriminator(seed=5)
    keras.utils.set_random_seed(123)
    a(codes, codes)
    keras.utils.set_random_seed(456)
    b(codes, codes)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_classifier_head_returns_float32_logits():
    head = EmotionClassifier(4, dropout=0.5)
    fused = ConcatFusion()([np.ones((2, 3), "float32"), np.ones((2, 5), "float32")])
    assert tuple(fused.shape) == (2, 8)
    logits = head(fused)
    assert tuple(logits.shape) == (2, 4) and keras.backend.standardize_dtype(logits.dtype) == "float32"


def functional_model():
    audio = keras.Input((None, FEATURE_DIM), name="audio")
    audio_mask = keras.Input((None,), dtype="bool", name="audio_mask")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    text_mask = keras.Input((None,), dtype="bool", name="text_mask")
    a = AudioEncoder(8, 4, 3, 1, 4)(audio, mask=audio_mask)
    t = TextEncoder(VOCAB_SIZE, 5, 8, 4)(tokens, mask=text_mask)
    logits = EmotionClassifier(4, 0.1)(ConcatFusion()([a, t]))
    return keras.Model({"audio": audio, "audio_mask": audio_mask, "tokens": tokens,
                        "text_mask": text_mask}, logits)


def test_layers_in_a_users_functional_model_save_and_load(tmp_path):
    model = functional_model()
    inputs, _ = fake_examples(3)
    before = np.asarray(model(inputs))
    model.save(tmp_path / "user.keras")
    loaded = keras.saving.load_model(tmp_path / "user.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), before, atol=1e-6)


@pytest.mark.parametrize("cls, args", [
    (MaskedAttentionPooling, {"units": 3}),
    (AudioEncoder, {"latent_dim": 8, "conv_filters": 4, "conv_kernel": 3, "conv_layers": 3,
                    "rnn_units": 4}),
    (TextEncoder, {"vocab_size": 10, "embedding_dim": 4, "latent_dim": 6, "rnn_units": 2,
                   "train_embeddings": False}),
    (EmotionClassifier, {"num_classes": 5, "dropout": 0.2}),
    (PairDiscriminator, {"kind": "bilinear", "units": 9, "seed": 2}),
    (ConcatFusion, {})])
def test_layer_config_round_trip(cls, args):
    config = cls(**args).get_config()
    assert {k: config[k] for k in args} == args  # every constructor argument is in the config
    assert cls.from_config(config).get_config() == config


# --- Keras conventions: output shapes, a text encoder's vectors survive from_config/clone ------

@pytest.mark.parametrize("name", ["attention", "audio", "text", "fusion", "classifier", "pairs",
                                  "modality_dropout"])
def test_compute_output_shape_agrees_with_the_real_output(name):
    from emokit.model.layers import ModalityDropout

    rng = np.random.default_rng(0)
    audio = rng.normal(size=(3, 16, 5)).astype("float32")
    codes = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 6)).astype("float32")]
    layer, args = {
        "attention": (MaskedAttentionPooling(8), (audio,)),
        "audio": (AudioEncoder(7, 4, 3, 2, 4), (audio,)),
        "text": (TextEncoder(20, 6, 7, 4), (np.array([[3, 4, 0], [5, 0, 0], [1, 2, 3]]),)),
        "fusion": (ConcatFusion(), (codes,)),
        "classifier": (EmotionClassifier(4), (codes[1],)),
        "pairs": (PairDiscriminator("mlp", units=8), (codes[0], codes[0][:2])),
        "modality_dropout": (ModalityDropout(0.5), (codes,)),
    }[name]
    real = layer(*args)
    real_shapes = [tuple(r.shape) for r in real] if isinstance(real, list) else tuple(real.shape)
    shapes = [[tuple(a.shape) for a in arg] if isinstance(arg, list) else tuple(arg.shape)
              for arg in args]
    assert layer.compute_output_shape(*shapes) == real_shapes
    unknown_batch = [[(None, *s[1:]) for s in shape] if isinstance(shape, list) else
                     (None, *shape[1:]) for shape in shapes]
    first = layer.compute_output_shape(*unknown_batch)
    assert (first[0][0] if isinstance(first, list) else first[0]) is None


def _text_model(vectors):
    inputs = keras.Input((None,), dtype="int32")
    return keras.Model(inputs, TextEncoder(*vectors.shape, 5, 3, embedding_matrix=vectors,
                                           train_embeddings=False)(inputs))


def test_a_text_encoders_word_vectors_live_in_its_weights_not_its_config():
    vectors = np.random.default_rng(1).normal(size=(12, 6)).astype("float32")
    encoder = TextEncoder(12, 6, latent_dim=5, rnn_units=3, embedding_matrix=vectors,
                          train_embeddings=False)
    tokens = np.array([[2, 3, 4, 0]])
    encoder(tokens)
    np.testing.assert_array_equal(np.asarray(encoder.embedding.embeddings), vectors)
    config = encoder.get_config()
    assert "embedding_matrix" not in config
    assert (config["vocab_size"], config["embedding_dim"]) == (12, 6)
    copy = TextEncoder.from_config(json.loads(json.dumps(config)))  # plain JSON, as saved
    copy(tokens)
    assert not copy.embedding.trainable
    copy.set_weights(encoder.get_weights())
    np.testing.assert_array_equal(np.asarray(copy.embedding.embeddings), vectors)
    np.testing.assert_array_equal(np.asarray(copy(tokens)), np.asarray(encoder(tokens)))


def test_clone_model_copies_a_text_model_whose_weights_then_carry_over():
    model = _text_model(np.random.default_rng(1).normal(size=(12, 6)).astype("float32"))
    tokens = np.array([[2, 3, 4, 0], [5, 0, 0, 0]])
    clone = keras.models.clone_model(model)
    encoders = [next(layer for layer in m.layers if isinstance(layer, TextEncoder))
                for m in (model, clone)]
    configs = [{k: v for k, v in e.get_config().items() if k != "name"} for e in encoders]
    assert configs[0] == configs[1]
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(np.asarray(clone(tokens)), np.asarray(model(tokens)))


@pytest.mark.parametrize("rows", [50, 4000])
def test_a_saved_text_models_config_does_not_grow_with_its_word_vectors(tmp_path, rows):
    import zipfile

    vectors = np.random.default_rng(2).normal(size=(rows, 6)).astype("float32")
    model = _text_model(vectors)
    tokens = np.array([[2, 3, rows - 1, 0]])
    model.save(tmp_path / "text.keras")
    with zipfile.ZipFile(tmp_path / "text.keras") as archive:
        config_size = archive.getinfo("config.json").file_size
    assert config_size < 8_000  # 4000 x 6 vectors alone would be over 200 kB as JSON
    loaded = keras.saving.load_model(tmp_path / "text.keras")
    for saved, kept in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, kept)
    np.testing.assert_array_equal(np.asarray(loaded(tokens)), np.asarray(model(tokens)))


def test_a_config_saved_with_the_matrix_in_it_still_loads():
    vectors = np.random.default_rng(3).normal(size=(12, 6)).astype("float32")
    old = {**TextEncoder(12, 6, 5, 3).get_config(),
           "embedding_matrix": keras.saving.serialize_keras_object(vectors)}
    encoder = TextEncoder.from_config(json.loads(json.dumps(old)))
    encoder(np.array([[1, 2]]))
    np.testing.assert_array_equal(np.asarray(encoder.embedding.embeddings), vectors)
    assert "embedding_matrix" not in encoder.get_config()


def test_logits_are_float32_under_a_mixed_float16_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        classifier = EmotionClassifier(4)
        assert classifier(np.zeros((2, 8), "float32")).dtype == "float32"
        assert classifier.compute_dtype == "float16"  # the layers before it stay mixed
        assert EmotionClassifier(4)(keras.Input((8,))).dtype == "float32"  # functional too
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("module, examples", [("emokit.model.layers", 10),
                                              ("emokit.model.discriminators", 3)])
def test_the_layer_docstring_examples_run(module, examples):
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module),
                                      optionflags=doctest.ELLIPSIS)
    assert tried >= examples and failures == 0


def test_load_corpus_hands_workers_to_the_feature_extraction(monkeypatch, tmp_path):
    import data_prep.features
    import data_prep.synthetic
    from emokit.config import ExperimentConfig
    from emokit.experiment import runner

    class Stop(Exception):
        pass

    seen = {}

    def build_cache(manifest, root, features, workers=None, progress=True, **more):
        seen["workers"] = workers
        raise Stop

    monkeypatch.setattr(data_prep.synthetic, "ensure_corpus", lambda corpus: tmp_path / "m.csv")
    monkeypatch.setattr(data_prep.synthetic, "release_root", lambda manifest: tmp_path)
    monkeypatch.setattr(data_prep.features, "build_cache", build_cache)
    with pytest.raises(Stop):
        runner.load_corpus(ExperimentConfig(), workers=1)
    assert seen == {"workers": 1}
