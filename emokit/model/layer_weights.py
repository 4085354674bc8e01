"""A learned softmax-weighted sum of a frozen encoder's layers (SUPERB-style layer weighting).

A pretrained encoder's layers hold different things (the lower ones more acoustic, the upper
ones more linguistic); which mix suits emotion is learned, not picked: with ``features.hub_layers:
"weighted"`` the cache holds every layer's codes side by side in each frame, and this layer turns
them into one ``hidden``-wide frame with weights ``softmax(w)`` trained with the rest.

>>> import numpy as np
>>> mix = LayerWeightedSum(3)
>>> mix(np.ones((2, 5, 3 * 4), "float32")).shape      # (batch, frames, layers * hidden)
TensorShape([2, 5, 4])
>>> [round(float(w), 3) for w in mix.layer_weights()]  # uniform at the start
[0.333, 0.333, 0.333]
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="emokit")
class LayerWeightedSum(layers.Layer):
    """``sum_k softmax(w)_k * layer_k`` over ``num_layers`` layers stacked in each frame.

    Args:
        num_layers: how many layers each frame holds side by side (an encoder's layers + 1:
            its embeddings come first), ``L``.

    Call arguments:
        features: ``(batch, frames, L * hidden)`` float, layer ``k`` in dims ``k * hidden`` to
            ``(k + 1) * hidden`` (what ``emokit.data.hub_encoders.AudioCodes(all_layers=True)``
            caches).

    Returns:
        ``(batch, frames, hidden)``: the weighted sum. The ``L`` logits ``w`` start at 0 (equal
        weights); :meth:`layer_weights` gives ``softmax(w)``.

    Works inside any ``keras.Model`` (it is registered and has a ``get_config``): saving and
    loading keeps the learned weights.
    """

    def __init__(self, num_layers: int, **kwargs):
        super().__init__(**kwargs)
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.num_layers = int(num_layers)

    def build(self, input_shape):
        width = input_shape[-1]
        if width is not None and width % self.num_layers:
            raise ValueError(f"LayerWeightedSum({self.num_layers}): the frames are {width} wide, "
                             f"not a multiple of {self.num_layers} layers")
        self.logits = self.add_weight(shape=(self.num_layers,), initializer="zeros",
                                      name="layer_logits")

    def call(self, features):
        shape = ops.shape(features)
        hidden = features.shape[-1] // self.num_layers
        stacked = ops.reshape(features, (shape[0], shape[1], self.num_layers, hidden))
        weights = ops.cast(ops.softmax(self.logits), stacked.dtype)
        return ops.einsum("bflh,l->bfh", stacked, weights)

    def layer_weights(self):
        """``softmax(w)``, ``(L,)``: each layer's share of the sum."""
        return ops.convert_to_numpy(ops.softmax(self.logits))

    def compute_output_shape(self, input_shape):
        width = input_shape[-1]
        return (*input_shape[:-1], None if width is None else width // self.num_layers)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers}
