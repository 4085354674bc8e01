"""The pair discriminators: how much each (audio code, text code) pair of a batch belongs together.

``PairDiscriminator`` scores every pair of two batches of codes at once,
``(batch_a, d), (batch_b, d) -> (batch_a, batch_b)`` float32 logits, by one of the scorers of
``emokit.config.DISCRIMINATORS``; :mod:`emokit.model.losses` turns the scores into the pair loss of
its kind. Like the layers of :mod:`emokit.model.layers`, it is a registered Keras serializable
(``emokit>PairDiscriminator``), so ``.keras`` files that hold one load without ``custom_objects``.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from emokit.config import DISCRIMINATORS, RENAMED_DISCRIMINATORS

COSINE_GRID_TEMPERATURE = 0.1


def _l2_normalize(x):
    """Rows of ``x (n, d)`` scaled to unit length (zero rows stay zero)."""
    return x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-6)


@keras.saving.register_keras_serializable(package="emokit")
class PairDiscriminator(layers.Layer):
    """Scores every pair (left_i, right_j) of two batches of codes: how much they belong together.

    ``call(left (batch_a, d), right (batch_b, d)) -> (batch_a, batch_b)`` float32 scores, computed
    for the whole grid at once by broadcasting. ``kind`` (see ``emokit.config.DISCRIMINATORS``)
    chooses the scorer; ``emokit.model.losses.pair_loss`` the loss on its scores:

    - ``"infonce"`` (the paper code's): ``cos(MLP(l), r) / temperature``, the MLP being
      ``Dense(units, relu) -> Dense(d)``; ``temperature=None`` = raw cosine, as in the code.
    - ``"mlp"``, ``"mine"``, ``"shuffled_bce"``: ``[l, r, l*r, |l-r|] -> Dense(units, relu) ->
      Dense(1)``. The ``l`` and ``r`` parts of the first layer are applied once per code (not once
      per pair) and broadcast.
    - ``"bilinear"``: ``l^T W r + b`` (a CPC-style score).
    - ``"cosine_grid"``: ``cos(W l, r) / 0.1 + b`` with ``W`` starting as the identity.

    ``seed`` fixes its own initializers, so adding a discriminator never changes how the rest of
    a model is initialised.

    Args:
        kind: the scorer and loss family, one of ``emokit.config.DISCRIMINATORS``.
        units: hidden units of the MLP kinds.
        temperature: divides the infonce cosine; None = raw cosine.
        seed: seed of its own initializers.

    Call arguments:
        left: ``(batch_a, d)`` codes (the audio codes in emokit's model).
        right: ``(batch_b, d)`` codes (the text codes).

    Returns:
        ``(batch_a, batch_b)`` float32 scores, one per pair.

    Example:
        >>> import numpy as np
        >>> scores = PairDiscriminator("infonce", units=16)(np.ones((3, 8)), np.ones((5, 8)))
        >>> scores.shape
        TensorShape([3, 5])

    Training it inside ``model.fit``: the pair loss needs the labels and both codes, which a
    layer's ``call`` does not see, so it belongs in the model's loss.
    ``emokit.model.emotion_model.EmotionModel`` (``build_model(config, ...)`` with
    ``contrastive_weight > 0``) is that ``keras.Model``: its ``train_step`` adds
    ``contrastive_weight x pair_loss(discriminator, audio, text, labels)`` to the cross-entropy, so
    ``model.compile(optimizer=...)`` then ``model.fit(data.train)`` trains encoders, classifier and
    discriminator together. For your own fusion, subclass it and override ``classify`` (notebook
    07) rather than writing a functional model.
    """

    def __init__(self, kind="infonce", units=128, temperature=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        if kind in RENAMED_DISCRIMINATORS:
            raise ValueError(RENAMED_DISCRIMINATORS[kind])
        if kind not in DISCRIMINATORS:
            raise ValueError(f"discriminator kind must be one of {DISCRIMINATORS}, got {kind!r}")
        if temperature is not None and temperature <= 0:
            raise ValueError(f"temperature must be > 0 or None (raw cosine), got {temperature}")
        self.kind = kind
        self.units = units
        self.temperature = temperature
        self.seed = seed

    @property
    def scorer(self) -> str:
        """``"projected_cosine"``, ``"pair_mlp"``, ``"bilinear"`` or ``"cosine"``."""
        return {"infonce": "projected_cosine", "bilinear": "bilinear",
                "cosine_grid": "cosine"}.get(self.kind, "pair_mlp")

    def build(self, left_shape, right_shape=None):
        dim = left_shape[-1]
        init = keras.initializers.GlorotUniform(seed=self.seed)
        if self.scorer == "projected_cosine":
            self.w1 = self.add_weight(shape=(dim, self.units), initializer=init, name="w1")
            self.b1 = self.add_weight(shape=(self.units,), initializer="zeros", name="b1")
            self.w2 = self.add_weight(
                shape=(self.units, dim), name="w2",
                initializer=keras.initializers.GlorotUniform(seed=self.seed + 1))
            self.b2 = self.add_weight(shape=(dim,), initializer="zeros", name="b2")
            return
        if self.scorer == "bilinear":
            self.w = self.add_weight(shape=(dim, dim), initializer=init, name="w")
        elif self.scorer == "cosine":
            self.w = self.add_weight(shape=(dim, dim), initializer="identity", name="w")
        else:
            # rows: [left, right, left*right, |left-right|] blocks of the first dense layer
            self.w = self.add_weight(shape=(4 * dim, self.units), initializer=init, name="w")
            self.b1 = self.add_weight(shape=(self.units,), initializer="zeros", name="b1")
            self.w_out = self.add_weight(
                shape=(self.units, 1), name="w_out",
                initializer=keras.initializers.GlorotUniform(seed=self.seed + 1))
        self.b = self.add_weight(shape=(), initializer="zeros", name="b")

    def project(self, left):
        """``left (n, d)`` as the scorer compares it with ``right`` by cosine: the infonce MLP
        or ``W l`` (cosine_grid); other kinds compare no shared space and return it unchanged."""
        if self.scorer == "projected_cosine":
            return ops.matmul(ops.relu(ops.matmul(left, self.w1) + self.b1), self.w2) + self.b2
        if self.scorer == "cosine":
            return ops.matmul(left, self.w)
        return left

    def call(self, left, right):
        if self.scorer == "projected_cosine":
            projected = _l2_normalize(ops.cast(self.project(left), "float32"))
            cosine = ops.matmul(projected, ops.transpose(_l2_normalize(ops.cast(right, "float32"))))
            return cosine if self.temperature is None else cosine / self.temperature
        if self.scorer == "bilinear":
            logits = ops.matmul(ops.matmul(left, self.w), ops.transpose(right)) + self.b
            return ops.cast(logits, "float32")
        if self.scorer == "cosine":
            projected = _l2_normalize(ops.cast(self.project(left), "float32"))
            cosine = ops.matmul(projected, ops.transpose(_l2_normalize(ops.cast(right, "float32"))))
            return cosine / COSINE_GRID_TEMPERATURE + ops.cast(self.b, "float32")
        w_l, w_r, w_prod, w_diff = ops.split(self.w, 4, axis=0)
        l, r = left[:, None, :], right[None, :, :]  # (a, 1, d), (1, b, d)
        hidden = (ops.matmul(left, w_l)[:, None, :] + ops.matmul(right, w_r)[None, :, :]
                  + ops.matmul(l * r, w_prod) + ops.matmul(ops.abs(l - r), w_diff) + self.b1)
        logits = ops.squeeze(ops.matmul(ops.relu(hidden), self.w_out), -1) + self.b
        return ops.cast(logits, "float32")

    def compute_output_shape(self, left_shape, right_shape=None):
        right_shape = left_shape if right_shape is None else right_shape
        return (left_shape[0], right_shape[0])

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units,
                "temperature": self.temperature, "seed": self.seed}
