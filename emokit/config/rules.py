"""What each setting allows beyond its type: one :class:`Rule` per dotted name in :data:`RULES`.

A ``Rule`` holds bounds (open or closed), a tuple of choices, and for ``list`` settings whether
``[]`` or a repeated value is refused. Types are not here: they come from the dataclass annotations
(:mod:`emokit.config.coercion`). :func:`emokit.config.validation.value_problems` applies the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from emokit.config import choices
from emokit.config.labels import CLASS_SETS


@dataclass(frozen=True)
class Rule:
    """What values a setting allows, beyond its type. For a ``list`` setting the bounds and
    choices apply to each item, and ``nonempty`` refuses ``[]``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: ``low`` itself is refused
    high_open: bool = False
    choices: tuple | None = None
    nonempty: bool = False
    unique: bool = False  # a list setting: each value once (a repeat would run twice, one folder)

    def allowed(self, whole: bool) -> str:
        if self.choices is not None:
            return f"one of {list(self._choices())}"
        kind = "a whole number" if whole else "a number"
        low = f"{'>' if self.low_open else '>='} {self.low:g}" if self.low is not None else ""
        high = f"{'<' if self.high_open else '<='} {self.high:g}" if self.high is not None else ""
        return " ".join(part for part in (kind, low, "and" if low and high else "", high) if part)

    def admits(self, value) -> bool:
        if value is None:
            return True  # an optional setting left unset: the type check speaks for it
        if self.choices is not None:
            return value in self._choices()
        if isinstance(value, str | bool) or value is None:
            return True  # not a number: the type check speaks for it
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and
                    (value > self.high or (self.high_open and value == self.high)))

    def _choices(self) -> tuple:
        return tuple(self.choices)


FRACTION = Rule(low=0, high=1)

#: Ranges and choices of the settings, by dotted name (types come from the dataclasses).
RULES: dict[str, Rule] = {
    "corpus.synthetic_size": Rule(choices=("mini", "iemocap")),  # data_prep.synthetic_plan.SIZES
    "corpus.synthetic_seed": Rule(low=0, high=2**32 - 1),  # numpy seeds are 32-bit
    "corpus.text_disagreement": FRACTION,
    "corpus.audio_ambiguity": FRACTION,
    "corpus.snr_db": Rule(low=-20, high=120),
    "corpus.cue_probability": FRACTION,
    "corpus.scripted_share": FRACTION,
    "corpus.length_decorrelation": FRACTION,
    "corpus.train_label_noise": Rule(low=0, high=0.75),  # above 3/4 a class is more often wrong
    "corpus.labelled_fraction": Rule(low=0, high=1, low_open=True),
    "corpus.class_set": Rule(choices=tuple(CLASS_SETS)),
    "features.kind": Rule(choices=choices.FEATURE_KINDS),
    "features.sample_rate": Rule(low=4000, high=192000),
    "features.hop_ms": Rule(low=1, high=100),  # >= 4 samples at 4 kHz; 100 ms is coarse already
    "features.win_ms": Rule(low=1, high=200),
    "features.n_mfcc": Rule(low=1, high=128),
    "features.n_mels": Rule(low=1, high=256),
    "features.fmin_hz": Rule(low=20, high=1000),  # pitch search; its window is 2 periods of fmin
    "features.fmax_hz": Rule(low=20, high=4000),
    "features.normalization": Rule(choices=choices.NORMALIZATION_MODES),
    "features.hub_layer": Rule(low=-1, high=128),  # -1 = the last hidden state
    "features.hub_layers": Rule(choices=choices.HUB_LAYER_MODES),
    "text.min_count": Rule(low=1, high=1000),
    "text.trainer": Rule(choices=choices.TRAINERS),
    "text.vector_dim": Rule(low=1, high=1000),
    "text.trainer_epochs": Rule(low=1, high=1000),
    "text.seed": Rule(low=0, high=2**31 - 1),
    "pipeline.batch_size": Rule(low=1, high=4096),
    "pipeline.max_frames": Rule(low=1, high=100_000),  # 1000 s at a 10 ms hop
    "pipeline.max_words": Rule(low=1, high=5000),
    "pipeline.bucket_width": Rule(low=1, high=100_000),
    "pipeline.shuffle_seed": Rule(low=0, high=2**31 - 1),
    # 4 training sessions: 8 speakers, of which at least 1 trains
    "pipeline.validation_speakers": Rule(low=1, high=7),
    "model.latent_dim": Rule(low=1, high=4096),
    "model.audio_conv_filters": Rule(low=1, high=4096),
    "model.audio_conv_kernel": Rule(low=1, high=100),
    "model.audio_conv_layers": Rule(low=0, high=10),  # each halves the frames
    "model.audio_rnn_units": Rule(low=1, high=4096),
    "model.text_rnn_units": Rule(low=1, high=4096),
    "model.dropout": Rule(low=0, high=1, high_open=True),
    "model.modality_dropout": Rule(low=0, high=1, high_open=True),
    # w weighs the two auxiliary CE terms against the fused CE: at 100 the fused head is 1% of
    # the loss already; far above, the loss overflows float32 and training diverges
    "model.aux_heads_weight": Rule(low=0, high=100),
    "model.discriminator": Rule(choices=choices.DISCRIMINATORS),
    "model.discriminator_units": Rule(low=1, high=4096),
    "model.temperature": Rule(low=0.01, high=100),  # cosine / temperature: below 0.01 diverges
    "model.pairing": Rule(choices=choices.PAIRINGS),
    "model.objective": Rule(choices=choices.OBJECTIVES),
    "model.pair_loss_scaling": Rule(choices=choices.PAIR_LOSS_SCALINGS),
    # lambda, as each entry of contrastive_weights (which sets it per run)
    "model.contrastive_weight": Rule(low=0, high=1000),
    "train.epochs": Rule(low=1, high=10_000),
    "train.learning_rate": Rule(low=0, high=1, low_open=True),
    "train.lr_decay": Rule(low=0, high=1, low_open=True),
    "train.clipnorm": Rule(low=0, high=1e6, low_open=True),
    "train.patience": Rule(low=1, high=10_000),
    "train.seed": Rule(low=0, high=2**31 - 1),
    "train.verbose": Rule(low=0, high=2),
    "train.probe_every": Rule(low=1, high=10_000),
    "train.accelerator": Rule(choices=choices.ACCELERATORS),
    "protocol": Rule(choices=choices.PROTOCOLS),
    # the speaker protocol's 10 folds (the session protocol's 5: cross_checks names the protocol)
    "folds": Rule(low=1, high=10, nonempty=True, unique=True),
    "seeds": Rule(low=0, high=2**31 - 1, nonempty=True, unique=True),
    "systems": Rule(nonempty=True, unique=True),
    "contrastive_weights": Rule(low=0, high=1000, low_open=True, unique=True),
    "init_from": Rule(choices=("baseline",)),
    "warm_start_classifier": Rule(choices=choices.WARM_START_CLASSIFIERS),
    # worker processes (never more are started than there are runs); each holds a model and a
    # fold, so more than a large machine's cores only share them
    "jobs": Rule(low=1, high=256),
}
