"""Named experiment configs for ``python -m emokit.experiment --preset NAME``.

- ``quick``: the README's main command. Built-in ``mini`` corpus, all 5 leave-one-session-out
  folds, the paper's systems trained jointly: audio, text, baseline and contrastive (the paper code's InfoNCE pair
  loss, instance pairing, raw cosine, lambda 0.3), one seed, a small model. Its baseline is
  trained to convergence: Adam at 3e-3
  decayed 0.8 per epoch (2.6e-4 by epoch 12), three conv + pool layers (the GRU reads frames at
  80 ms), 12 epochs with patience 6. ``benchmarks/converged_baseline.py`` checks whether 12
  more epochs from its best weights still gain on validation UA (its earlier numbers were measured
  on test UA and on an older corpus, and are withdrawn: docs/method.md).
- ``full``: the IEMOCAP-size built-in corpus (or your release: set ``corpus.root``), audio, text,
  baseline and contrastive with the infonce, mine, mlp and bilinear pair losses at 3 weights each
  under ``pair_loss_scaling: grad_ratio`` (one grid for every kind: a weight is that fraction of
  CE's pull on the encoders; the scaling costs a second backward pass), 3 seeds: 225 runs.
  Meant for a GPU. On 2 shared CPU cores: generating the corpus 215-260 s, its features 70-95 s,
  then days of training (measured epochs and the projected time: the README's preset table,
  ``benchmarks/scale.py``). GPU: not measured yet. On a GPU, :func:`get_preset` turns on mixed
  precision and a larger batch (``train.accelerator``, :mod:`emokit.config.accelerator`;
  ``benchmarks/gpu.py`` measures the GPU path).
- ``paper``: Qian & Han's setup as far as it maps onto emokit, under the speaker-independent
  protocol: the paper code's InfoNCE discriminator (audio code -> MLP 320 -> 200, raw cosine
  against every text code of the batch, the matching utterance as target, one way), its objective
  ``(1 - alpha) CE + alpha L`` with alpha 0.1 ... 0.9, regularized runs warm-started from the
  trained baseline of the same fold and seed with a freshly initialized classifier
  (``warm_start_classifier: reinit``: the script loads only the encoders), and the
  ``baseline-continued`` control started the same way (the same extra epochs with the pair loss
  off). Batch 128, Adam 1e-3 without decay, patience 30, log-mel
  input, 300-d word vectors, first 25 words, dropout 0.7. Monitoring on, its linear probes every
  5th epoch and on the kept one (``train.probe_every``; every epoch they would cost about 45% of
  the training steps' time, ``benchmarks/scale.py``). What is *not* the paper's: emokit's
  encoders (conv + GRU, not the paper's CNN on 128x128 spectrograms and LSTM on GloVe; set
  ``text.vectors_path: glove-wiki-gigaword-300`` for its vectors), model selection on validation
  UA (the code: validation CE), and the speaker-independent folds (the code: every 5th utterance
  to test). Which of the script's three branches produced the paper's table is uncertain: the
  default InfoNCE branch cannot run as published and negates its loss (``loss2 = -ret``), which
  would maximize the cross-entropy; emokit minimizes it. Its MINE and BCE branches are
  ``contrastive-mine`` and ``contrastive-shuffled_bce``. 2 + 5 systems x 5 folds: meant for a GPU.

- ``pretrained``: ``quick``'s folds, systems and training on the codes of frozen pretrained
  encoders from Keras Hub (``whisper_base_en`` frames, ``bert_base_en_uncased`` tokens; needs
  ``emokit[hub]``): emokit's pooling, fusion, classifier and pair loss on top, unchanged. Offline
  (and in the tests), local preset folders replace the names (``features.hub_preset``,
  ``text.hub_preset``).

Where a preset runs one pair loss at several weights (``full``, ``paper``), the report also shows
``contrastive-<kind>-selected``: per fold and seed, the weight with the best validation UA
(:mod:`emokit.evaluation.selection`, derived after the runs, no training). Choosing the weight by its test
numbers instead is optimistic.

With ``EMOKIT_QUICK=1`` (tests, notebooks in CI) :func:`get_preset` shrinks any preset to a smoke
test: same folds and systems, a tiny model, one or two epochs, one seed.
"""

from __future__ import annotations

import dataclasses

from emokit.config.accelerator import use_accelerator
from emokit.config.settings import (
    CorpusConfig,
    ExperimentConfig,
    FeatureConfig,
    ModelConfig,
    PipelineConfig,
    TextConfig,
    TrainConfig,
    quick_mode,
)

PAPER_ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9)


def quick() -> ExperimentConfig:
    """Mini corpus, 5 folds x 1 seed: audio, text, baseline and contrastive-infonce-0.3.

    The pair loss is the paper code's (InfoNCE on instance pairs, raw cosine). At lambda 0.3 it
    pulls on the encoders about half as hard as CE (``benchmarks/regularizer.py``), and its pair
    accuracy leaves chance within the run. Training settings: see the module docstring (the old
    10 epochs at 1e-3 left the baseline short of convergence, issue #9).
    """
    return ExperimentConfig(
        name="quick",
        corpus=CorpusConfig(synthetic_size="mini"),
        text=TextConfig(vector_dim=32, trainer_epochs=10),
        # one padded length (300 frames = 3 s): a single traced training step per model
        pipeline=PipelineConfig(batch_size=32, max_frames=300, bucket_width=300, max_words=30),
        # 3 conv + pool layers: the audio GRU runs 38 steps instead of 75 (~30% faster steps)
        model=ModelConfig(latent_dim=32, audio_conv_filters=32, audio_conv_layers=3,
                          audio_rnn_units=32, text_rnn_units=32, discriminator="infonce",
                          pairing="instance", temperature=None),
        # converged within 12 epochs: higher rate, decayed to a tenth by the end
        # per-epoch probes and gradient ratios (TrainConfig.monitor) add about a quarter to this
        # run's time (measured: 5 min 48 s with them, on 2 idle cores); notebook 05 and
        # `train: {monitor: true}` show them. Pair accuracy and retrieval are recorded anyway.
        train=TrainConfig(epochs=12, learning_rate=3e-3, lr_decay=0.8, patience=6, monitor=False),
        systems=["audio", "text", "baseline", "contrastive"],
        contrastive_weights=[0.3],
        seeds=[0],
    )


def full() -> ExperimentConfig:
    """IEMOCAP-size corpus: audio, text, baseline, and four pair losses at three weights each, with
    gradient-ratio scaling (a weight = that fraction of CE's pull on the encoders, whatever the
    kind), instance pairing (the paper code's, which every kind supports); 3 seeds."""
    return ExperimentConfig(
        name="full",
        corpus=CorpusConfig(synthetic_size="iemocap"),
        model=ModelConfig(pairing="instance", pair_loss_scaling="grad_ratio"),
        systems=["audio", "text", "baseline", "contrastive-infonce", "contrastive-mine",
                 "contrastive-mlp", "contrastive-bilinear"],
        contrastive_weights=[0.1, 0.3, 1.0],
        seeds=[0, 1, 2],
    )


def paper() -> ExperimentConfig:
    """Qian & Han's setup mapped onto emokit (see the module docstring for what does not map)."""
    return ExperimentConfig(
        name="paper",
        corpus=CorpusConfig(synthetic_size="iemocap"),
        features=FeatureConfig(kind="logmel", n_mels=128),
        text=TextConfig(vector_dim=300),
        pipeline=PipelineConfig(batch_size=128, max_frames=800, max_words=25),
        model=ModelConfig(latent_dim=200, text_rnn_units=200, dropout=0.7,
                          discriminator="infonce", discriminator_units=320, temperature=None,
                          symmetric=False, pairing="instance", objective="convex"),
        # linear probes every 5th epoch (and the kept one): every epoch they cost about 45% of
        # the training steps on CPU (benchmarks/scale.py); training is the same either way
        train=TrainConfig(epochs=100, learning_rate=1e-3, lr_decay=1.0, patience=30,
                          probe_every=5),
        systems=["baseline", "contrastive"],
        contrastive_weights=list(PAPER_ALPHAS),
        init_from="baseline",
        warm_start_classifier="reinit",  # the script loads only the encoders
        seeds=[0],
    )


#: The pretrained encoders of the ``pretrained`` preset (Keras Hub names, fetched once from Kaggle).
PRETRAINED_AUDIO = "whisper_base_en"
PRETRAINED_TEXT = "bert_base_en_uncased"


def pretrained() -> ExperimentConfig:
    """quick's protocol and systems on the codes of frozen pretrained encoders: Whisper's last
    hidden state (50 frames/s) and BERT's token codes, through emokit's own small encoders,
    fusion and pair loss. Needs emokit[hub] (TensorFlow >= 2.20) and the presets: on a machine
    with network they are fetched once; offline, set ``features.hub_preset`` and
    ``text.hub_preset`` to local preset folders (``save_to_preset``) in a ``--config`` file.

    The codes' cache is extracted once per corpus and preset (a GPU is worth it: every
    utterance runs Whisper's 30 s window); then a fold trains in about the time of quick's.
    The audio conv layer halves 50 frames/s to 25; 15 s of audio at most (``max_frames`` 750).
    """
    return dataclasses.replace(
        quick(), name="pretrained",
        features=FeatureConfig(kind="hub", hub_preset=PRETRAINED_AUDIO, hub_layer=-1),
        text=TextConfig(hub_preset=PRETRAINED_TEXT),
        pipeline=PipelineConfig(batch_size=32, max_frames=750, bucket_width=250, max_words=50),
        model=ModelConfig(latent_dim=32, audio_conv_filters=64, audio_conv_layers=1,
                          audio_rnn_units=32, text_rnn_units=32, train_embeddings=False,
                          discriminator="infonce", pairing="instance", temperature=None),
    )


PRESETS = {"quick": quick, "full": full, "paper": paper, "pretrained": pretrained}


def shrink_for_quick_mode(config: ExperimentConfig) -> ExperimentConfig:
    """A smoke-test version of ``config``: mini corpus, tiny model, 2 epochs, one seed; the folds,
    protocol and systems stay. Its name gets ``-quickmode`` so it never mixes with real results."""
    return dataclasses.replace(
        config,
        name=f"{config.name}-quickmode",
        corpus=dataclasses.replace(config.corpus, synthetic_size="mini"),
        text=dataclasses.replace(config.text, vector_dim=8, trainer_epochs=2),
        pipeline=dataclasses.replace(config.pipeline, max_frames=200,
                                     bucket_width=200, max_words=20),
        model=dataclasses.replace(config.model, latent_dim=8, audio_conv_filters=8,
                                  audio_conv_layers=1, audio_rnn_units=8, text_rnn_units=8,
                                  discriminator_units=8),
        train=dataclasses.replace(config.train, epochs=2, patience=2),
        seeds=config.seeds[:1],
    )


def preset_config(name: str) -> ExperimentConfig:
    """The preset called ``name`` as written (shrunk to a smoke test when ``EMOKIT_QUICK=1``),
    without the GPU settings: for settings to be laid over it before :func:`use_accelerator`."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    config = PRESETS[name]()
    return shrink_for_quick_mode(config) if quick_mode() else config


def get_preset(name: str) -> ExperimentConfig:
    """The preset called ``name`` (shrunk to a smoke test when ``EMOKIT_QUICK=1``), with the GPU
    settings when TensorFlow sees a GPU (:func:`emokit.config.accelerator.use_accelerator`;
    ``train.accelerator: off`` in the preset keeps them away)."""
    return use_accelerator(preset_config(name))
