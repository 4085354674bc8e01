"""Feature normalization: zero-mean, unit-variance features per dim, fit on the training ids.

:class:`FeatureNormalizer` fits its statistics in one of the modes of
``emokit.config.NORMALIZATION_MODES`` (``"none"``, ``"utterance"``, ``"global"``, ``"speaker"``)
and normalizes ``(frames, dims)`` features of one utterance at a time; ``to_dict``/``from_dict``
keep it in an inference bundle.
"""

from __future__ import annotations

import numpy as np

from emokit.config.choices import NORMALIZATION_MODES
from emokit.core.errors import DataError

STD_FLOOR = 1e-5


class FeatureNormalizer:
    """Zero-mean, unit-variance features per dim, with statistics chosen by ``mode``.

    * ``"none"``: features pass through unchanged.
    * ``"utterance"``: each utterance by its own mean/std (nothing is fit).
    * ``"global"``: one mean/std fit on the frames of the **training** utterances only.
    * ``"speaker"``: each speaker by the mean/std of **that speaker's own frames**, from every
      utterance of theirs in ``features`` -- test speakers included. This uses the test speakers'
      audio but never a label, the standard practice for speaker normalization on IEMOCAP (a
      deployed system does the same with a new speaker's unlabelled recordings). An utterance
      whose speaker was not seen at fit time (a new wav at inference) falls back to the global
      training statistics.

    The global training statistics are fit in every mode except ``"none"``/``"utterance"`` and
    always come from ``train_ids`` alone.
    """

    def __init__(self, mode: str, mean=None, std=None, speaker_stats=None, speaker_of=None):
        if mode not in NORMALIZATION_MODES:
            raise ValueError(f"unknown normalization {mode!r}; use one of {NORMALIZATION_MODES}")
        self.mode = mode
        self.mean, self.std = mean, std  # (dims,) global statistics of the training frames
        self.speaker_stats = speaker_stats or {}  # speaker -> (mean, std)
        self.speaker_of = speaker_of or {}  # utterance id -> speaker

    @classmethod
    def fit(cls, features: dict[str, np.ndarray], train_ids, speakers: dict[str, str],
            mode: str) -> FeatureNormalizer:
        """Fit statistics: global ones from ``train_ids`` only, per speaker from their own frames.

        ``features`` maps id -> ``(frames, dims)``; ``speakers`` maps id -> speaker.
        """
        if mode in ("none", "utterance"):
            return cls(mode)
        missing = [uid for uid in train_ids if uid not in features]
        if missing:
            raise KeyError(f"{len(missing)} training id(s) have no features, e.g. {missing[:3]}")
        bad = [uid for uid, arr in features.items() if not np.isfinite(arr).all()]
        if bad:
            raise DataError(f"the features of {len(bad)} utterance(s) hold NaN or inf, e.g. "
                            f"{bad[:3]}: they would spread to every utterance normalized with "
                            "them. Rebuild the feature cache (`python -m data_prep.features`)")
        mean, std = _mean_std([features[uid] for uid in train_ids])
        if mode == "global":
            return cls(mode, mean, std)
        unknown = [uid for uid in features if uid not in speakers]
        if unknown:
            raise KeyError(f"{len(unknown)} id(s) have no speaker, e.g. {unknown[:3]}")
        speaker_of = {uid: speakers[uid] for uid in features}
        by_speaker: dict[str, list[np.ndarray]] = {}
        for uid, arr in features.items():
            by_speaker.setdefault(speaker_of[uid], []).append(arr)
        stats = {spk: _mean_std(arrays) for spk, arrays in sorted(by_speaker.items())}
        return cls(mode, mean, std, stats, speaker_of)

    def transform(self, uid: str, features: np.ndarray) -> np.ndarray:
        """Normalized ``(frames, dims)`` float32 features of utterance ``uid``."""
        if self.mode == "none":
            return features
        if self.mode == "utterance":
            mean, std = _mean_std([features])
        elif self.mode == "speaker" and self.speaker_of.get(uid) in self.speaker_stats:
            mean, std = self.speaker_stats[self.speaker_of[uid]]
        else:
            mean, std = self.mean, self.std
        return ((features - mean) / std).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-ready statistics (for an inference bundle)."""
        as_list = lambda a: None if a is None else a.tolist()
        return {
            "mode": self.mode, "mean": as_list(self.mean), "std": as_list(self.std),
            "speaker_stats": {s: [m.tolist(), d.tolist()]
                              for s, (m, d) in self.speaker_stats.items()},
            "speaker_of": dict(self.speaker_of),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureNormalizer:
        as_array = lambda a: None if a is None else np.asarray(a, dtype=np.float32)
        stats = {s: (as_array(m), as_array(d)) for s, (m, d) in data["speaker_stats"].items()}
        return cls(data["mode"], as_array(data["mean"]), as_array(data["std"]), stats,
                   data["speaker_of"])


def _mean_std(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dim mean and std (floored at ``STD_FLOOR``) over the frames of all ``arrays``."""
    count = sum(len(a) for a in arrays)
    if count == 0:
        raise ValueError("cannot fit normalization statistics on zero frames")
    total = sum(a.sum(axis=0, dtype=np.float64) for a in arrays)
    mean = total / count
    squares = sum(np.square(a - mean).sum(axis=0) for a in arrays)
    std = np.sqrt(squares / count)
    return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)
