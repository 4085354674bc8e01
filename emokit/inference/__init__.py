"""Use a trained model on a new recording: a bundle folder keeps everything that must match.

>>> save_bundle("my_model", model, fold_data, config)                       # doctest: +SKIP
>>> emokit.predict("hello.wav", "I can't believe it!", "my_model")          # doctest: +SKIP
{'neutral': 0.08, 'happy': 0.71, 'angry': 0.15, 'sad': 0.06}

A bundle is a folder with ``model.keras`` (the whole model) and ``bundle.json``: the feature
settings, the feature normalizer's statistics, the vocabulary, the class names and the padding
limits the model was trained with, and a fingerprint of these parts: loading refuses a bundle
whose parts were swapped or edited. A new speaker is normalized with the training fold's global
statistics. ``predict`` reads only the start of a recording that the model looks at.

Its integrity checks (``bundle.json``, its values, the fingerprint):
:mod:`emokit.inference.integrity`.
Stage 6 of the data flow: may import :mod:`emokit.core`, :mod:`emokit.config`,
:mod:`emokit.data`, :mod:`emokit.model` and :mod:`emokit.training`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig, FeatureConfig
from emokit.core.atomic import current_umask, write_atomic
from emokit.core.errors import DataError
from emokit.inference.integrity import (  # noqa: F401  (the bundle's parts, re-exported)
    BUNDLE_FILE,
    BUNDLE_KEYS,
    BUNDLE_VERSION,
    MODEL_FILE,
    RESAVE,
    BundleError,
    UnfingerprintedBundleWarning,
    bundle_problems,
    check_fingerprint,
    fingerprint,
    read_info,
    require_encoders,
    sha256,
    vocabulary_mismatch,
)

MIN_SECONDS = 0.25  # predict refuses shorter recordings: no utterance is that short
# predict reads the max_frames hops and one window the model looks at, plus this margin: room for
# the resampler's filter (a few ms), the deltas (4 frames) and the pitch tracker's window (two
# periods of fmin_hz), so that the frames the model sees are those of the whole file
READ_MARGIN_S = 1.0
UNKNOWN_SHARE = 0.5  # predict warns when more than this share of a transcript's words is unknown


class LongRecordingWarning(UserWarning):
    """``predict`` was given a recording longer than the model reads."""


class UnknownWordsWarning(UserWarning):
    """Most words of a transcript given to ``predict`` are unknown to the model's vocabulary."""


def save_bundle(path, model, fold_data, config: ExperimentConfig) -> Path:
    """Write ``model`` and what ``predict`` needs to prepare its inputs into folder ``path``.
    Each file is written atomically: a killed save leaves the old file or the new one."""
    folder = Path(path)
    mismatch = vocabulary_mismatch(len(fold_data.vocab), model)
    if mismatch:
        raise BundleError(f"cannot save the bundle {folder}: {mismatch}; pass the fold data the "
                          "model was built and trained on")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{MODEL_FILE}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would hide it from colleagues
        model_sha256 = sha256(Path(tmp))
        os.replace(tmp, folder / MODEL_FILE)
    finally:
        Path(tmp).unlink(missing_ok=True)
    info = {
        "version": BUNDLE_VERSION,
        "features": dataclasses.asdict(config.features),
        "normalizer": fold_data.normalizer.to_dict(),
        "vocabulary": fold_data.vocab.to_dict(),
        "lowercase": config.text.lowercase,
        "class_names": list(fold_data.class_names),
        "max_frames": config.pipeline.max_frames,
        "max_words": config.pipeline.max_words,
        "text_hub_preset": config.text.hub_preset,
        "fingerprint": fingerprint(model_sha256, fold_data.class_names, fold_data.vocab,
                                   config.features, config.text.hub_preset),
    }
    write_atomic(folder / BUNDLE_FILE, json.dumps(info))
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
    # the pretrained text encoder whose token codes the model read (text.hub_preset), or None
    text_preset: str | None = None


@functools.lru_cache(maxsize=4)
def _load_bundle(folder: str, modified: float) -> Bundle:
    import keras

    import emokit.model.emotion_model  # noqa: F401  (registers EmotionModel for loading)
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary

    info = read_info(Path(folder) / BUNDLE_FILE)
    require_encoders(info, Path(folder))
    model_path = Path(folder) / MODEL_FILE
    try:
        model = keras.saving.load_model(model_path)
    except Exception as e:  # noqa: BLE001 -- keras raises many types for a damaged file
        raise BundleError(f"{model_path} cannot be loaded ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}); {RESAVE}") from None
    try:
        bundle = Bundle(model, FeatureConfig(**info["features"]),
                        FeatureNormalizer.from_dict(info["normalizer"]),
                        Vocabulary.from_dict(info["vocabulary"]), info["lowercase"],
                        info["class_names"], info["max_frames"], info["max_words"],
                        info.get("text_hub_preset"))
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise BundleError(f"{Path(folder) / BUNDLE_FILE} holds a bad entry ({type(e).__name__}: "
                          f"{str(e)[:200]}); {RESAVE}") from None
    problems = bundle_problems(bundle)
    if problems:
        raise BundleError(f"{Path(folder) / BUNDLE_FILE} holds values this model cannot use: "
                          f"{'; '.join(problems)}; {RESAVE}")
    check_fingerprint(info.get("fingerprint"), bundle, Path(folder))
    return bundle


def load_bundle(path) -> Bundle:
    """The bundle in folder ``path`` (or the folder holding ``path``'s ``model.keras``); cached
    until the folder's files change."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"no bundle at {folder}: pass the folder save_bundle wrote")
    if folder.is_file():
        folder = folder.parent
    missing = [name for name in (MODEL_FILE, BUNDLE_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not an emokit bundle (missing {missing}): make "
                                "one with emokit.inference.save_bundle(folder, model, fold_data, "
                                "config)")
    if (folder / MODEL_FILE).stat().st_size == 0:
        raise BundleError(f"{folder / MODEL_FILE} is empty (0 bytes): a save that was cut "
                          f"short; {RESAVE}")
    modified = max((folder / name).stat().st_mtime for name in (MODEL_FILE, BUNDLE_FILE))
    return _load_bundle(str(folder.resolve()), modified)


def prepare_inputs(features: np.ndarray, transcript: str, bundle: Bundle) -> dict:
    """One utterance as a batch of one in the pipeline's input format. With a text preset
    (``text.hub_preset``), ``"tokens"`` holds the transcript's codes ``(1, tokens, hidden)``,
    made by the encoder that made the training codes, in place of rows of the frozen lookup."""
    from emokit.config import PipelineConfig
    from emokit.data.pipeline import encode_tokens, truncate_frames
    from emokit.data.text import tokenize

    limits = PipelineConfig(max_frames=bundle.max_frames, max_words=bundle.max_words)
    audio = truncate_frames(bundle.normalizer.transform("", features), limits)
    if bundle.text_preset:
        from emokit.data.hub_encoders import text_encoder

        text = text_encoder(bundle.text_preset)([transcript])[0][: bundle.max_words]
    else:
        text = encode_tokens(tokenize(transcript, bundle.lowercase), bundle.vocab, limits)
    return {"audio": audio[None].astype("float32"), "audio_mask": np.ones((1, len(audio)), bool),
            "tokens": text[None], "text_mask": np.ones((1, len(text)), bool)}


def seconds_read(bundle: Bundle) -> float:
    """How much of a recording the bundle's model looks at: ``max_frames`` frames."""
    from emokit.data.features import frame_seconds

    return bundle.max_frames * frame_seconds(bundle.features)


def predict(wav_path, transcript: str, model_path) -> dict[str, float]:
    """Class probabilities ``{class name: probability}`` for one recording and its transcript,
    from the bundle folder ``model_path`` (see ``save_bundle``)."""
    from emokit.data.features import extract_features

    bundle = load_bundle(model_path)
    wave, seconds = read_start(wav_path, bundle)
    if seconds < MIN_SECONDS:
        raise DataError(f"{wav_path} holds {seconds * 1000:.1f} ms of audio: too short to tell "
                        f"an emotion (at least {MIN_SECONDS:g} s); record a whole utterance")
    kept = seconds_read(bundle)
    if seconds > kept + 1:
        warnings.warn(f"{wav_path} lasts {seconds:.1f} s but the model reads only its first "
                      f"{kept:.1f} s (max_frames {bundle.max_frames}); the answer describes "
                      "that part. Cut the recording into utterances and predict each",
                      LongRecordingWarning, stacklevel=2)
    _warn_on_unknown_words(transcript, bundle)
    try:
        features = extract_features(wave, bundle.features)
    except DataError as e:
        raise DataError(f"{wav_path}: {e}") from None
    inputs = prepare_inputs(features, transcript, bundle)
    if not np.isfinite(inputs["audio"]).all():
        raise BundleError(f"{model_path}: the normalization statistics in {BUNDLE_FILE} turn "
                          f"the features of {wav_path} into NaN or inf; {RESAVE}")
    from scipy.special import softmax

    probs = softmax(np.asarray(bundle.model(inputs, training=False), dtype="float64")[0])
    if not np.isfinite(probs).all():
        raise BundleError(f"the model in {model_path} gives NaN probabilities for {wav_path}: "
                          f"its weights are not finite (a diverged training run?); retrain it")
    return {name: float(p) for name, p in zip(bundle.class_names, probs)}


def read_start(wav_path, bundle: Bundle) -> tuple[np.ndarray, float]:
    """``(wave, seconds)``: the start of recording ``wav_path`` that the model looks at
    (``max_frames`` hops and a window, plus ``READ_MARGIN_S``) at the bundle's sample rate, and the
    whole recording's length in seconds (from its header). Only that start is read from the file,
    so a recording of hours takes the memory and time of a few seconds."""
    from emokit.data.audio import audio_seconds, load_audio

    config = bundle.features
    wanted = seconds_read(bundle) + config.win_ms / 1000 + READ_MARGIN_S
    wave = load_audio(wav_path, config.sample_rate, max_seconds=wanted)
    return wave, audio_seconds(wav_path) or len(wave) / config.sample_rate


def _read_words(transcript: str, bundle: Bundle) -> tuple[list[str], list[str]]:
    """``(tokens, unknown)``: the words the model reads and those of them it does not know."""
    from emokit.data.text import tokenize

    tokens = tokenize(transcript, bundle.lowercase)[: bundle.max_words]
    if bundle.text_preset:  # the preset's own sub-word tokenizer reads any word
        return tokens, []
    return tokens, [t for t in tokens if t not in bundle.vocab]


def _warn_on_unknown_words(transcript: str, bundle: Bundle) -> None:
    """Warn when more than ``UNKNOWN_SHARE`` of the words the model reads are unknown to it."""
    tokens, unknown = _read_words(transcript, bundle)
    if tokens and len(unknown) > UNKNOWN_SHARE * len(tokens):
        named = list(dict.fromkeys(unknown))
        shown = ", ".join(named[:8]) + (", ..." if len(named) > 8 else "")
        warnings.warn(f"{len(unknown)} of {len(tokens)} words ({len(unknown) / len(tokens):.0%}) "
                      f"of the transcript are not in the model's vocabulary: {shown}; they are "
                      "read as <unk>, so the text code will carry little (is the transcript in "
                      "the training corpus's language?)", UnknownWordsWarning, stacklevel=3)


@dataclasses.dataclass(frozen=True)
class InputReport:
    """What a bundle's model actually got from one recording and its transcript."""

    unknown_words: list[str]  # tokens outside the training fold's vocabulary (read as <unk>)
    seconds: float  # the recording's length
    seconds_used: float  # what the model heard: the first max_frames frames
    max_frames: int
    normalization: str  # how the new speaker's features were normalized

    @property
    def cut(self) -> bool:
        return self.seconds_used < self.seconds - 0.01


def input_report(wav_path, transcript: str, model_path) -> InputReport:
    """What ``predict(wav_path, transcript, model_path)`` feeds its model: which words it does
    not know, how much of the recording it hears (``max_frames``) and how the new speaker is
    normalized (with the training fold's statistics: emokit has no statistics of a new voice)."""
    bundle = load_bundle(model_path)
    seconds = read_start(wav_path, bundle)[1]
    unknown = list(dict.fromkeys(_read_words(transcript, bundle)[1]))
    mode = bundle.normalizer.mode
    normalization = ("none (raw features)" if mode == "none" else
                     "by the utterance itself" if mode == "utterance" else
                     "with the training fold's statistics (a new speaker has no statistics of "
                     "their own)")
    used = min(seconds, seconds_read(bundle))
    return InputReport(unknown, seconds, used, bundle.max_frames, normalization)

