"""Use a trained model on a new recording: a bundle folder keeps everything that must match.

>>> save_bundle("my_model", model, fold_data, config)                       # doctest: +SKIP
>>> emokit.predict("hello.wav", "I can't believe it!", "my_model")          # doctest: +SKIP
{'neutral': 0.08, 'happy': 0.71, 'angry': 0.15, 'sad': 0.06}

A bundle is a folder with ``model.keras`` (the whole model) and ``bundle.json``: the feature
settings, the feature normalizer's statistics, the vocabulary, the class names and the padding
limits the model was trained with, and a fingerprint of these parts: loading refuses a bundle
whose parts were swapped or edited. A new speaker is normalized with the training fold's global
statistics. ``predict`` reads only the start of a recording that the model looks at.

Stage 6 of the data flow: may import :mod:`emokit.core`, :mod:`emokit.config`,
:mod:`emokit.data`, :mod:`emokit.model` and :mod:`emokit.training`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig, FeatureConfig
from emokit.core.atomic import current_umask, write_atomic
from emokit.core.errors import DataError

MODEL_FILE = "model.keras"
BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1
BUNDLE_KEYS = ("version", "features", "normalizer", "vocabulary", "lowercase", "class_names",
               "max_frames", "max_words")  # and "fingerprint", absent from bundles saved before it


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


class UnfingerprintedBundleWarning(UserWarning):
    """A bundle saved before bundles carried a fingerprint: its parts cannot be checked."""


class BundleError(DataError):
    """A bundle folder that cannot be used; the message names the file and the fix."""


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
        model_sha256 = _sha256(Path(tmp))
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
        "fingerprint": fingerprint(model_sha256, fold_data.class_names, fold_data.vocab,
                                   config.features),
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


@functools.lru_cache(maxsize=4)
def _load_bundle(folder: str, modified: float) -> Bundle:
    import keras

    import emokit.model.emotion_model  # noqa: F401  (registers EmotionModel for loading)
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary

    info = _read_info(Path(folder) / BUNDLE_FILE)
    model_path = Path(folder) / MODEL_FILE
    try:
        model = keras.saving.load_model(model_path)
    except Exception as e:  # noqa: BLE001 -- keras raises many types for a damaged file
        raise BundleError(f"{model_path} cannot be loaded ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}); {_RESAVE}") from None
    try:
        bundle = Bundle(model, FeatureConfig(**info["features"]),
                        FeatureNormalizer.from_dict(info["normalizer"]),
                        Vocabulary.from_dict(info["vocabulary"]), info["lowercase"],
                        info["class_names"], info["max_frames"], info["max_words"])
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise BundleError(f"{Path(folder) / BUNDLE_FILE} holds a bad entry ({type(e).__name__}: "
                          f"{str(e)[:200]}); {_RESAVE}") from None
    problems = bundle_problems(bundle)
    if problems:
        raise BundleError(f"{Path(folder) / BUNDLE_FILE} holds values this model cannot use: "
                          f"{'; '.join(problems)}; {_RESAVE}")
    _check_fingerprint(info.get("fingerprint"), bundle, Path(folder))
    return bundle


def fingerprint(model_sha256: str, class_names, vocab, features: FeatureConfig) -> dict:
    """What ties a bundle's parts together: the model file's sha256, the class order, the
    vocabulary's size and the sha256 of its words, and the feature settings' cache key."""
    words = json.dumps(list(vocab.words)).encode()
    return {"model_sha256": model_sha256, "class_names": list(class_names),
            "vocabulary_size": len(vocab), "vocabulary_sha256": hashlib.sha256(words).hexdigest(),
            "features_key": features.key()}


def _check_fingerprint(saved, bundle: Bundle, folder: Path) -> None:
    """Refuse a bundle whose parts differ from the fingerprint ``save_bundle`` wrote; note one
    saved before bundles carried a fingerprint."""
    info_path = folder / BUNDLE_FILE
    if saved is None:
        warnings.warn(f"{info_path} carries no fingerprint (saved by an older emokit): its "
                      "model, classes and vocabulary cannot be checked to belong together; "
                      f"{_RESAVE}", UnfingerprintedBundleWarning, stacklevel=4)
        return
    now = fingerprint(_sha256(folder / MODEL_FILE), bundle.class_names, bundle.vocab,
                      bundle.features)
    if not isinstance(saved, dict) or set(saved) != set(now):
        raise BundleError(f"{info_path} holds a bad fingerprint (not the entries save_bundle "
                          f"writes: {sorted(now)}); {_RESAVE}")
    differences = {
        "model_sha256": f"{folder / MODEL_FILE} is not the model file this bundle was saved with "
                        "(its sha256 differs)",
        "class_names": f"the class order {now['class_names']} is not the order the model was "
                       f"saved with {saved['class_names']}",
        "vocabulary_size": f"the vocabulary has {now['vocabulary_size']} words, the bundle was "
                           f"saved with {saved['vocabulary_size']}",
        "vocabulary_sha256": "the vocabulary's words are not those the bundle was saved with",
        "features_key": f"the feature settings (key {now['features_key']}) are not those the "
                        f"model was trained with (key {saved['features_key']})",
    }
    found = [text for key, text in differences.items() if now[key] != saved[key]]
    if found:
        raise BundleError(f"{info_path}: the bundle's parts do not match the fingerprint "
                          f"save_bundle wrote: {'; '.join(found)}; {_RESAVE}")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def bundle_problems(bundle: Bundle) -> list[str]:
    """What is wrong with the values of a loaded bundle (the keys are checked on reading):
    feature settings out of range, class names that do not match the model's outputs, a
    normalizer of the wrong length, padding limits out of range."""
    from emokit.config.rules import RULES
    from emokit.config.validation import build_config
    from emokit.core.errors import ConfigError
    from emokit.data.features import feature_dim

    problems = []
    try:
        build_config(ExperimentConfig, {"features": dataclasses.asdict(bundle.features)},
                     BUNDLE_FILE)
    except ConfigError as e:
        problems += e.problems
    names = bundle.class_names
    outputs = _output_count(bundle.model)
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        problems.append(f"class_names {str(names)[:80]} is not a list of names")
    elif outputs is not None and len(names) != outputs:
        problems.append(f"class_names has {len(names)} names but the model gives {outputs} "
                        "probabilities")
    mismatch = vocabulary_mismatch(len(bundle.vocab), bundle.model)
    if mismatch:
        problems.append(mismatch)
    for key, value in (("max_frames", bundle.max_frames), ("max_words", bundle.max_words)):
        rule = RULES[f"pipeline.{key}"]
        if not isinstance(value, int) or isinstance(value, bool) or not rule.admits(value):
            problems.append(f"{key} {value!r} is not {rule.allowed(True)}")
    if not problems:
        dims = feature_dim(bundle.features)
        for stat in ("mean", "std"):
            value = getattr(bundle.normalizer, stat)
            if value is not None and np.shape(value) != (dims,):
                problems.append(f"normalizer {stat} has shape {np.shape(value)}, the features "
                                f"have {dims} dims")
    return problems


def _output_count(model) -> int | None:
    """How many classes ``model`` scores, or ``None`` when it cannot tell."""
    count = getattr(getattr(model, "classifier", None), "num_classes", None)
    return count if isinstance(count, int) else None


def vocabulary_mismatch(words: int, model) -> str | None:
    """Why a vocabulary of ``words`` ids cannot feed ``model``'s word embedding (``words`` rows,
    or ``padded_vocab_size(words)`` for a run's model), or ``None``. A larger vocabulary's ids
    overflow it (TensorFlow raises on a CPU, reads zeros on a GPU); a smaller one maps words to
    rows trained for other words."""
    from emokit.training.reuse import padded_vocab_size

    rows = getattr(getattr(getattr(model, "text_encoder", None), "embedding", None), "input_dim",
                   None)
    if not isinstance(rows, int) or rows in (words, padded_vocab_size(words)):
        return None
    why = "ids past its last row" if words > rows else "rows trained for another vocabulary"
    return f"the vocabulary has {words} words but the model's embedding takes {rows} ({why})"


_RESAVE = ("save the bundle again with emokit.inference.save_bundle (or copy the whole bundle "
           "folder again)")


def _read_info(path: Path) -> dict:
    """``bundle.json``, checked: readable JSON, this version, every key present."""
    try:
        info = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(f"{path} is corrupt ({'empty' if not path.stat().st_size else e}); "
                          f"{_RESAVE}") from None
    if not isinstance(info, dict):
        raise BundleError(f"{path} is not a bundle description (a JSON object); {_RESAVE}")
    if info.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path} has bundle version {info.get('version')}, this emokit reads "
                          f"version {BUNDLE_VERSION}: {_RESAVE}")
    missing = [key for key in BUNDLE_KEYS if key not in info]
    if missing:
        raise BundleError(f"{path} lacks {missing}; {_RESAVE}")
    return info


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
                          f"short; {_RESAVE}")
    modified = max((folder / name).stat().st_mtime for name in (MODEL_FILE, BUNDLE_FILE))
    return _load_bundle(str(folder.resolve()), modified)


def prepare_inputs(features: np.ndarray, transcript: str, bundle: Bundle) -> dict:
    """One utterance as a batch of one in the pipeline's input format."""
    from emokit.config import PipelineConfig
    from emokit.data.pipeline import encode_tokens, truncate_frames
    from emokit.data.text import tokenize

    limits = PipelineConfig(max_frames=bundle.max_frames, max_words=bundle.max_words)
    audio = truncate_frames(bundle.normalizer.transform("", features), limits)
    ids = encode_tokens(tokenize(transcript, bundle.lowercase), bundle.vocab, limits)
    return {"audio": audio[None].astype("float32"), "audio_mask": np.ones((1, len(audio)), bool),
            "tokens": np.array([ids], "int32"), "text_mask": np.ones((1, len(ids)), bool)}


def predict(wav_path, transcript: str, model_path) -> dict[str, float]:
    """Class probabilities ``{class name: probability}`` for one recording and its transcript,
    from the bundle folder ``model_path`` (see ``save_bundle``)."""
    from emokit.data.features import extract_features

    bundle = load_bundle(model_path)
    wave, seconds = read_start(wav_path, bundle)
    if seconds < MIN_SECONDS:
        raise DataError(f"{wav_path} holds {seconds * 1000:.1f} ms of audio: too short to tell "
                        f"an emotion (at least {MIN_SECONDS:g} s); record a whole utterance")
    kept = bundle.max_frames * bundle.features.hop_ms / 1000
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
                          f"the features of {wav_path} into NaN or inf; {_RESAVE}")
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
    wanted = (bundle.max_frames * config.hop_ms + config.win_ms) / 1000 + READ_MARGIN_S
    wave = load_audio(wav_path, config.sample_rate, max_seconds=wanted)
    return wave, audio_seconds(wav_path) or len(wave) / config.sample_rate


def _read_words(transcript: str, bundle: Bundle) -> tuple[list[str], list[str]]:
    """``(tokens, unknown)``: the words the model reads and those of them it does not know."""
    from emokit.data.text import tokenize

    tokens = tokenize(transcript, bundle.lowercase)[: bundle.max_words]
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
    used = min(seconds, bundle.max_frames * bundle.features.hop_ms / 1000)
    return InputReport(unknown, seconds, used, bundle.max_frames, normalization)

