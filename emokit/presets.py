"""Named experiment configs for ``python -m emokit.experiment --preset NAME``.

- ``quick``: the README's main command. Built-in ``mini`` corpus, all 5 leave-one-session-out
  folds, baseline vs contrastive (bilinear discriminator, lambda = 1), one seed, a small model
  trained for 10 epochs: under 4 minutes on 2 CPU cores (measured 229 s, corpus generation and
  feature extraction included).
- ``full``: the IEMOCAP-size built-in corpus (or your release: set ``corpus.root``), every system
  (audio, text, baseline, contrastive at 4 lambdas with the mlp, bilinear and cosine
  discriminators), 3 seeds: 225 runs.
  Meant for a GPU. Measured on 2 shared CPU cores: generating the corpus 260 s, its features 70 s,
  then about 25-30 s per epoch per run (up to 30 epochs, early stopping), i.e. about a day on CPU.
  GPU: not measured yet. On a GPU, ``emokit.runtime.use_accelerator(config)`` turns on mixed
  precision and a larger batch (``benchmarks/gpu.py`` measures the GPU path).
- ``paper``: Qian & Han's setup as far as it maps onto emokit, under the speaker-independent
  protocol: the paper code's InfoNCE discriminator (audio code -> MLP 320 -> 200, raw cosine
  against every text code of the batch, the matching utterance as target, one way), its objective
  ``(1 - alpha) CE + alpha L`` with alpha 0.1 ... 0.9, regularized runs warm-started from the
  trained baseline of the same fold and seed, and the ``baseline-continued`` control (the same
  extra epochs with the pair loss off). Batch 128, Adam 1e-3 without decay, patience 30, log-mel
  input, 300-d word vectors, first 25 words, dropout 0.7. What is *not* the paper's: emokit's
  encoders (conv + GRU, not the paper's CNN on 128x128 spectrograms and LSTM on GloVe; set
  ``text.vectors_path: glove-wiki-gigaword-300`` for its vectors), model selection on validation
  UA (the code: validation CE), and the speaker-independent folds (the code: every 5th utterance
  to test). Which of the script's three branches produced the paper's table is uncertain: the
  default InfoNCE branch cannot run as published and negates its loss (``loss2 = -ret``), which
  would maximize the cross-entropy; emokit minimizes it. Its MINE and BCE branches are
  ``contrastive-mine`` and ``contrastive-shuffled_bce``. 2 + 5 systems x 5 folds: meant for a GPU.

With ``EMOKIT_QUICK=1`` (tests, notebooks in CI) :func:`get_preset` shrinks any preset to a smoke
test: same folds and systems, a tiny model, one or two epochs, one seed.
"""

from __future__ import annotations

import dataclasses

from emokit.config import (
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
    """Mini corpus, 5 folds x 1 seed, baseline vs contrastive-bilinear-1, small model.

    lambda = 1 with the bilinear discriminator is the middle of the paper's sweep (alpha = 0.5)
    with its discriminator style; smaller weights barely move a model trained for 10 epochs.
    """
    return ExperimentConfig(
        name="quick",
        corpus=CorpusConfig(synthetic_size="mini"),
        text=TextConfig(vector_dim=32, trainer_epochs=10),
        # one padded length (300 frames = 3 s): a single traced training step per model
        pipeline=PipelineConfig(batch_size=32, max_frames=300, bucket_width=300, max_words=30),
        model=ModelConfig(latent_dim=32, audio_conv_filters=32, audio_rnn_units=32,
                          text_rnn_units=32, discriminator="bilinear"),
        train=TrainConfig(epochs=10, patience=4),
        systems=["baseline", "contrastive"],
        contrastive_weights=[1.0],
        seeds=[0],
    )


def full() -> ExperimentConfig:
    """IEMOCAP-size corpus, every system, 4 lambdas x 2 discriminators, 3 seeds."""
    return ExperimentConfig(
        name="full",
        corpus=CorpusConfig(synthetic_size="iemocap"),
        systems=["audio", "text", "baseline", "contrastive-mlp", "contrastive-bilinear",
                 "contrastive-cosine"],
        contrastive_weights=[0.1, 0.3, 1.0, 3.0],
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
        train=TrainConfig(epochs=100, learning_rate=1e-3, lr_decay=1.0, patience=30),
        systems=["baseline", "contrastive"],
        contrastive_weights=list(PAPER_ALPHAS),
        init_from="baseline",
        seeds=[0],
    )


PRESETS = {"quick": quick, "full": full, "paper": paper}


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


def get_preset(name: str) -> ExperimentConfig:
    """The preset called ``name`` (shrunk to a smoke test when ``EMOKIT_QUICK=1``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    config = PRESETS[name]()
    return shrink_for_quick_mode(config) if quick_mode() else config
