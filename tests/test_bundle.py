"""Damaged bundles and training checkpoints: a clear message naming the file, never NaN."""

import dataclasses
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_dataset

from emokit.config import ExperimentConfig, ModelConfig, TrainConfig
from emokit.model.emotion_model import build_model

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, dropout=0.2)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``(bundle folder, wav)``: a tiny model's bundle and a one-second recording."""
    from emokit.data.features import extract_features, feature_dim
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary
    from emokit.inference import save_bundle

    tmp = tmp_path_factory.mktemp("bundle")
    config = ExperimentConfig()
    rate = config.features.sample_rate
    t = np.arange(rate) / rate
    wav = tmp / "hello.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), rate)
    raw = extract_features(np.asarray(sf.read(wav)[0], "float32"), config.features)
    vocab = Vocabulary.build([["what", "a", "day"]])
    fold_data = SimpleNamespace(
        normalizer=FeatureNormalizer.fit({"u1": raw}, ["u1"], {"u1": "Ses01F"}, "speaker"),
        vocab=vocab, class_names=["neutral", "happy", "angry", "sad"])
    model = build_model(TINY, feature_dim(config.features), len(vocab), 4, seed=0)
    save_bundle(tmp / "good", model, fold_data, config)
    return tmp / "good", wav


@pytest.fixture
def bundle(saved, tmp_path):
    import shutil

    return Path(shutil.copytree(saved[0], tmp_path / "bundle"))


def _predict(wav, folder):
    from emokit.inference import predict

    return predict(wav, "what a day", folder)


def test_a_good_bundle_predicts(bundle, saved):
    probs = _predict(saved[1], bundle)
    assert sum(probs.values()) == pytest.approx(1.0)


def test_a_truncated_bundle_json_is_named(bundle, saved):
    text = (bundle / "bundle.json").read_text()
    (bundle / "bundle.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"bundle\.json is corrupt .*save the bundle again"):
        _predict(saved[1], bundle)


def test_a_zero_byte_model_is_named(bundle, saved):
    (bundle / "model.keras").write_bytes(b"")
    with pytest.raises(ValueError, match=r"model\.keras is empty \(0 bytes\)"):
        _predict(saved[1], bundle)


def test_a_damaged_model_file_is_named(bundle, saved):
    (bundle / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"model\.keras cannot be loaded"):
        _predict(saved[1], bundle)


@pytest.mark.parametrize("key", ["vocabulary", "max_frames", "normalizer"])
def test_a_missing_key_is_named(bundle, saved, key):
    info = json.loads((bundle / "bundle.json").read_text())
    del info[key]
    (bundle / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=rf"bundle\.json lacks \['{key}'\]"):
        _predict(saved[1], bundle)


def test_a_folder_given_as_the_recording_is_named(bundle, saved):
    with pytest.raises(ValueError, match="is a folder, not an audio file"):
        _predict(bundle, bundle)


def _resave(folder, model):
    """Save ``model`` as the bundle in ``folder``, with that bundle's other parts."""
    from emokit.inference import load_bundle, save_bundle

    loaded = load_bundle(folder)
    fold_data = SimpleNamespace(normalizer=loaded.normalizer, vocab=loaded.vocab,
                                class_names=loaded.class_names)
    save_bundle(folder, model, fold_data, ExperimentConfig())


def test_predict_never_returns_nan(bundle, saved):
    import keras

    model = keras.saving.load_model(bundle / "model.keras")
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    _resave(bundle, model)
    with pytest.raises(ValueError, match="NaN probabilities"):
        _predict(saved[1], bundle)


def test_bundle_files_are_written_atomically(saved, tmp_path, monkeypatch):
    from emokit import inference
    from emokit.core import atomic

    bundle = inference.load_bundle(saved[0])
    replaced = []
    real = atomic.os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: replaced.append(Path(b).name) or
                        real(a, b))
    monkeypatch.setattr(inference.os, "replace", lambda a, b: replaced.append(Path(b).name) or
                        real(a, b))
    fold_data = SimpleNamespace(normalizer=bundle.normalizer, vocab=bundle.vocab,
                                class_names=bundle.class_names)
    inference.save_bundle(tmp_path / "again", bundle.model, fold_data, ExperimentConfig())
    assert {"bundle.json", "model.keras"} <= set(replaced)
    assert [p.name for p in (tmp_path / "again").iterdir()] != []
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["bundle.json",
                                                                      "model.keras"]


# ------------------------------------------------------------------------------- checkpoints


def _train_with_checkpoint(folder: Path, epochs: int):
    from emokit.training.loop import fit

    model = build_model(dataclasses.replace(TINY, contrastive_weight=0.5), FEATURE_DIM,
                        VOCAB_SIZE, NUM_CLASSES, seed=0)
    config = TrainConfig(epochs=epochs, verbose=0, patience=100, checkpoint_dir=str(folder))
    return fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1), config)


def test_a_truncated_best_weights_file_is_named_with_what_to_delete(tmp_path):
    _train_with_checkpoint(tmp_path / "ckpt", epochs=1)
    best = tmp_path / "ckpt" / "best_weights.npz"
    assert zipfile.is_zipfile(best)
    best.write_bytes(best.read_bytes()[:100])  # cut short by a kill during an in-place write
    with pytest.raises(ValueError, match=r"best_weights\.npz is corrupt .*delete the folder "
                                         r".*ckpt"):
        _train_with_checkpoint(tmp_path / "ckpt", epochs=2)


def test_best_weights_are_written_atomically(tmp_path, monkeypatch):
    from emokit.core import atomic

    replaced = []
    real = atomic.os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: replaced.append(Path(b).name) or
                        real(a, b))
    _train_with_checkpoint(tmp_path / "ckpt", epochs=1)
    assert "best_weights.npz" in replaced


@pytest.mark.parametrize("change, named", [
    (lambda info: info.update(class_names=["neutral", "happy", "angry"]), "class_names has 3"),
    (lambda info: info["features"].update(hop_ms=0), "features.hop_ms"),
    (lambda info: info["features"].update(sample_rate=1), "features.sample_rate"),
    (lambda info: info.update(max_frames=-5), "max_frames -5"),
    (lambda info: info["normalizer"].update(mean=[0.0] * 3), "normalizer mean has shape"),
])
def test_bundle_values_are_checked_not_only_keys(bundle, saved, change, named):
    """A bundle whose values cannot fit the model is refused on loading, naming the entry."""
    from emokit.inference import BundleError

    info = json.loads((bundle / "bundle.json").read_text())
    change(info)
    (bundle / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match=rf"bundle\.json holds values.*{named}"):
        _predict(saved[1], bundle)


def test_predict_refuses_a_tiny_recording_and_warns_on_a_long_one(bundle, tmp_path):
    from emokit.core.errors import DataError
    from emokit.inference import LongRecordingWarning

    rate = ExperimentConfig().features.sample_rate
    short = tmp_path / "short.wav"
    sf.write(short, np.full(1, 0.3, "float32"), rate)
    with pytest.raises(DataError, match=r"short\.wav holds 0\.1 ms of audio: too short"):
        _predict(short, bundle)
    long = tmp_path / "long.wav"
    t = np.arange(12 * rate) / rate
    sf.write(long, (0.3 * np.sin(2 * np.pi * 200 * t)).astype("float32"), rate)
    info = json.loads((bundle / "bundle.json").read_text())
    info["max_frames"] = 300  # the model reads 3 s of the 12
    (bundle / "bundle.json").write_text(json.dumps(info))
    with pytest.warns(LongRecordingWarning, match=r"lasts 12\.0 s but the model reads only its "
                                                  r"first 3\.0 s"):
        _predict(long, bundle)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 cut short", b"not a zip at all"])
def test_a_damaged_warm_start_weights_file_is_named(tmp_path, damage):
    from emokit.core.errors import CorruptFileError
    from emokit.evaluation.runstore import FINAL_WEIGHTS, load_final_weights, save_final_weights

    save_final_weights(tmp_path, [np.ones((2, 3), "float32")])
    assert load_final_weights(tmp_path)[0].shape == (2, 3)
    (tmp_path / FINAL_WEIGHTS).write_bytes(damage)
    with pytest.raises(CorruptFileError, match=rf"file {tmp_path / FINAL_WEIGHTS} is corrupt.*"
                                               rf"delete {tmp_path} so the baseline run"):
        load_final_weights(tmp_path)


# ------------------------------------------------------------------- fingerprint of the parts


def _edit(folder, change):
    info = json.loads((folder / "bundle.json").read_text())
    change(info)
    (folder / "bundle.json").write_text(json.dumps(info))


def test_a_saved_bundle_carries_the_fingerprint_of_its_parts(saved):
    import hashlib

    info = json.loads((saved[0] / "bundle.json").read_text())
    model_hash = hashlib.sha256((saved[0] / "model.keras").read_bytes()).hexdigest()
    assert info["fingerprint"]["model_sha256"] == model_hash
    assert info["fingerprint"]["class_names"] == ["neutral", "happy", "angry", "sad"]
    assert info["fingerprint"]["vocabulary_size"] == len(info["vocabulary"]["words"]) == 5
    assert info["fingerprint"]["features_key"] == ExperimentConfig().features.key()


@pytest.mark.parametrize("change, named", [
    (lambda info: info.update(class_names=["neutral", "sad", "angry", "happy"]),
     r"the class order \['neutral', 'sad', 'angry', 'happy'\] is not the order the model was "
     r"saved with \['neutral', 'happy', 'angry', 'sad'\]"),
    (lambda info: info["vocabulary"].update(words=["<pad>", "<unk>", "day", "a", "what"]),
     "the vocabulary's words are not those"),
    (lambda info: info["features"].update(fmin_hz=70.0), "the feature settings .* are not those"),
])
def test_an_edited_part_is_refused_naming_what_differs(bundle, saved, change, named):
    from emokit.inference import BundleError

    _edit(bundle, change)
    with pytest.raises(BundleError, match=rf"bundle\.json: the bundle's parts do not match the "
                                          rf"fingerprint.*{named}.*save the bundle again"):
        _predict(saved[1], bundle)


def test_another_model_of_the_same_shapes_is_refused_naming_the_model_file(bundle, saved):
    from emokit.data.features import feature_dim
    from emokit.inference import BundleError

    other = build_model(TINY, feature_dim(ExperimentConfig().features), 5, 4, seed=1)
    other.save(bundle / "model.keras")
    with pytest.raises(BundleError, match=r"model\.keras is not the model file this bundle was "
                                          r"saved with"):
        _predict(saved[1], bundle)


@pytest.mark.parametrize("fingerprinted", [True, False])
@pytest.mark.parametrize("words, problem", [
    (["<pad>", "<unk>", "what", "a", "day", "more", "words"], "ids past its last row"),
    (["<pad>", "<unk>", "what", "a"], "rows trained for another vocabulary"),
])
def test_a_vocabulary_that_does_not_fit_the_embedding_names_both_sizes(bundle, saved, words,
                                                                       problem, fingerprinted):
    """Larger: TensorFlow would raise from the lookup on a CPU (zeros on a GPU); smaller: the
    words would read rows trained for others. Refused on loading, old bundles included."""
    from emokit.inference import BundleError

    _edit(bundle, lambda info: info["vocabulary"].update(words=words, counts={}))
    if not fingerprinted:
        _edit(bundle, lambda info: info.pop("fingerprint"))
    with pytest.raises(BundleError, match=rf"the vocabulary has {len(words)} words but the "
                                          rf"model's embedding takes 5 \({problem}\)"):
        _predict(saved[1], bundle)


def test_a_damaged_fingerprint_is_named(bundle, saved):
    from emokit.inference import BundleError

    _edit(bundle, lambda info: info["fingerprint"].pop("class_names"))
    with pytest.raises(BundleError, match=r"bundle\.json holds a bad fingerprint"):
        _predict(saved[1], bundle)


def test_a_bundle_without_fingerprint_loads_with_a_note(bundle, saved):
    from emokit.inference import UnfingerprintedBundleWarning, load_bundle

    before = _predict(saved[1], bundle)
    _edit(bundle, lambda info: info.pop("fingerprint"))
    with pytest.warns(UnfingerprintedBundleWarning, match=r"bundle\.json carries no fingerprint"):
        load_bundle(bundle)
    assert _predict(saved[1], bundle) == pytest.approx(before)


def test_save_bundle_refuses_a_vocabulary_the_model_cannot_take(saved, tmp_path):
    from emokit.data.text import Vocabulary
    from emokit.inference import BundleError, load_bundle, save_bundle

    loaded = load_bundle(saved[0])
    fold_data = SimpleNamespace(normalizer=loaded.normalizer, class_names=loaded.class_names,
                                vocab=Vocabulary.build([["a", "much", "larger", "vocabulary"]]))
    with pytest.raises(BundleError, match="has 6 words but the model's embedding takes 5"):
        save_bundle(tmp_path / "mixed", loaded.model, fold_data, ExperimentConfig())
    assert not (tmp_path / "mixed").exists()


# ------------------------------------------------------------- long recordings, unknown words


def _voiced_recording(path, seconds, rate):
    """A voiced, changing tone (pitch gliding 120..240 Hz, loudness swelling) of ``seconds``."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 180 + 60 * np.sin(2 * np.pi * 0.3 * t)
    wave = (0.2 + 0.1 * np.sin(2 * np.pi * 0.7 * t)) * np.sin(2 * np.pi * np.cumsum(pitch) / rate)
    sf.write(path, wave.astype("float32"), rate)


@pytest.mark.parametrize("rate", [16000, 22050])
def test_a_long_recording_is_read_only_as_far_as_the_model_looks(bundle, tmp_path, monkeypatch,
                                                                  rate):
    """The frames the model sees are those of the whole file, but only a bounded start is read."""
    from emokit.data.audio import load_audio
    from emokit.data.features import extract_features
    from emokit.inference import READ_MARGIN_S, load_bundle, prepare_inputs, read_start

    _edit(bundle, lambda info: info.update(max_frames=300))  # the model looks at 3 s
    long = tmp_path / "long.wav"
    _voiced_recording(long, 20, rate)
    loaded = load_bundle(bundle)
    whole = extract_features(load_audio(long, 16000), loaded.features)
    requested = []
    real_read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, frames=-1, *args, **kwargs:
                        requested.append(frames) or real_read(self, frames, *args, **kwargs))
    start, seconds = read_start(long, loaded)
    assert seconds == pytest.approx(20.0)
    assert requested and 0 < max(requested) <= (3.025 + READ_MARGIN_S) * rate + 1
    assert len(start) < 5 * 16000
    np.testing.assert_allclose(extract_features(start, loaded.features)[:300], whole[:300],
                               rtol=1e-4, atol=1e-4)
    expected = np.asarray(loaded.model(prepare_inputs(whole, "what a day", loaded),
                                       training=False))[0]
    with pytest.warns(Warning, match=r"lasts 20\.0 s but the model reads only its first 3\.0 s"):
        probs = _predict(long, bundle)
    from scipy.special import softmax

    assert list(probs.values()) == pytest.approx(list(softmax(expected)), abs=1e-5)
    assert max(requested) <= (3.025 + READ_MARGIN_S) * rate + 1  # predict too read a bounded start


@pytest.mark.parametrize("transcript, warned", [
    ("hola que tal el dia", "5 of 5 words (100%)"),
    ("what tomorrow night", "2 of 3 words (67%)"),
    ("what a day tomorrow night", None),  # 2 of 5
    ("what day tomorrow night", None),  # half, not more than half
])
def test_predict_warns_when_most_words_are_unknown(bundle, saved, transcript, warned):
    import warnings

    from emokit.inference import UnknownWordsWarning, predict

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict(saved[1], transcript, bundle)
    messages = [str(w.message) for w in caught if w.category is UnknownWordsWarning]
    if warned is None:
        assert messages == []
    else:
        assert len(messages) == 1 and messages[0].startswith(
            f"{warned} of the transcript are not in the model's vocabulary: ")
        assert "the text code will carry little" in messages[0]
