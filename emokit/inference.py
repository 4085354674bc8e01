"""Use a trained model on a new recording: a bundle folder keeps everything that must match.

>>> save_bundle("my_model", model, fold_data, config)                       # doctest: +SKIP
>>> emokit.predict("hello.wav", "I can't believe it!", "my_model")          # doctest: +SKIP
{'neutral': 0.08, 'happy': 0.71, 'angry': 0.15, 'sad': 0.06}

A bundle is a folder with ``model.keras`` (the whole model) and ``bundle.json``: the feature
settings, the feature normalizer's statistics, the vocabulary, the class names and the padding
limits the model was trained with. A new speaker is normalized with the training fold's global
statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig, FeatureConfig

MODEL_FILE = "model.keras"
BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1


def save_bundle(path, model, fold_data, config: ExperimentConfig) -> Path:
    """Write ``model`` and what ``predict`` needs to prepare its inputs into folder ``path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    info = {
        "version": BUNDLE_VERSION,
        "features": dataclasses.asdict(config.features),
        "normalizer": fold_data.normalizer.to_dict(),
        "vocabulary": fold_data.vocab.to_dict(),
        "lowercase": config.text.lowercase,
        "class_names": list(fold_data.class_names),
        "max_frames": config.pipeline.max_frames,
        "max_words": config.pipeline.max_words,
    }
    (folder / BUNDLE_FILE).write_text(json.dumps(info))
    return folder


@dataclasses.dataclass
class Bundle:
    """A loaded bundle: the model and the pieces that prepare its inputs."""

    model: object
    features: FeatureConfig
    normalizer: object
    vocab: object
    lowercase: bool
    class_names: list[str]
    max_frames: int
    max_words: int


@functools.lru_cache(maxsize=4)
def _load_bundle(folder: str, modified: float) -> Bundle:
    import keras

    import emokit.model  # noqa: F401  (registers EmotionModel for loading)
    from emokit.features import FeatureNormalizer
    from emokit.text import Vocabulary

    info = json.loads((Path(folder) / BUNDLE_FILE).read_text())
    if info.get("version") != BUNDLE_VERSION:
        raise ValueError(f"{folder}/{BUNDLE_FILE} has bundle version {info.get('version')}, "
                         f"this emokit reads version {BUNDLE_VERSION}: save the bundle again")
    return Bundle(keras.saving.load_model(Path(folder) / MODEL_FILE),
                  FeatureConfig(**info["features"]),
                  FeatureNormalizer.from_dict(info["normalizer"]),
                  Vocabulary.from_dict(info["vocabulary"]), info["lowercase"],
                  info["class_names"], info["max_frames"], info["max_words"])


def load_bundle(path) -> Bundle:
    """The bundle in folder ``path`` (or the folder holding ``path``'s ``model.keras``); cached
    until the folder's files change."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    missing = [name for name in (MODEL_FILE, BUNDLE_FILE) if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not an emokit bundle (missing {missing}): make one "
                                "with emokit.inference.save_bundle(folder, model, fold_data, "
                                "config)")
    modified = max((folder / name).stat().st_mtime for name in (MODEL_FILE, BUNDLE_FILE))
    return _load_bundle(str(folder.resolve()), modified)


def prepare_inputs(features: np.ndarray, transcript: str, bundle: Bundle) -> dict:
    """One utterance as a batch of one in the pipeline's input format."""
    from emokit.config import PipelineConfig
    from emokit.pipeline import encode_tokens, truncate_frames
    from emokit.text import tokenize

    limits = PipelineConfig(max_frames=bundle.max_frames, max_words=bundle.max_words)
    audio = truncate_frames(bundle.normalizer.transform("", features), limits)
    ids = encode_tokens(tokenize(transcript, bundle.lowercase), bundle.vocab, limits)
    return {"audio": audio[None].astype("float32"), "audio_mask": np.ones((1, len(audio)), bool),
            "tokens": np.array([ids], "int32"), "text_mask": np.ones((1, len(ids)), bool)}


def predict(wav_path, transcript: str, model_path) -> dict[str, float]:
    """Class probabilities ``{class name: probability}`` for one recording and its transcript,
    from the bundle folder ``model_path`` (see ``save_bundle``)."""
    from emokit.audio import load_audio
    from emokit.features import extract_features

    bundle = load_bundle(model_path)
    wave = load_audio(wav_path, bundle.features.sample_rate)
    inputs = prepare_inputs(extract_features(wave, bundle.features), transcript, bundle)
    from scipy.special import softmax

    probs = softmax(np.asarray(bundle.model(inputs, training=False), dtype="float64")[0])
    return {name: float(p) for name, p in zip(bundle.class_names, probs)}
