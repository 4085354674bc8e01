"""The pretrained encoders (emokit.data.hub_encoders, data_prep.hub_codes, the ``pretrained``
preset): settings and missing-extra errors everywhere; with keras-hub (emokit[hub]), tiny
random-init presets saved as local folders and loaded by path, as users do offline."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_features import make_corpus

from emokit.config import ExperimentConfig, FeatureConfig, TextConfig
from emokit.core.errors import ConfigError
from emokit.core.optional import MissingOptionalDependency
from emokit.data.fold_text import code_vocabulary
from emokit.data.tiny_presets import tiny_bert, tiny_whisper

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


# ---------------------------------------------------------------------------------------------
# Without keras-hub: settings, cache keys, the missing extra


def test_cache_key_names_preset_and_layer_only_for_hub_features():
    base = FeatureConfig()
    assert base.key() == "mfcc-6eff71626d"  # the MFCC cache of earlier releases keeps its name
    assert dataclasses.replace(base, hub_layer=3).key() == base.key()
    hub = FeatureConfig(kind="hub", hub_preset="whisper_base_en")
    assert hub.key().startswith("hub-")
    assert len({hub.key(), dataclasses.replace(hub, hub_layer=2).key(),
                dataclasses.replace(hub, hub_preset="/presets/whisper").key()}) == 3
    assert TextConfig(hub_preset="a").hub_key() != TextConfig(hub_preset="b").hub_key()


@pytest.mark.parametrize("settings, message", [
    ({"features": {"kind": "hub"}}, "features.kind: 'hub' needs features.hub_preset"),
    ({"features": {"hub_preset": "whisper_base_en"}}, "is read only with features.kind 'hub'"),
    ({"text": {"hub_preset": "bert_base_en_uncased"}}, "needs model.train_embeddings: false"),
    ({"features": {"kind": "hub", "hub_preset": "w", "hub_layer": -2}}, "features.hub_layer"),
])
def test_contradicting_hub_settings_are_named(settings, message):
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_dict(settings)


def test_without_keras_hub_a_pretrained_setting_names_the_extra(monkeypatch, tmp_path, capsys):
    from emokit.core import optional
    from emokit.experiment import cli

    real = optional.is_available
    monkeypatch.setattr(optional, "is_available", lambda m: m != "keras_hub" and real(m))
    monkeypatch.setenv("EMOKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("EMOKIT_RESULTS", str(tmp_path / "results"))
    assert cli.main(["--preset", "pretrained"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and 'pip install -e ".[hub]"' in error
    assert "features.kind 'hub'" in error
    assert not (tmp_path / "data").exists()  # said before any corpus was built
    with pytest.raises(MissingOptionalDependency):
        from emokit.experiment.corpus import check_hub
        check_hub(ExperimentConfig.from_dict({"text": {"hub_preset": "x"},
                                              "model": {"train_embeddings": False}}))


def test_text_codes_become_rows_of_a_frozen_lookup_table():
    codes = {"a": np.ones((2, 3), np.float32), "b": np.full((1, 3), 5.0, np.float32)}
    tokens, vocab, matrix = code_vocabulary(["b", "a"], codes)
    assert matrix.shape == (2 + 3, 3) and not matrix[:2].any()
    np.testing.assert_array_equal(matrix[vocab.encode(tokens["a"])], codes["a"])
    np.testing.assert_array_equal(matrix[vocab.encode(tokens["b"])], codes["b"])
    with pytest.raises(KeyError, match="no text codes for 1"):
        code_vocabulary(["a", "c"], codes)


# ---------------------------------------------------------------------------------------------
# With keras-hub: tiny local presets

hub = pytest.mark.hub


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    pytest.importorskip("keras_hub")
    root = tmp_path_factory.mktemp("presets")
    return tiny_whisper(root / "whisper"), tiny_bert(root / "bert")


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)).astype("float32")


@hub
def test_whisper_codes_keep_the_real_frames(presets):
    from emokit.data.hub_encoders import AudioCodes

    encoder = AudioCodes(str(presets[0]))
    waves = [_wave(1.0), _wave(0.51), _wave(31.0)]
    codes = encoder(waves)
    assert [c.shape for c in codes] == [(50, 16), (26, 16), (1550, 16)]
    assert [encoder.is_windowed(w) for w in waves] == [False, False, True]
    np.testing.assert_allclose(encoder([waves[0]])[0], codes[0], atol=1e-5)  # batch-independent
    first = AudioCodes(str(presets[0]), layer=1)([waves[0]])[0]
    assert first.shape == (50, 16) and not np.allclose(first, codes[0], atol=1e-3)


@hub
def test_audio_over_30_s_is_encoded_in_consecutive_windows(presets):
    """61.3 s: three windows (30 s, 30 s, 1.3 s), ceil(61.3 x 50) = 3065 frames; the first 1500
    are the codes of the first 30 s alone, the next 1500 those of the next 30 s alone."""
    from emokit.data.hub_encoders import AudioCodes

    encoder = AudioCodes(str(presets[0]))
    wave = _wave(61.3, seed=1)
    codes = encoder([_wave(0.7), wave])[1]
    assert codes.shape == (3065, 16)
    half = 30 * RATE
    np.testing.assert_allclose(codes[:1500], encoder([wave[:half]])[0], atol=1e-5)
    np.testing.assert_allclose(codes[1500:3000], encoder([wave[half:2 * half]])[0], atol=1e-5)
    np.testing.assert_allclose(codes[3000:], encoder([wave[2 * half:]])[0], atol=1e-5)
    assert not np.allclose(codes[1500:1550], codes[:50], atol=1e-3)  # not the first window again


@hub
def test_the_cache_build_says_how_utterances_over_30_s_are_encoded(presets, tmp_path, capsys):
    from data_prep.features import build_cache
    from emokit.data.feature_cache import load_features

    manifest, release = make_corpus(tmp_path, count=2, unlabelled=(), seconds=30.5)
    out = build_cache(manifest, release, FeatureConfig(kind="hub", hub_preset=str(presets[0])),
                      progress=True)
    said = capsys.readouterr().out
    assert ("2 utterance(s) over 30 s (Whisper's window): encoded in consecutive 30 s windows"
            in said)
    assert sorted(len(f) for f in load_features(out).values()) == [1525, 1530]  # 30.5 s, 30.6 s


@hub
def test_bad_presets_are_one_line_naming_the_fix(presets, tmp_path):
    from emokit.data.hub_encoders import AudioCodes, HubPresetError, TextCodes

    with pytest.raises(HubPresetError, match=r"unknown preset 'whisper_huge'.*whisper_base_en"):
        AudioCodes("whisper_huge")
    with pytest.raises(HubPresetError, match="not a Keras Hub preset folder"):
        AudioCodes(str(tmp_path))
    with pytest.raises(HubPresetError, match="features.hub_preset:.*BertBackbone"):
        AudioCodes(str(presets[1]))  # a BERT folder where Whisper is needed
    with pytest.raises(HubPresetError, match="features.hub_layer: 3, but .* 2 encoder layers"):
        AudioCodes(str(presets[0]), layer=3)
    with pytest.raises(HubPresetError, match="text.hub_preset: unknown preset 'bert_huge'"):
        TextCodes("bert_huge")


@hub
def test_an_unreachable_preset_says_how_to_supply_a_folder(presets, monkeypatch):
    import keras_hub

    from emokit.data.hub_encoders import HubPresetError, load_preset

    class Offline:
        @staticmethod
        def from_preset(name):
            raise ConnectionError("Failed to resolve 'api.kaggle.com'")

    family = keras_hub.models.WhisperBackbone
    with pytest.raises(HubPresetError) as error:
        load_preset(Offline, "whisper_tiny_en", "features.hub_preset", family)
    message = str(error.value)
    assert "\n" not in message and "'whisper_tiny_en' cannot be fetched" in message
    assert "save_to_preset('/path/to/folder')" in message
    assert "set features.hub_preset: /path/to/folder" in message


@hub
def test_hub_codes_are_cached_and_read_back(presets, tmp_path, capsys):
    from data_prep.features import build_cache
    from data_prep.hub_codes import build_text_cache
    from emokit.data.feature_cache import load_features
    from emokit.data.hub_encoders import AudioCodes, TextCodes

    manifest, release = make_corpus(tmp_path, count=5, unlabelled=(), seconds=0.6)
    config = FeatureConfig(kind="hub", hub_preset=str(presets[0]))
    out = build_cache(manifest, release, config, chunk_size=2, progress=False)
    assert out.name == config.key() and json.loads((out / "config.json").read_text())[
        "hub_layer"] == -1
    features = load_features(out)
    # 0.6 s + 0.1 s per utterance: ceil(seconds * 50) real frames, 16 wide
    assert [f.shape for f in features.values()] == [(30 + 5 * i, 16) for i in range(5)]
    from emokit.data.audio import load_audio

    wav = next(release.rglob(f"{next(iter(features))}.wav"))
    np.testing.assert_allclose(features[next(iter(features))],
                               AudioCodes(str(presets[0]))([load_audio(wav)])[0], atol=1e-5)
    capsys.readouterr()
    assert build_cache(manifest, release, config, progress=True) == out
    assert "up to date" in capsys.readouterr().out
    other = build_cache(manifest, release, dataclasses.replace(config, hub_layer=1),
                        progress=False)
    assert other != out

    text = TextConfig(hub_preset=str(presets[1]))
    folder = build_text_cache(manifest, text, progress=False)
    codes = load_features(folder)
    assert list(codes) == list(features)
    # "hello there": two words outside the tiny vocabulary, one [UNK] code each
    assert {c.shape for c in codes.values()} == {(2, 12)}
    np.testing.assert_allclose(codes[next(iter(codes))], TextCodes(str(presets[1]))(
        ["hello there"])[0], atol=1e-5)
    stamp = {p: p.stat().st_mtime_ns for p in folder.glob("shard-*.npz")}
    assert build_text_cache(manifest, text, progress=False) == folder
    assert {p: p.stat().st_mtime_ns for p in folder.glob("shard-*.npz")} == stamp


@hub
@pytest.mark.slow
@pytest.mark.parametrize("layers", ["one", "weighted"])
def test_the_pretrained_preset_runs_end_to_end_offline(presets, tmp_path, layers):
    """``python -m emokit.experiment --preset pretrained`` in quick mode, one fold, with the tiny
    local presets given by a --config file: no network, the report written; with
    ``hub_layers: weighted`` the runs' models mix the 3 cached states."""
    settings = tmp_path / "local_presets.yaml"
    settings.write_text(yaml.safe_dump({
        "features": {"hub_preset": str(presets[0]), "hub_layers": layers},
        "text": {"hub_preset": str(presets[1])}, "folds": [1], "name": "pretrained-local"}))
    env = dict(os.environ, EMOKIT_QUICK="1", EMOKIT_DATA=str(tmp_path / "data"),
               EMOKIT_RESULTS=str(tmp_path / "results"), MPLBACKEND="Agg",
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-m", "emokit.experiment", "--preset", "pretrained",
                           "--config", str(settings)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "results" / "pretrained-local"
    assert (out / "report.csv").exists()
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["features"]["kind"] == "hub" and saved["text"]["hub_preset"] == str(presets[1])
    data = tmp_path / "data"
    assert list(data.rglob("features/hub-*/complete.json"))
    assert list(data.rglob("text_codes/text-*/complete.json"))
    metrics = [json.loads(p.read_text()) for p in out.glob("runs/*/*/metrics.json")]
    assert len(metrics) == 4  # audio, text, baseline, contrastive on fold 1
    assert saved["features"]["hub_layers"] == layers
    from emokit.data.feature_cache import load_features

    cache = next(data.rglob("features/hub-*/complete.json")).parent
    assert {f.shape[1] for f in load_features(cache).values()} == {
        48 if layers == "weighted" else 16}
    from emokit.evaluation.runstore import load_final_weights

    audio_run = next(out.glob("runs/audio/*/metrics.json")).parent
    mixes = [w for w in load_final_weights(audio_run) if np.shape(w) == (3,)]
    assert len(mixes) == (1 if layers == "weighted" else 0)  # the learned layer logits


# ---------------------------------------------------------------------------------------------
# predict with a bundle trained on pretrained codes

TINY_MODEL = {"latent_dim": 8, "audio_conv_filters": 4, "audio_conv_kernel": 3,
              "audio_conv_layers": 1, "audio_rnn_units": 4, "text_rnn_units": 4,
              "discriminator_units": 8, "train_embeddings": False}
CLASSES = ["neutral", "happy", "angry", "sad"]


def _mfcc_bundle(folder: Path, wav: Path) -> Path:
    """A tiny MFCC + word-vector model's bundle (no keras-hub needed)."""
    from types import SimpleNamespace

    import soundfile as sf

    from emokit.data.features import extract_features, feature_dim
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary
    from emokit.inference import save_bundle
    from emokit.model.emotion_model import build_model

    config = ExperimentConfig.from_dict({"model": TINY_MODEL})
    sf.write(wav, 0.1 * _wave(1.0), RATE)
    raw = extract_features(_wave(1.0), config.features)
    vocab = Vocabulary.build([["what", "a", "day"]])
    fold_data = SimpleNamespace(normalizer=FeatureNormalizer.fit({"u": raw}, ["u"], {"u": "s"},
                                                                 "speaker"),
                                vocab=vocab, class_names=CLASSES)
    model = build_model(config.model, feature_dim(config.features), len(vocab), 4, seed=0)
    return save_bundle(folder, model, fold_data, config)


@pytest.mark.parametrize("edit, named", [
    (lambda info: info.update(text_hub_preset="bert_base_en_uncased"),
     "text.hub_preset 'bert_base_en_uncased'"),
    (lambda info: info["features"].update(kind="hub", hub_preset="whisper_base_en"),
     "features.kind 'hub' ('whisper_base_en')"),
])
def test_without_keras_hub_a_pretrained_bundle_names_the_extra(tmp_path, monkeypatch, edit, named):
    from emokit.core import optional
    from emokit.inference import predict

    bundle = _mfcc_bundle(tmp_path / "bundle", tmp_path / "hello.wav")
    info = json.loads((bundle / "bundle.json").read_text())
    edit(info)
    (bundle / "bundle.json").write_text(json.dumps(info))
    real = optional.is_available
    monkeypatch.setattr(optional, "is_available", lambda m: m != "keras_hub" and real(m))
    with pytest.raises(MissingOptionalDependency) as error:
        predict(tmp_path / "hello.wav", "what a day", bundle)
    message = str(error.value)
    assert "\n" not in message and 'pip install -e ".[hub]"' in message
    assert f"the bundle {bundle.resolve()} (trained on {named})" in message


@hub
def test_predict_encodes_a_new_recording_and_transcript_with_the_bundles_presets(presets,
                                                                                tmp_path):
    """A bundle trained on Whisper frame codes and BERT token codes: ``predict`` encodes the
    recording and the transcript with the same presets (the same code as the caches), so a
    training transcript gives what the model gives on its cached rows, and a new transcript is
    read as its own codes, not as unknown rows."""
    import warnings
    from types import SimpleNamespace

    import soundfile as sf
    from scipy.special import softmax

    from emokit.data.audio import load_audio
    from emokit.data.hub_encoders import AudioCodes, TextCodes
    from emokit.data.normalization import FeatureNormalizer
    from emokit.inference import load_bundle, predict, save_bundle, seconds_read
    from emokit.model.emotion_model import build_model

    whisper, bert = map(str, presets)
    config = ExperimentConfig.from_dict({
        "features": {"kind": "hub", "hub_preset": whisper}, "text": {"hub_preset": bert},
        "model": TINY_MODEL, "pipeline": {"max_frames": 300, "max_words": 3}})
    wav = tmp_path / "hello.wav"
    sf.write(wav, 0.1 * _wave(1.2), RATE)
    audio = AudioCodes(whisper)([load_audio(wav)])[0]
    transcripts = {"u1": "what a day", "u2": "i was so happy oh yes"}
    codes = dict(zip(transcripts, TextCodes(bert)(list(transcripts.values()))))
    tokens, vocab, matrix = code_vocabulary(list(transcripts), codes)
    normalizer = FeatureNormalizer.fit({"u1": audio}, ["u1"], {"u1": "s"}, "speaker")
    model = build_model(config.model, 16, len(vocab), 4, embedding_matrix=matrix, seed=0)
    folder = save_bundle(tmp_path / "bundle", model, SimpleNamespace(
        normalizer=normalizer, vocab=vocab, class_names=CLASSES), config)
    assert load_bundle(folder).text_preset == bert
    assert seconds_read(load_bundle(folder)) == pytest.approx(6.0)  # 300 frames at 50 per second

    def on_rows(utterance):  # the model on the utterance's cached rows, as in training
        ids = np.array([vocab.encode(tokens[utterance])[:3]], "int32")
        inputs = {"audio": normalizer.transform("", audio)[None], "tokens": ids,
                  "audio_mask": np.ones((1, len(audio)), bool),
                  "text_mask": np.ones(ids.shape, bool)}
        return softmax(np.asarray(model(inputs, training=False), "float64")[0])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnknownWordsWarning: the preset reads any word
        probs = {u: list(predict(wav, text, folder).values()) for u, text in transcripts.items()}
        new = list(predict(wav, "really great", folder).values())
    for utterance in transcripts:
        np.testing.assert_allclose(probs[utterance], on_rows(utterance), atol=1e-6)
    assert sum(new) == pytest.approx(1.0)
    assert not np.allclose(probs["u1"], probs["u2"], atol=1e-7)  # the transcript is read
    assert not np.allclose(new, probs["u1"], atol=1e-7)

    info = json.loads((folder / "bundle.json").read_text())
    info["text_hub_preset"] = whisper  # another preset than the model was trained on
    (folder / "bundle.json").write_text(json.dumps(info))
    from emokit.inference import BundleError

    with pytest.raises(BundleError, match="the text preset .* is not the one the model was "
                                          "trained on"):
        predict(wav, "what a day", folder)


@hub
def test_weighted_layers_cache_every_layer_side_by_side(presets, tmp_path):
    """``hub_layers: weighted``: each frame holds the embeddings and the 2 layers of the tiny
    Whisper (3 x 16 wide), layer k in dims 16k..16k+15, each what ``hub_layer: k`` caches."""
    from data_prep.features import build_cache
    from emokit.data.feature_cache import load_features
    from emokit.data.features import feature_dim, feature_layers
    from emokit.data.hub_encoders import AudioCodes

    manifest, release = make_corpus(tmp_path, count=2, unlabelled=(), seconds=0.6)
    config = FeatureConfig(kind="hub", hub_preset=str(presets[0]), hub_layers="weighted")
    assert (feature_layers(config), feature_dim(config)) == (3, 48)
    assert feature_layers(dataclasses.replace(config, hub_layers="one")) == 1
    out = build_cache(manifest, release, config, progress=False)
    assert out.name != dataclasses.replace(config, hub_layers="one").key()
    features = load_features(out)
    assert [f.shape for f in features.values()] == [(30, 48), (35, 48)]
    wave = _wave(0.6)
    stacked = AudioCodes(str(presets[0]), all_layers=True)([wave])[0]
    for k in range(3):
        np.testing.assert_allclose(stacked[:, 16 * k:16 * (k + 1)],
                                   AudioCodes(str(presets[0]), layer=k)([wave])[0], atol=1e-5)
