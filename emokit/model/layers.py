"""The building blocks of the paper's model, as reusable Keras 3 layers.

Each layer works on its own inside any ``keras.Model`` (functional or subclassed), is
serializable (``get_config`` + registered under the ``emokit`` package, so ``.keras`` files load
and ``keras.models.clone_model`` copies without ``custom_objects``) and states its output shape
(``compute_output_shape``).

- ``MaskedAttentionPooling``: a sequence ``(batch, time, features)`` -> ``(batch, features)``,
  ignoring padded steps.
- ``AudioEncoder``: frame features ``(batch, frames, dims)`` -> latent code ``(batch, latent_dim)``.
- ``TextEncoder``: token ids ``(batch, words)`` -> latent code ``(batch, latent_dim)``.
- ``ConcatFusion`` + ``EmotionClassifier``: the paper's baseline head.
- ``ModalityDropout``: in training, silences one modality's code of some examples before fusion,
  so the classifier cannot lean on one modality alone (``ModelConfig.modality_dropout``).

``PairDiscriminator``, which scores every (audio code, text code) pair of a batch for the pair
loss, lives in :mod:`emokit.model.discriminators`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from emokit.model.layer_weights import LayerWeightedSum

_NEG_INF = -1e9


@keras.saving.register_keras_serializable(package="emokit")
class MaskedAttentionPooling(layers.Layer):
    """Attention-weighted average over time that gives padded steps zero weight.

    ``call(sequence (batch, time, features), mask (batch, time) bool) -> (batch, features)``.
    Scores are ``v . tanh(W x_t)``; the softmax over time is taken in float32 (safe under mixed
    precision). A fully padded row returns zeros instead of NaN.
    """

    def __init__(self, units=64, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True
        self.hidden = layers.Dense(units, activation="tanh", dtype=self.dtype_policy)
        self.score = layers.Dense(1, use_bias=False, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.score.build(tuple(input_shape[:-1]) + (self.units,))

    def call(self, sequence, mask=None):
        scores = ops.cast(ops.squeeze(self.score(self.hidden(sequence)), -1), "float32")
        if mask is not None:
            scores = ops.where(mask, scores, _NEG_INF)
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            weights = weights * ops.cast(mask, "float32")  # all-padding rows -> zero weights
        weights = ops.cast(weights, sequence.dtype)
        return ops.sum(sequence * weights[..., None], axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _bidirectional_gru(owner, units, dtype):
    """``Bidirectional(GRU(units, return_sequences=True))`` for ``owner``, which keeps the GRU
    template alive (untracked). ``Bidirectional`` copies its template through Keras'
    serialization; while a model loads, Keras takes two objects with the same ``id()`` for one
    shared object, and a freed template's id can be reused by the next encoder's template (seen
    on Python 3.13), which would hand it the previous encoder's backward GRU."""
    template = layers.GRU(units, return_sequences=True, dtype=dtype)
    object.__setattr__(owner, "_gru_template", template)  # kept, not tracked as a sublayer
    return layers.Bidirectional(template, dtype=dtype)


def _build_recurrent_head(encoder, channels):
    """Build an encoder's bidirectional GRU, attention pooling and projection for ``channels``
    input features per step."""
    encoder.rnn.build((None, None, channels))
    encoder.attention.build((None, None, 2 * encoder.rnn_units))
    encoder.project.build((None, 2 * encoder.rnn_units))


@keras.saving.register_keras_serializable(package="emokit")
class AudioEncoder(layers.Layer):
    """Frame features -> one latent code per utterance.

    ``conv_layers`` x [Conv1D + ReLU + max pooling 2 in time] (the mask is pooled the same way),
    then a bidirectional GRU over the remaining steps, masked attention pooling and a dense
    projection. Padded frames are zeroed first, so appending padding leaves the code unchanged.

    Args:
        latent_dim: width of the code.
        conv_filters: filters of each Conv1D layer.
        conv_kernel: their kernel size, in frames.
        conv_layers: how many conv + pooling blocks (each halves the frames).
        rnn_units: units of each direction of the GRU.
        input_layers: ``L`` > 1: each frame holds ``L`` encoder layers side by side
            (``features.hub_layers: "weighted"``), mixed first by a learned
            :class:`emokit.model.layer_weights.LayerWeightedSum`.

    Call arguments:
        features: ``(batch, frames, dims)`` float frame features (``emokit.data.features``).
        mask: ``(batch, frames)`` bool, False on padding; None means no padding.
        training: as for any Keras layer.

    Returns:
        ``(batch, latent_dim)`` codes (tanh, so in [-1, 1]).

    Example:
        >>> import numpy as np
        >>> encoder = AudioEncoder(latent_dim=16, conv_filters=8, rnn_units=8)
        >>> encoder(np.zeros((2, 40, 42), "float32")).shape
        TensorShape([2, 16])
    """

    def __init__(self, latent_dim=128, conv_filters=64, conv_kernel=5, conv_layers=2,
                 rnn_units=64, input_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.input_layers = input_layers
        self.layer_mix = (LayerWeightedSum(input_layers, dtype=self.dtype_policy)
                          if input_layers > 1 else None)
        self.conv_filters = conv_filters
        self.conv_kernel = conv_kernel
        self.conv_layers = conv_layers
        self.rnn_units = rnn_units
        dtype = self.dtype_policy
        self.convs = [layers.Conv1D(conv_filters, conv_kernel, padding="same", activation="relu",
                                    dtype=dtype) for _ in range(conv_layers)]
        self.pool = layers.MaxPooling1D(2, padding="same", dtype=dtype)
        self.rnn = _bidirectional_gru(self, rnn_units, dtype)
        self.attention = MaskedAttentionPooling(rnn_units, dtype=dtype)
        self.project = layers.Dense(latent_dim, activation="tanh", dtype=dtype)

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.layer_mix is not None:
            self.layer_mix.build(input_shape)
            channels //= self.input_layers
        for conv in self.convs:
            conv.build((None, None, channels))
            channels = self.conv_filters
        _build_recurrent_head(self, channels)

    def call(self, features, mask=None, training=None):
        if mask is None:
            mask = ops.ones(ops.shape(features)[:2], dtype="bool")
        x = features * ops.cast(mask, features.dtype)[..., None]
        if self.layer_mix is not None:
            x = self.layer_mix(x)
        for conv in self.convs:
            keep = ops.cast(mask, x.dtype)[..., None]
            x = self.pool(conv(x) * keep)
            mask = ops.squeeze(self.pool(keep), -1) > 0
        x = self.rnn(x, mask=mask, training=training)
        return self.project(self.attention(x, mask=mask))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "conv_filters": self.conv_filters, "conv_kernel": self.conv_kernel,
                "conv_layers": self.conv_layers, "rnn_units": self.rnn_units,
                **({"input_layers": self.input_layers} if self.input_layers > 1 else {})}


@keras.saving.register_keras_serializable(package="emokit")
class TextEncoder(layers.Layer):
    """Token ids -> one latent code per utterance.

    A word embedding, a bidirectional GRU, masked attention pooling and a dense projection.

    Args:
        vocab_size: number of token ids (``len(vocab)``; 0 is ``<pad>``, 1 ``<unk>``).
        embedding_dim: width of the word vectors.
        latent_dim: width of the code.
        rnn_units: units of each direction of the GRU.
        train_embeddings: False freezes the word vectors.
        embedding_matrix: ``(vocab_size, embedding_dim)`` initial word vectors (``FoldData.
            embedding_matrix``), or None for random ones. They are assigned when the layer is
            built and then live in its weights only: ``get_config`` holds the shape
            (``vocab_size``, ``embedding_dim``), not the matrix, so a saved ``config.json`` stays
            small and the vectors come back with the weights. As for any Keras layer,
            ``from_config`` and ``keras.models.clone_model`` give the same architecture with
            fresh weights; ``copy.set_weights(original.get_weights())`` copies the vectors.
            (A config saved by emokit before this change, with the matrix in it, still loads.)

    Call arguments:
        tokens: ``(batch, words)`` int token ids (``emokit.data.pipeline``), or ``(batch, words,
            embedding_dim)`` float vectors read in place of the embedding's rows: a pretrained
            text encoder's codes for a transcript the frozen lookup has no rows for
            (``emokit.predict`` with a ``text.hub_preset`` bundle).
        mask: ``(batch, words)`` bool, False on padding; None means id 0 (an all-zero vector)
            is padding.
        training: as for any Keras layer.

    Returns:
        ``(batch, latent_dim)`` codes (tanh, so in [-1, 1]).

    Example:
        >>> import numpy as np
        >>> vectors = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
        >>> encoder = TextEncoder(50, 8, latent_dim=16, rnn_units=8, embedding_matrix=vectors)
        >>> encoder(np.array([[5, 7, 0]])).shape
        TensorShape([1, 16])
        >>> copy = TextEncoder.from_config(encoder.get_config())  # same shape, fresh weights
        >>> copy.build((None, None)); copy.set_weights(encoder.get_weights())  # same vectors
    """

    def __init__(self, vocab_size, embedding_dim=100, latent_dim=128, rnn_units=64,
                 train_embeddings=True, embedding_matrix=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(embedding_matrix, dict):  # a config saved with the matrix in it (old)
            embedding_matrix = keras.saving.deserialize_keras_object(embedding_matrix)
        if embedding_matrix is not None:
            embedding_matrix = np.asarray(embedding_matrix, dtype="float32")
        if embedding_matrix is not None and tuple(embedding_matrix.shape) != (vocab_size,
                                                                              embedding_dim):
            raise ValueError(
                f"embedding_matrix has shape {tuple(embedding_matrix.shape)}, expected "
                f"(vocab_size={vocab_size}, embedding_dim={embedding_dim}): build the matrix "
                "from the same vocabulary as the token ids")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.latent_dim = latent_dim
        self.rnn_units = rnn_units
        self.train_embeddings = train_embeddings
        self._initial_vectors = embedding_matrix  # assigned in build, then dropped
        dtype = self.dtype_policy
        self.embedding = layers.Embedding(vocab_size, embedding_dim,
                                          trainable=train_embeddings, dtype=dtype)
        self.rnn = _bidirectional_gru(self, rnn_units, dtype)
        self.attention = MaskedAttentionPooling(rnn_units, dtype=dtype)
        self.project = layers.Dense(latent_dim, activation="tanh", dtype=dtype)

    def build(self, input_shape):
        self.embedding.build(tuple(input_shape)[:2])
        if self._initial_vectors is not None:  # after the random draw, as ever: same seeds
            self.embedding.embeddings.assign(self._initial_vectors)
            self._initial_vectors = None  # the weights hold them now
        _build_recurrent_head(self, self.embedding_dim)

    def call(self, tokens, mask=None, training=None):
        looked_up = len(tokens.shape) == 3  # (batch, words, embedding_dim) vectors already
        if mask is None:
            mask = ops.any(ops.not_equal(tokens, 0), axis=-1) if looked_up else ops.not_equal(
                tokens, 0)
        x = ops.cast(tokens, self.compute_dtype) if looked_up else self.embedding(tokens)
        x = self.rnn(x, mask=mask, training=training)
        return self.project(self.attention(x, mask=mask))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim, "latent_dim": self.latent_dim,
                "rnn_units": self.rnn_units, "train_embeddings": self.train_embeddings}


@keras.saving.register_keras_serializable(package="emokit")
class ConcatFusion(layers.Layer):
    """The paper's fusion: the codes side by side.

    Call arguments:
        codes: a list of codes, e.g. ``[audio_code (batch, da), text_code (batch, dt)]``.

    Returns:
        ``(batch, da + dt)``.

    Example:
        >>> import numpy as np
        >>> ConcatFusion()([np.zeros((2, 3)), np.ones((2, 5))]).shape
        TensorShape([2, 8])
    """

    def call(self, codes):
        return ops.concatenate(list(codes), axis=-1)

    def compute_output_shape(self, input_shape):
        widths = [shape[-1] for shape in input_shape]
        return (input_shape[0][0], None if None in widths else sum(widths))


@keras.saving.register_keras_serializable(package="emokit")
class ModalityDropout(layers.Layer):
    """Zeroes one modality's code for a random ``rate`` of the training examples.

    ``call([code_1 (batch, d_1), code_2 (batch, d_2), ...], training) -> the same list``. In
    training, each example independently, with probability ``rate``, gets one of its codes (chosen
    uniformly) set to zero, never all of them; at inference, with one code or with ``rate=0`` the
    codes pass unchanged. A fused classifier trained this way must also classify from each
    modality alone, so a modality that fits the training set fast cannot starve the other of
    gradient (the "modality dropout" of Neverova et al., ModDrop, 2016).
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ModalityDropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, codes, training=None):
        codes = list(codes)
        if not training or self.rate == 0 or len(codes) < 2:
            return codes
        batch = ops.shape(codes[0])[:1]
        dropped = keras.random.uniform(batch, seed=self.seed_generator) < self.rate
        which = keras.random.randint(batch, 0, len(codes), seed=self.seed_generator)
        out = []
        for i, code in enumerate(codes):
            keep = ops.logical_not(ops.logical_and(dropped, ops.equal(which, i)))
            out.append(code * ops.cast(keep, code.dtype)[:, None])
        return out

    def compute_output_shape(self, input_shape):
        return [tuple(shape) for shape in input_shape]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="emokit")
class EmotionClassifier(layers.Layer):
    """Dropout + dense: the logits of each class.

    Args:
        num_classes: how many classes (4 for the IEMOCAP 4-class task).
        dropout: the dropout rate before the dense layer (in training only).

    Call arguments:
        features: ``(batch, features)``, e.g. the fused codes.
        training: True applies the dropout.

    Returns:
        ``(batch, num_classes)`` float32 logits (softmax them for probabilities).

    Example:
        >>> import numpy as np
        >>> EmotionClassifier(4)(np.zeros((2, 8), "float32")).shape
        TensorShape([2, 4])
    """

    def __init__(self, num_classes, dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout
        self.dropout = layers.Dropout(dropout, dtype=self.dtype_policy)
        # float32 whatever the policy, as Keras' mixed-precision guide has the last layer: under
        # "mixed_float16" the softmax and the loss see float32 logits.
        self.logits = layers.Dense(num_classes, dtype="float32")

    def build(self, input_shape):
        self.logits.build(input_shape)

    def call(self, features, training=None):
        return self.logits(self.dropout(features, training=training))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.num_classes)

    def compute_output_spec(self, features, training=None):
        return keras.KerasTensor(self.compute_output_shape(features.shape), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout_rate}
