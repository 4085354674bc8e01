"""A bundle's integrity: its files, their fingerprint, and values the model can use.

``bundle.json`` is read and checked (readable JSON, this version, every key), its values are
checked against the model (class count, vocabulary size, normalizer width, padding limits), and
its fingerprint ties the parts together (the model file's sha256, the class order, the vocabulary,
the feature settings' cache key, the text preset): a bundle whose parts were swapped or edited is
refused with a :class:`BundleError` naming the file and the fix.

Stage 6 of the data flow (:mod:`emokit.inference`): may import :mod:`emokit.core`,
:mod:`emokit.config`, :mod:`emokit.data`, :mod:`emokit.model` and :mod:`emokit.training`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig, FeatureConfig
from emokit.core.errors import DataError

MODEL_FILE = "model.keras"
BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1
BUNDLE_KEYS = ("version", "features", "normalizer", "vocabulary", "lowercase", "class_names",
               "max_frames", "max_words")  # and "fingerprint", absent from bundles saved before it
RESAVE = ("save the bundle again with emokit.inference.save_bundle (or copy the whole bundle "
           "folder again)")


class UnfingerprintedBundleWarning(UserWarning):
    """A bundle saved before bundles carried a fingerprint: its parts cannot be checked."""


class BundleError(DataError):
    """A bundle folder that cannot be used; the message names the file and the fix."""


def fingerprint(model_sha256: str, class_names, vocab, features: FeatureConfig,
                text_preset: str | None = None) -> dict:
    """What ties a bundle's parts together: the model file's sha256, the class order, the
    vocabulary's size and the sha256 of its words, the feature settings' cache key, and the
    text preset (only for a bundle that has one, so that older bundles keep their fingerprint)."""
    words = json.dumps(list(vocab.words)).encode()
    return {"model_sha256": model_sha256, "class_names": list(class_names),
            "vocabulary_size": len(vocab), "vocabulary_sha256": hashlib.sha256(words).hexdigest(),
            "features_key": features.key(),
            **({"text_hub_preset": text_preset} if text_preset else {})}


def check_fingerprint(saved, bundle, folder: Path) -> None:
    """Refuse a bundle whose parts differ from the fingerprint ``save_bundle`` wrote; note one
    saved before bundles carried a fingerprint."""
    info_path = folder / BUNDLE_FILE
    if saved is None:
        warnings.warn(f"{info_path} carries no fingerprint (saved by an older emokit): its "
                      "model, classes and vocabulary cannot be checked to belong together; "
                      f"{RESAVE}", UnfingerprintedBundleWarning, stacklevel=4)
        return
    now = fingerprint(sha256(folder / MODEL_FILE), bundle.class_names, bundle.vocab,
                      bundle.features, bundle.text_preset)
    if not isinstance(saved, dict) or set(saved) != set(now):
        raise BundleError(f"{info_path} holds a bad fingerprint (not the entries save_bundle "
                          f"writes: {sorted(now)}); {RESAVE}")
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
        "text_hub_preset": f"the text preset {now.get('text_hub_preset')!r} is not the one the "
                           f"model was trained on ({saved.get('text_hub_preset')!r})",
    }
    found = [text for key, text in differences.items() if now.get(key) != saved.get(key)]
    if found:
        raise BundleError(f"{info_path}: the bundle's parts do not match the fingerprint "
                          f"save_bundle wrote: {'; '.join(found)}; {RESAVE}")


def require_encoders(info: dict, folder: Path) -> None:
    """Raise :class:`emokit.core.optional.MissingOptionalDependency` (one line naming the
    ``[hub]`` extra) for a bundle trained on a pretrained encoder's codes (``features.kind:
    hub``, ``text_hub_preset``) where Keras Hub is missing: ``predict`` must encode the new
    recording or transcript with that encoder."""
    features = info.get("features")
    audio = isinstance(features, dict) and features.get("kind") == "hub"
    text = info.get("text_hub_preset")
    if audio or text:
        from emokit.data.hub_encoders import require_hub

        used = [f"features.kind 'hub' ({features.get('hub_preset')!r})"] if audio else []
        used += [f"text.hub_preset {text!r}"] if text else []
        require_hub(f"the bundle {folder} (trained on {' and '.join(used)})")


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def bundle_problems(bundle) -> list[str]:
    """What is wrong with the values of a loaded bundle (the keys are checked on reading):
    feature settings out of range, a text preset that is not a name, class names that do not
    match the model's outputs, a normalizer of the wrong length, padding limits out of range."""
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
    preset = bundle.text_preset
    if preset is not None and not (isinstance(preset, str) and preset.strip()):
        problems.append(f"text_hub_preset {str(preset)[:80]!r} is not a preset name or folder")
    names = bundle.class_names
    outputs = output_count(bundle.model)
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


def output_count(model) -> int | None:
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



def read_info(path: Path) -> dict:
    """``bundle.json``, checked: readable JSON, this version, every key present."""
    try:
        info = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(f"{path} is corrupt ({'empty' if not path.stat().st_size else e}); "
                          f"{RESAVE}") from None
    if not isinstance(info, dict):
        raise BundleError(f"{path} is not a bundle description (a JSON object); {RESAVE}")
    if info.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path} has bundle version {info.get('version')}, this emokit reads "
                          f"version {BUNDLE_VERSION}: {RESAVE}")
    missing = [key for key in BUNDLE_KEYS if key not in info]
    if missing:
        raise BundleError(f"{path} lacks {missing}; {RESAVE}")
    return info


