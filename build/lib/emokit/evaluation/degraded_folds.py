"""Degraded test folds: one fold's test set under every robustness condition, built once and
shared by the fold's runs (:class:`DegradedFold`).

The conditions are those of :data:`emokit.evaluation.robustness.CONDITIONS`: a modality dropped
(:func:`emokit.data.degrade.drop_audio`, the empty transcript), noise added to the waveform at an
SNR (white, or babble from :data:`emokit.data.degrade.BABBLE_TALKERS` other test-fold utterances)
with the features recomputed under the experiment's feature settings and normalized by the run's
own normalizer, or word errors at a WER drawn from the fold's training vocabulary. Every
degradation is seeded from :data:`DEGRADATION_SEED`, the fold, condition, level and utterance,
so every system of a fold sees the *same* degraded test set and system differences stay paired.
Noisy features are cached, one ``.npz`` per fold, condition and level.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig
from emokit.core.atomic import write_atomic
from emokit.data.degrade import (
    add_noise,
    babble,
    drop_audio,
    utterance_seed,
    white_noise,
    word_errors,
)

DEGRADATION_SEED = 0  # every degradation is seeded from this, the fold, condition, level and id


def noisy_features(waves: dict[str, np.ndarray], kind: str, snr: float, fold: int,
                   feature_config) -> dict[str, np.ndarray]:
    """Raw features ``{id: (frames, dims)}`` of every waveform ``{id: (samples,)}`` with
    ``kind`` noise (``"white"`` or ``"babble"``: other utterances of ``waves``) at ``snr`` dB."""
    from emokit.data.features import extract_features

    ids = list(waves)
    out = {}
    for uid in ids:
        wave = waves[uid]
        seed = utterance_seed(DEGRADATION_SEED, fold, kind, snr, uid)
        if kind == "white":
            noise = white_noise(len(wave), seed)
        else:
            noise = babble([waves[o] for o in ids if o != uid], len(wave), seed=seed)
        out[uid] = extract_features(add_noise(wave, noise, snr), feature_config)
    return out


def _cached_noisy_features(cache: Path, waves, kind: str, snr: float, fold: int, config):
    path = cache / f"fold{fold}" / f"{kind}_{snr}dB.npz"
    if path.exists():
        with np.load(path) as data:
            if sorted(data.files) == sorted(waves):
                return {k: data[k] for k in data.files}
    features = noisy_features(waves, kind, snr, fold, config.features)
    buffer = io.BytesIO()
    np.savez(buffer, **features)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())
    return features


class DegradedFold:
    """One fold's test set under every condition, built once and shared by the fold's runs."""

    def __init__(self, config: ExperimentConfig, fold_number: int, data, utterances, root: Path,
                 cache: Path):
        self.config, self.fold, self.data = config, fold_number, data
        self.by_id = {u.id: u for u in utterances}
        self.root, self.cache = root, cache
        self._waves = None
        self._datasets = {}

    def dataset(self, condition: str, level):
        """The test ``tf.data.Dataset`` (test-id order, the run's batching) under a condition."""
        key = (condition, level)
        if key not in self._datasets:
            self._datasets[key] = self._build(condition, level)
        return self._datasets[key]

    def _build(self, condition: str, level):
        from emokit.data.pipeline import Examples, encode_tokens, make_dataset, truncate_frames
        from emokit.data.text import tokenize

        data, pipeline = self.data, self.config.pipeline
        ids = list(data.test_ids)
        examples = data.test_examples  # exactly what the run was tested on
        if condition == "audio_missing":
            return make_dataset(examples, pipeline, training=False).map(
                lambda inputs, y: (drop_audio(inputs), y))
        if condition == "text_missing":
            empty = encode_tokens(tokenize(""), data.vocab, pipeline)
            examples = Examples(examples.audio, [empty] * len(ids), examples.labels)
        elif condition.startswith("audio_noise_"):
            kind = condition.removeprefix("audio_noise_")
            raw = _cached_noisy_features(self.cache, self.waves(), kind, level, self.fold,
                                         self.config)
            audio = [truncate_frames(data.normalizer.transform(i, raw[i]), pipeline) for i in ids]
            examples = Examples(audio, examples.tokens, examples.labels)
        elif condition == "text_errors":
            words = data.vocab.words[2:]  # the training vocabulary, without <pad> and <unk>
            tokens = [encode_tokens(word_errors(
                tokenize(self.by_id[i].transcript, self.config.text.lowercase), level / 100,
                words, seed=utterance_seed(DEGRADATION_SEED, self.fold, condition, level, i)),
                data.vocab, pipeline) for i in ids]
            examples = Examples(examples.audio, tokens, examples.labels)
        elif condition != "intact":
            raise ValueError(f"unknown condition {condition!r}")
        return make_dataset(examples, pipeline, training=False)

    def waves(self) -> dict[str, np.ndarray]:
        """The clean test waveforms ``{id: (samples,)}`` at the feature sample rate."""
        from emokit.data.audio import load_audio

        if self._waves is None:
            rate = self.config.features.sample_rate
            self._waves = {i: load_audio(self.root / self.by_id[i].wav, rate)
                           for i in self.data.test_ids}
        return self._waves

