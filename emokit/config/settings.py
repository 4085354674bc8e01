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
    # Of the transcripts, the share holding emotional cue words at all (the others: filler only).
    cue_probability: float = 0.7
    # The share of each session's four-class turns (and of its out-of-set ones) played in scripted
    # dialogs (lines that recur from session to session), the rest in improvised ones; None = the
    # size's own dialog mix (every dialog equally likely; mini: 1 of 3 dialogs is scripted).
    scripted_share: float | None = None
    # True: every vocabulary word has one fixed pronunciation (its own syllables, F1/F2 glides,
    # relative syllable lengths and onset burst; data_prep._voice.pronunciation), the same for
    # every speaker and seed, so the audio carries which words were said, as real speech does.
    # False: each syllable takes one of four vowels at random, and the audio carries only how
    # many words and how long.
    lexical_voice: bool = False
    # The probability that a turn's word count follows an independent duration instead of its
    # own (the speech is stretched to fill the utterance either way). Pearson r(duration, word
    # count) over mini's four-class turns, mean of seeds 0-4: 0.93 at 0, 0.42 at 0.5, -0.03 at 1.
    length_decorrelation: float = 0.0
    # True: the voice reads *another* sentence (filler words, its own word count from the turn's
    # duration) than the transcript, so the two views share the emotion (prosody, cue words) and
    # nothing about the words: with length_decorrelation 1, nothing about length either (the
    # planted positive control of benchmarks/exploratory.yaml).
    independent_voice: bool = False
    # Applied per fold, never written into the corpus (test labels stay clean): the share of the
    # labels outside the test fold (training and validation turns) flipped to another class, each
    # turn's flip fixed by its id and synthetic_seed (emokit.data.label_views).
    train_label_noise: float = 0.0
    # The share of *training* turns whose label the model may see (validation and test keep
    # theirs); the hidden ones feed only the pair loss under train.unlabelled_pairs.
    labelled_fraction: float = 1.0
    data_dir: str | None = None  # corpus and manifest go here; None = emokit.core.paths.data_dir()
    class_set: str = "4class"  # see emokit.config.labels.CLASS_SETS
    # True: the experiment keeps only improvised dialogs (manifest mode "impro"). Scripted dialogs
    # are the same plays in every session, so their test transcripts recur in training even under
    # leave-one-session-out (see emokit.data.overlap).
    improvised_only: bool = False


@dataclass
class FeatureConfig:
    """Frame-level audio features (10 ms hop), or the codes of a frozen pretrained encoder."""

    # "mfcc": MFCC + deltas + delta-deltas + pitch + energy; "logmel"; "hub": the frame codes of a
    # Keras Hub Whisper encoder (hub_preset, hub_layer; 50 frames/s; emokit.data.hub_encoders)
    kind: str = "mfcc"
    sample_rate: int = 16000
    hop_ms: float = 10.0
    win_ms: float = 25.0
    n_mfcc: int = 13
    n_mels: int = 40
    fmin_hz: float = 60.0  # pitch search range
    fmax_hz: float = 400.0
    # "none", "utterance", "speaker" (each speaker's own frames, no labels) or "global" (training
    # fold's frames); see emokit.data.normalization.FeatureNormalizer
    normalization: str = "speaker"
    # kind "hub": a Keras Hub Whisper preset name (whisper_base_en, fetched from Kaggle once) or a
    # local preset folder (what `backbone.save_to_preset(folder)` wrote); needs emokit[hub]
    hub_preset: str | None = None
    # kind "hub": which encoder output: -1 the last hidden state (after the final layer norm),
    # 0 the input embeddings, k (1..layers) the output of transformer layer k
    hub_layer: int = -1
    # kind "hub": "one" caches hub_layer's codes; "weighted" caches every layer's (the embeddings
    # and each transformer layer: layers + 1 times the cache) and the model learns a softmax-
    # weighted sum of them (emokit.model.layer_weights.LayerWeightedSum); hub_layer is not read
    hub_layers: str = "one"

    def key(self) -> str:
        """A short hash naming the feature cache built with these settings.

        ``normalization`` is left out: it is applied when features are read, not when they are
        cached, so changing it reuses the cache. The ``hub_`` settings count only with kind
        ``"hub"`` (so MFCC and log-mel caches keep their names).
        """
        extraction = {k: v for k, v in dataclasses.asdict(self).items() if k != "normalization"
                      and (self.kind == "hub" or not k.startswith("hub_"))}
        return f"{self.kind}-" + hashlib.sha256(
            json.dumps(extraction, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class TextConfig:
    """Tokens, vocabulary and word vectors."""

    lowercase: bool = True
    min_count: int = 1  # words seen fewer times in the training fold map to <unk>
    # a GloVe text or word2vec file, or a gensim-data name (glove-wiki-gigaword-300: fetched once
    # into the data folder, see emokit.data.vector_sources); None = train vectors on the fold
    vectors_path: str | None = None
    vectors_binary: bool = False  # word2vec binary format
    trainer: str = "word2vec"  # "word2vec" or "fasttext" when no vectors_path is given
    vector_dim: int = 100
    trainer_epochs: int = 30
    seed: int = 0
    # A Keras Hub text preset (BERT-class: bert_base_en_uncased, roberta_base_en, ...; or a local
    # preset folder) whose frozen last hidden state codes each transcript, one vector per
    # sub-word token, in place of word vectors (emokit.data.hub_encoders); needs emokit[hub] and
    # model.train_embeddings false. None = word vectors (vectors_path or trained on the fold).
    hub_preset: str | None = None

    def hub_key(self) -> str:
        """A short hash naming the cache of the text codes of ``hub_preset``."""
        digest = hashlib.sha256(json.dumps({"preset": self.hub_preset}).encode()).hexdigest()
        return f"text-{digest[:10]}"


@dataclass
class PipelineConfig:
    """Batching of one fold into tf.data datasets."""

    batch_size: int = 32
    max_frames: int = 750  # 7.5 s at a 10 ms hop; longer utterances keep their first frames
    max_words: int = 50  # longer transcripts keep their first words
    bucket_by_length: bool = True  # train batches group utterances of similar length
    bucket_width: int = 100  # frames are padded up to a multiple of this: few distinct shapes
    shuffle_seed: int = 0  # a run with seed s shuffles with shuffle_seed + s (data_order_seed)
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
    # Training only: the fraction of examples whose audio or text code (one of the two, at random)
    # is zeroed before fusion, so fusion cannot lean on one modality (emokit.model.layers.ModalityDropout;
    # benchmarks/fusion_vs_modalities.py). 0 = the paper's plain concatenation.
    modality_dropout: float = 0.0
    # Training only: the weight w of unimodal auxiliary heads. A fused model gets one small
    # classifier (dropout + dense) on the audio code and one on the text code, and trains on
    # fused CE + w (CE_audio + CE_text), so each encoder must classify on its own
    # (benchmarks/fusion_vs_modalities.py measures it; every preset keeps 0). Predictions use
    # the fused head only. 0 = no heads, the paper's plain concatenation, exactly.
    aux_heads_weight: float = 0.0
    # The pair loss. discriminator: one of DISCRIMINATORS. "infonce" is the paper code's: audio
    # code -> MLP (discriminator_units -> latent_dim), cosine similarity with every text code of
    # the batch, softmax cross-entropy whose target is the matching utterance ("instance"
    # pairing) or every same-emotion utterance ("label" pairing). "mine" (Donsker-Varadhan bound)
    # and "shuffled_bce" score matched vs shuffled pairs with an MLP (instance pairing). The
    # grid kinds score all n x n pairs (balanced BCE, "label" or "instance" pairing).
    discriminator: str = "infonce"
    discriminator_units: int = 128  # hidden width of the MLP (infonce projection, mlp, mine, bce)
    temperature: float | None = None  # infonce: cosine / temperature; None = raw cosine (paper)
    symmetric: bool = False  # infonce: audio->text and text->audio (False: audio->text, paper)
    pairing: str = "label"  # "label": same-emotion pairs; "instance": same-utterance pairs
    within_modality_pairs: bool = False  # grid kinds: add audio-audio and text-text grids
    objective: str = "sum"  # "sum": CE + w L (w = lambda); "convex": (1 - w) CE + w L (alpha)
    # "grad_ratio": the pair loss's gradient on the encoders is multiplied by a running ratio of
    # averages |grad CE term| / |grad L| (rate-capped per step; emokit.training.trainer), so the pair term
    # pulls the encoders about w times as hard as the CE term (CE under "sum", (1 - w) CE under
    # "convex") for every kind; the discriminator's own gradient is not scaled
    pair_loss_scaling: str = "none"
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
    # "auto": on a GPU, get_preset applies the GPU settings (mixed precision, batch x4, learning
    # rate x2; emokit.config.accelerator.use_accelerator) and writes "gpu" here; "off": never.
    accelerator: str = "auto"
    checkpoint_dir: str | None = None
    tensorboard_dir: str | None = None
    verbose: int = 1
    # Per epoch, record what the regularizer does: the monitored gradient ratio ``grad_ratio`` =
    # |grad (w * pair_scale * L)| / |grad CE term| on the encoders' weights (CE term: CE, or
    # (1 - w) CE under objective "convex"; pair_scale 1 without grad_ratio scaling) and the
    # cosines ``grad_cos_audio``, ``grad_cos_text`` between the CE term's and the pair term's
    # gradients on the audio / text encoder's weights (in [-1, 1]; below 0 the two terms pull
    # that encoder in opposing directions, MMPareto, ICML 2024), all on one fixed *validation*
    # batch (the first), without dropout, after the epoch (none of them without pair loss); and
    # a linear probe's validation UA on the audio code and on the text code alone (costs one
    # extra forward pass over train + val per epoch).
    monitor: bool = True
    # With monitor: the linear probes (one forward pass over the training set, most of
    # monitoring's cost) run on every probe_every-th epoch; the other epochs record null, except
    # the kept (best) epoch, whose probes are run on the restored best weights after training.
    # 1 = every epoch. The gradient ratio and cosines are recorded every epoch either way.
    probe_every: int = 1
    # True: the pair loss also sees the training fold's turns without a usable label: those
    # outside the class set (frustrated, surprised, ..., no agreement) and those hidden by
    # corpus.labelled_fraction. CE sees only labelled turns; validation and test turns never
    # enter. Needs instance pairing (the pair loss must not read labels).
    unlabelled_pairs: bool = False


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
    # "audio", "text", "baseline" (concatenation, no pair loss), "contrastive" (model.discriminator
    # at every contrastive_weights value), "contrastive-<kind>" (every weight) or
    # "contrastive-<kind>-<weight>"; see emokit.config.systems
    systems: list[str] = field(default_factory=lambda: ["baseline", "contrastive"])
    contrastive_weights: list[float] = field(default_factory=lambda: [0.1])
    # None: every system starts from its seed's initial weights. "baseline": contrastive systems
    # start from the trained baseline of the same fold and seed, and the control system
    # "baseline-continued" (same extra epochs, pair loss off) is added (see emokit.config.systems).
    init_from: str | None = None
    # With init_from: what a warm start takes from the trained baseline. "copy": every weight
    # outside the discriminator (encoders and classifier); "reinit": the encoders only, the
    # classifier keeping the fresh initial weights of the run's seed, as the paper's published
    # script does (it loads only the encoders). Warm-started systems and baseline-continued are
    # treated alike, so their classifiers start from the same (seed's) weights.
    warm_start_classifier: str = "copy"
    results_dir: str | None = None  # None = emokit.core.paths.results_dir() (env EMOKIT_RESULTS)
    # After the table, evaluate every run with a modality missing, noisy audio or word errors
    # (emokit.evaluation.robustness: robustness.csv / .md, plots/robustness.png); no retraining.
    robustness: bool = False
    # Runs trained at once, each in a worker process of its own (emokit.experiment.parallel): >= 2 shares
    # one machine (its GPU with memory growth on; intra-op threads: each process's share, cores
    # // jobs). A warm-started run waits for its baseline. The numbers equal a --jobs 1 run's
    # made with the same intra-op thread count (TF_NUM_INTRAOP_THREADS). 1: every run in this
    # process, one after another.
    jobs: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the config") -> ExperimentConfig:
        """Every setting is checked first (:mod:`emokit.config.validation`): a ``ConfigError`` lists all
        problems at once, by full dotted name; missing keys keep their defaults."""
        from emokit.config.validation import build_config

        return build_config(cls, data, source)

    @classmethod
    def load(cls, path: str | Path) -> ExperimentConfig:
        """Read a YAML (or JSON) config file; missing keys keep their defaults."""
        from emokit.config.settings_file import read_settings

        return cls.from_dict(read_settings(path), source=str(path))

    def save(self, path: str | Path) -> None:
        import yaml

        from emokit.core.atomic import write_atomic

        write_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

