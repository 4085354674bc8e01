"""Which pairs of latent codes the discriminator sees, and what it should say about them.

A batch of ``n`` utterances gives ``n`` audio codes and ``n`` text codes, so ``n x n`` cross-modal
pairs (audio i, text j). Each pair gets a target (1 = "same", 0 = "different"):

- ``pairing="label"``: same emotion label (the paper's idea: same- vs different-emotion pairs);
- ``pairing="instance"``: same utterance, i == j (what the paper's published code does).

>>> import numpy as np
>>> pair_targets(np.array([0, 1, 0]), "label").numpy()
array([[1., 0., 1.],
       [0., 1., 0.],
       [1., 0., 1.]], dtype=float32)

Positives are rare (``n`` of ``n^2`` for instance pairing), so ``balanced_weights`` weights the
pairs so that positives and negatives each count for half of the loss. Optionally, within-modality
pairs (audio i, audio j) and (text i, text j), i != j, are added with label pairing.
"""

from __future__ import annotations

from keras import ops

from emokit.config import PAIRINGS


def pair_targets(labels, pairing="label"):
    """``labels (n,) int -> (n, n)`` float32 targets: 1 where pair (i, j) counts as "same"."""
    if pairing == "label":
        return ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32")
    if pairing == "instance":
        return ops.eye(ops.shape(labels)[0], dtype="float32")
    raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")


def balanced_weights(targets, include=None):
    """Pair weights ``(n, m)`` summing to 1, positives and negatives each half of the total.

    ``include`` (same shape, 0/1) leaves pairs out (e.g. the diagonal of a within-modality grid).
    If a batch has no positive (or no negative) pair, the other kind gets all the weight.
    """
    include = ops.ones_like(targets) if include is None else ops.cast(include, "float32")
    positives = targets * include
    negatives = (1.0 - targets) * include
    weights = (positives / ops.maximum(ops.sum(positives), 1.0)
               + negatives / ops.maximum(ops.sum(negatives), 1.0))
    return weights / ops.maximum(ops.sum(weights), 1e-12)


def off_diagonal(n):
    """``(n, n)`` float32 mask that is 0 on the diagonal (a code paired with itself) and 1 elsewhere."""
    return 1.0 - ops.eye(n, dtype="float32")


def contrastive_pairs(audio_codes, text_codes, labels, pairing="label", within_modality=False):
    """The pair grids of one batch: a list of ``(left (n, d), right (n, d), targets (n, n),
    weights (n, n))``. First the cross-modal grid (audio i, text j); with ``within_modality``,
    also audio-audio and text-text grids without their diagonals (label pairing only)."""
    targets = pair_targets(labels, pairing)
    grids = [(audio_codes, text_codes, targets, balanced_weights(targets))]
    if within_modality:
        if pairing != "label":
            raise ValueError("within-modality pairs need pairing='label' (with instance pairing "
                             "their only positives would be a code paired with itself)")
        keep = off_diagonal(ops.shape(labels)[0])
        weights = balanced_weights(targets, include=keep)
        grids += [(audio_codes, audio_codes, targets, weights),
                  (text_codes, text_codes, targets, weights)]
    return grids
