"""Every setting of the kit, in one dataclass tree.

``ExperimentConfig`` is the single source of truth: the experiment runner, the notebooks and the
command-line steps build one (from defaults, a preset or a YAML file) and pass its parts down.
Functions take the part they need (``FeatureConfig`` for feature extraction, ``ModelConfig`` for the
layers, ...) instead of re-declaring defaults of their own.

>>> cfg = ExperimentConfig()
>>> cfg.features.hop_ms
10.0
>>> cfg2 = ExperimentConfig.from_dict(cfg.to_dict())
>>> cfg2 == cfg
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def quick_mode() -> bool:
    """True when ``EMOKIT_QUICK=1``: notebooks and the test suite run a small, fast version."""
    return os.environ.get("EMOKIT_QUICK", "0") not in ("", "0", "false", "False")


@dataclass
class CorpusConfig:
    """Which corpus to read and where generated files go."""

    root: str | None = None  # a real IEMOCAP_full_release folder; None = the built-in corpus
    synthetic_size: str = "mini"  # built-in corpus size: "mini" or "iemocap"
    synthetic_seed: int = 0
    # Built-in corpus knobs (see data_prep.synthetic): how far each modality is made imperfect.
    text_disagreement: float = 0.2  # of the transcripts with cue words: share pointing elsewhere
    audio_ambiguity: float = 0.3  # fraction of utterances whose voice leans to another emotion
    snr_db: float = 20.0  # background noise against neutral speech
    data_dir: str | None = None  # corpus and manifest go here; None = emokit.paths.data_dir()
    class_set: str = "4class"  # see emokit.labels.CLASS_SETS


@dataclass
class FeatureConfig:
    """Frame-level audio features (10 ms hop)."""

    kind: str = "mfcc"  # "mfcc": MFCC + deltas + delta-deltas + pitch + energy; "logmel"
    sample_rate: int = 16000
    hop_ms: float = 10.0
    win_ms: float = 25.0
    n_mfcc: int = 13
    n_mels: int = 40
    fmin_hz: float = 60.0  # pitch search range
    fmax_hz: float = 400.0
    # "none", "utterance", "speaker" (each speaker's own frames, no labels) or "global" (training
    # fold's frames); see emokit.features.FeatureNormalizer
    normalization: str = "speaker"

    def key(self) -> str:
        """A short hash naming the feature cache built with these settings.

        ``normalization`` is left out: it is applied when features are read, not when they are
        cached, so changing it reuses the cache.
        """
        extraction = {k: v for k, v in dataclasses.asdict(self).items() if k != "normalization"}
        return f"{self.kind}-" + hashlib.sha256(
            json.dumps(extraction, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class TextConfig:
    """Tokens, vocabulary and word vectors."""

    lowercase: bool = True
    min_count: int = 1  # words seen fewer times in the training fold map to <unk>
    # a GloVe text or word2vec file, or a gensim-data name (glove-wiki-gigaword-300: fetched once
    # into the data folder, see emokit.vector_sources); None = train vectors on the fold
    vectors_path: str | None = None
    vectors_binary: bool = False  # word2vec binary format
    trainer: str = "word2vec"  # "word2vec" or "fasttext" when no vectors_path is given
    vector_dim: int = 100
    trainer_epochs: int = 30
    seed: int = 0


@dataclass
class PipelineConfig:
    """Batching of one fold into tf.data datasets."""

    batch_size: int = 32
    max_frames: int = 750  # 7.5 s at a 10 ms hop; longer utterances keep their first frames
    max_words: int = 50  # longer transcripts keep their first words
    bucket_by_length: bool = True  # train batches group utterances of similar length
    bucket_width: int = 100  # frames are padded up to a multiple of this: few distinct shapes
    shuffle_seed: int = 0
    validation_speakers: int = 1  # speakers of the training sessions held out for validation


@dataclass
class ModelConfig:
    """Encoders, fusion, classifier and the contrastive discriminator."""

    modalities: str = "both"  # "both" (fusion), "audio" or "text" (unimodal baselines)
    latent_dim: int = 128
    audio_conv_filters: int = 64
    audio_conv_kernel: int = 5
    audio_conv_layers: int = 2  # each Conv1D is followed by max pooling 2 in time
    audio_rnn_units: int = 64
    text_rnn_units: int = 64
    train_embeddings: bool = True
    dropout: float = 0.3
    discriminator: str = "mlp"  # "mlp", "bilinear" (CPC-style score) or "cosine" (paper code)
    discriminator_units: int = 128
    pairing: str = "label"  # "label": same-emotion pairs; "instance": same-utterance pairs (paper code)
    within_modality_pairs: bool = False
    contrastive_weight: float = 0.0  # lambda; 0 is exactly the concatenation baseline


@dataclass
class TrainConfig:
    """The training loop."""

    epochs: int = 30
    learning_rate: float = 1e-3
    lr_decay: float = 0.95  # per-epoch exponential decay of the learning rate
    clipnorm: float = 1.0
    patience: int = 8  # early stopping on validation UA
    seed: int = 0
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism (slower on GPU)
    mixed_precision: bool = False  # GPU only
    xla: bool = False  # on a GPU XLA cannot compile the GRUs' cuDNN kernel: see use_accelerator
    distribute: bool = False  # tf.distribute.MirroredStrategy over all visible devices
    checkpoint_dir: str | None = None
    tensorboard_dir: str | None = None
    verbose: int = 1


@dataclass
class ExperimentConfig:
    """A whole experiment: data, features, text, batching, model, training and the protocol."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    text: TextConfig = field(default_factory=TextConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "experiment"  # results go to <results_dir>/<name>/
    protocol: str = "session"  # "session": leave-one-session-out (5 folds); "speaker": 10 folds
    folds: list[int] | None = None  # 1-based fold numbers to run; None = every fold
    seeds: list[int] = field(default_factory=lambda: [0])
    # "audio", "text", "baseline" (concatenation, lambda = 0), "contrastive" (model.discriminator at
    # every contrastive_weights value), "contrastive-<mlp|bilinear>" (every weight) or
    # "contrastive-<mlp|bilinear>-<weight>"; see emokit.experiment.expand_systems
    systems: list[str] = field(default_factory=lambda: ["baseline", "contrastive"])
    contrastive_weights: list[float] = field(default_factory=lambda: [0.1])
    results_dir: str | None = None  # None = emokit.paths.results_dir() (env EMOKIT_RESULTS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        return _from_dict(cls, data)

    @classmethod
    def load(cls, path: str | Path) -> ExperimentConfig:
        """Read a YAML (or JSON) config file; missing keys keep their defaults."""
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f) or {}
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _from_dict(cls, data: dict[str, Any]):
    """Build dataclass ``cls`` from a nested dict, refusing unknown keys with a clear message."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {sorted(unknown)} for {cls.__name__}; known: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        sub = fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        if isinstance(value, dict) and sub is not None and dataclasses.is_dataclass(sub):
            value = _from_dict(sub, value)
        kwargs[name] = value
    return cls(**kwargs)

