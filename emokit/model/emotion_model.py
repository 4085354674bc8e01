"""The paper's model: two encoders, concatenation, a classifier, and the pair discriminator.

>>> from emokit.config import ModelConfig
>>> model = build_model(ModelConfig(), feature_dim=42, vocab_size=500, num_classes=4)  # doctest: +SKIP
>>> logits = model(inputs)        # inputs: {"audio", "audio_mask", "tokens", "text_mask"}  # doctest: +SKIP

``EmotionModel.compute_losses`` is the one place the training objective is assembled; the custom
loop in ``emokit.training.loop`` and ``model.fit`` (``EmotionModel.train_step``) both call it.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from emokit.config import (
    DISCRIMINATORS,
    GRID_DISCRIMINATORS,
    OBJECTIVES,
    PAIR_LOSS_SCALINGS,
    PAIRINGS,
    RENAMED_DISCRIMINATORS,
    ModelConfig,
)
from emokit.model.discriminators import PairDiscriminator
from emokit.model.layers import (
    AudioEncoder,
    ConcatFusion,
    EmotionClassifier,
    ModalityDropout,
    TextEncoder,
)
from emokit.model.losses import classification_loss, combine_losses, pair_loss

MODALITIES = ("both", "audio", "text")
DISCRIMINATOR_SEED_OFFSET = 7919  # the discriminator draws from its own seeds
MODALITY_DROPOUT_SEED_OFFSET = 104729  # and so does modality dropout


def check_model_config(config: ModelConfig) -> None:
    """Refuse settings that cannot work together, saying which setting to change."""
    choices = {"modalities": MODALITIES, "pairing": PAIRINGS, "objective": OBJECTIVES,
               "pair_loss_scaling": PAIR_LOSS_SCALINGS, "discriminator": DISCRIMINATORS}
    if config.discriminator in RENAMED_DISCRIMINATORS:
        raise ValueError(f"ModelConfig.discriminator: "
                         f"{RENAMED_DISCRIMINATORS[config.discriminator]}")
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"ModelConfig.{name} must be one of {allowed}, "
                             f"got {getattr(config, name)!r}")
    weight = config.contrastive_weight
    if weight < 0 or (config.objective == "convex" and weight >= 1):
        raise ValueError(f"ModelConfig.contrastive_weight must be >= 0 (and < 1 with "
                         f"objective='convex', where it is alpha), got {weight}")
    if weight > 0 and config.modalities != "both":
        raise ValueError("the contrastive loss pairs audio with text codes: set "
                         "ModelConfig.modalities='both' or contrastive_weight=0")
    if not 0.0 <= config.modality_dropout < 1.0:
        raise ValueError(f"ModelConfig.modality_dropout must be in [0, 1), "
                         f"got {config.modality_dropout}")
    if config.aux_heads_weight < 0:
        raise ValueError(f"ModelConfig.aux_heads_weight must be >= 0 (0 = no auxiliary heads), "
                         f"got {config.aux_heads_weight}")
    if config.within_modality_pairs and (config.pairing != "label"
                                         or config.discriminator not in GRID_DISCRIMINATORS):
        raise ValueError("ModelConfig.within_modality_pairs needs pairing='label' and a grid "
                         f"discriminator {GRID_DISCRIMINATORS}")
    if config.discriminator in ("mine", "shuffled_bce") and config.pairing != "instance":
        raise ValueError(f"discriminator {config.discriminator!r} scores matched vs shuffled "
                         "utterances: set ModelConfig.pairing='instance' (or use 'infonce' or a "
                         "grid kind for label pairing)")


@keras.saving.register_keras_serializable(package="emokit")
class EmotionModel(keras.Model):
    """Audio + text emotion classifier with an optional contrastive pair discriminator.

    ``call(inputs) -> (batch, num_classes)`` float32 logits, where ``inputs`` is the pipeline's
    dict ``{"audio": (batch, frames, feature_dim) float32, "audio_mask": (batch, frames) bool,
    "tokens": (batch, words) int32, "text_mask": (batch, words) bool}`` (unimodal models read only
    their part). ``encode(inputs) -> (audio_code, text_code)``, ``(batch, latent_dim)`` each, or
    None for a modality the model does not have.
    """

    def __init__(self, model_config, feature_dim, vocab_size, num_classes, embedding_dim=100,
                 seed=0, embedding_matrix=None, feature_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.config = (model_config if isinstance(model_config, ModelConfig)
                       else ModelConfig(**model_config))
        check_model_config(self.config)
        cfg = self.config
        self.feature_dim = feature_dim
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.seed = seed
        self.feature_layers = feature_layers  # > 1: encoder layers side by side in each frame
        dtype = self.dtype_policy
        self.audio_encoder = self.text_encoder = None
        if cfg.modalities in ("both", "audio"):
            self.audio_encoder = AudioEncoder(cfg.latent_dim, cfg.audio_conv_filters,
                                              cfg.audio_conv_kernel, cfg.audio_conv_layers,
                                              cfg.audio_rnn_units, feature_layers,
                                              dtype=dtype, name="audio_encoder")
        if cfg.modalities in ("both", "text"):
            self.text_encoder = TextEncoder(vocab_size, embedding_dim, cfg.latent_dim,
                                            cfg.text_rnn_units, cfg.train_embeddings,
                                            embedding_matrix, dtype=dtype, name="text_encoder")
        # Only a fused model with a rate > 0 has it (own seed): otherwise nothing changes.
        self.modality_dropout = None
        if cfg.modalities == "both" and cfg.modality_dropout > 0:
            self.modality_dropout = ModalityDropout(cfg.modality_dropout,
                                                    seed=seed + MODALITY_DROPOUT_SEED_OFFSET,
                                                    dtype=dtype, name="modality_dropout")
        self.fusion = ConcatFusion(dtype=dtype, name="fusion")
        self.classifier = EmotionClassifier(num_classes, cfg.dropout, dtype=dtype,
                                            name="classifier")
        # Built always (and last, from its own seeds) so lambda never changes the other weights.
        self.discriminator = PairDiscriminator(cfg.discriminator, cfg.discriminator_units,
                                               cfg.temperature,
                                               seed=seed + DISCRIMINATOR_SEED_OFFSET,
                                               dtype=dtype, name="discriminator")
        # Unimodal auxiliary heads (training only): a fused model with aux_heads_weight > 0 has
        # them, created after everything else, so the other weights stay those of the baseline.
        self.audio_aux_head = self.text_aux_head = None
        if cfg.modalities == "both" and cfg.aux_heads_weight > 0:
            self.audio_aux_head = EmotionClassifier(num_classes, cfg.dropout, dtype=dtype,
                                                    name="audio_aux_head")
            self.text_aux_head = EmotionClassifier(num_classes, cfg.dropout, dtype=dtype,
                                                   name="text_aux_head")

    @property
    def contrastive_weight(self) -> float:
        return float(self.config.contrastive_weight)

    def encode(self, inputs, training=None):
        """``inputs`` dict -> ``(audio_code, text_code)``, each ``(batch, latent_dim)`` or None."""
        audio = text = None
        if self.audio_encoder is not None:
            audio = self.audio_encoder(inputs["audio"], mask=inputs.get("audio_mask"),
                                       training=training)
        if self.text_encoder is not None:
            text = self.text_encoder(inputs["tokens"], mask=inputs.get("text_mask"),
                                     training=training)
        return audio, text

    def classify(self, audio_code, text_code, training=None):
        codes = [c for c in (audio_code, text_code) if c is not None]
        if self.modality_dropout is not None:
            codes = self.modality_dropout(codes, training=training)
        return self.classifier(self.fusion(codes), training=training)

    def call(self, inputs, training=None):
        return self.classify(*self.encode(inputs, training=training), training=training)

    def auxiliary_losses(self, audio_code, text_code, labels, training=False) -> dict:
        """The unimodal heads' CE on each code, ``{"aux_audio_ce", "aux_text_ce"}`` (scalars),
        or ``{}`` for a model without auxiliary heads (``aux_heads_weight = 0``)."""
        if self.audio_aux_head is None:
            return {}
        return {"aux_audio_ce": classification_loss(
                    labels, self.audio_aux_head(audio_code, training=training)),
                "aux_text_ce": classification_loss(
                    labels, self.text_aux_head(text_code, training=training))}

    def compute_losses(self, inputs, labels, training=False, pair_scale=1.0):
        """The training objective on one batch -> dict of scalars and the ``logits (batch,
        num_classes)``: ``loss`` (total) = ``ce_term`` + ``pair_term``, where ``ce_term`` is CE
        (``objective="sum"``) or ``(1 - w) CE`` (``"convex"``), plus ``aux_heads_weight *
        (aux_audio_ce + aux_text_ce)`` with auxiliary heads, and ``pair_term = w * pair_scale
        * disc_loss``; also ``ce`` (the fused head's), ``aux_audio_ce`` and ``aux_text_ce``
        (with auxiliary heads), ``disc_loss`` (the pair loss L), ``disc_acc`` and
        ``disc_chance`` (its accuracy and that accuracy's chance level). ``pair_scale``: the
        stop-gradient factor of ``pair_loss_scaling="grad_ratio"`` (1 otherwise). The pair term
        is built only when ``contrastive_weight > 0`` (a Python decision, made when the step is
        traced), so the baseline computes and updates nothing extra."""
        audio_code, text_code = self.encode(inputs, training=training)
        logits = self.classify(audio_code, text_code, training=training)
        ce = classification_loss(labels, logits)
        out = {"loss": ce, "ce": ce, "ce_term": ce, "logits": logits}
        weight = self.contrastive_weight
        if weight > 0:
            cfg = self.config
            pair = pair_loss(self.discriminator, audio_code, text_code, labels, cfg.pairing,
                             cfg.symmetric, cfg.within_modality_pairs, inputs.get("tokens"))
            scaled = pair.loss * tf.stop_gradient(tf.cast(pair_scale, "float32"))
            out.update(loss=combine_losses(ce, scaled, weight, cfg.objective),
                       ce_term=combine_losses(ce, 0.0, weight, cfg.objective),
                       pair_term=weight * scaled, disc_loss=pair.loss, disc_acc=pair.accuracy,
                       disc_chance=pair.chance)
        aux = self.auxiliary_losses(audio_code, text_code, labels, training=training)
        if aux:  # a Python decision: without heads the baseline's graph is unchanged
            aux_term = self.config.aux_heads_weight * (aux["aux_audio_ce"] + aux["aux_text_ce"])
            out.update(aux, loss=out["loss"] + aux_term, ce_term=out["ce_term"] + aux_term)
        return out

    def variables_to_train(self):
        """The trainable variables the loss depends on (no discriminator for the baseline)."""
        if self.contrastive_weight > 0:
            return self.trainable_variables
        skip = {id(v) for v in self.discriminator.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in skip]

    # --- model.fit support: the same objective as emokit.training.loop.fit -----------------------
    def train_step(self, data):
        """``model.compile(optimizer=emokit.training.trainer.make_optimizer(cfg)); model.fit(...)``.
        For emokit's per-epoch decay add ``keras.callbacks.LearningRateScheduler(lambda e:
        emokit.training.trainer.learning_rate_at(cfg, e))``; early stopping and checkpoints are
        ``fit``'s own callbacks."""
        inputs, labels = data
        variables = self.variables_to_train()
        with tf.GradientTape() as tape:
            out = self.compute_losses(inputs, labels, training=True)
            loss = out["loss"]
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                loss = self.optimizer.scale_loss(loss)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return {k: v for k, v in out.items() if k != "logits"}

    def test_step(self, data):
        inputs, labels = data
        out = self.compute_losses(inputs, labels, training=False)
        predictions = tf.argmax(out["logits"], axis=-1, output_type=labels.dtype)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, labels), "float32"))
        return {**{k: v for k, v in out.items() if k != "logits"}, "accuracy": accuracy}

    # --- building and saving -----------------------------------------------------------------
    def build_all(self):
        """Create every variable (discriminator included) by running tiny dummy inputs."""
        frames = 2 ** (self.config.audio_conv_layers + 2)  # >1 step left after the pooling
        dummy = {"audio": np.zeros((2, frames, self.feature_dim), "float32"),
                 "audio_mask": np.ones((2, frames), bool),
                 "tokens": np.ones((2, 3), "int32"), "text_mask": np.ones((2, 3), bool)}
        audio_code, text_code = self.encode(dummy)
        self.classify(audio_code, text_code)
        if self.audio_aux_head is not None:
            self.audio_aux_head(audio_code)
            self.text_aux_head(text_code)
        code = audio_code if audio_code is not None else text_code
        self.discriminator(code, code)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "model_config": dataclasses.asdict(self.config),
                "feature_dim": self.feature_dim, "vocab_size": self.vocab_size,
                "num_classes": self.num_classes, "embedding_dim": self.embedding_dim,
                "seed": self.seed,
                **({"feature_layers": self.feature_layers} if self.feature_layers > 1 else {})}

    @classmethod
    def from_config(cls, config):
        model = cls(**config)
        model.build_all()
        return model


def build_model(config: ModelConfig, feature_dim, vocab_size, num_classes, embedding_matrix=None,
                seed=0, model_class=None, feature_layers=1) -> EmotionModel:
    """A built ``EmotionModel`` for ``(batch, frames, feature_dim)`` audio and ``vocab_size``
    token ids. ``embedding_matrix (vocab_size, dim)`` initialises the word embedding (its width
    sets the embedding size; 100 without it). ``seed`` sets Keras' global seed before building, so
    the same seed gives the same initial weights whatever ``contrastive_weight`` is.
    ``model_class``: your own subclass of ``EmotionModel`` (another fusion, say; notebook 07).
    ``feature_layers``: ``L`` > 1 for frames of ``L`` encoder layers side by side
    (``FoldData.feature_layers``), mixed by a learned softmax-weighted sum.
    """
    from emokit.core.tf_process import absorb_onednn_bool_notice, set_random_seed

    absorb_onednn_bool_notice()  # before the masked GRUs' first run, see emokit.core.tf_process
    model_class = model_class or EmotionModel
    set_random_seed(seed)
    embedding_dim = 100 if embedding_matrix is None else int(np.shape(embedding_matrix)[1])
    model = model_class(config, feature_dim, vocab_size, num_classes, embedding_dim, seed,
                        embedding_matrix, name="emotion_model",
                        **({"feature_layers": feature_layers} if feature_layers > 1 else {}))
    model.build_all()
    return model
