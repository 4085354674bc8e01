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

Identical transcripts: two utterances of a batch with the same token sequence ("Yeah.", "Okay.",
a line of a scripted dialog) get the same text code, so audio i cannot be expected to prefer its
own text over the duplicate. Given the batch's ``tokens``, :func:`pair_mask` leaves such a pair
out when it would be a negative: it is neither a positive nor a negative (masked, not counted as a
positive), so it drops out of InfoNCE's softmax denominator, of the grid kinds' balanced weights
and of every pair accuracy.

>>> same_transcript(np.array([[5, 6, 0], [7, 0, 0], [5, 6, 0]])).numpy()
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


def same_transcript(tokens):
    """``tokens (n, words)`` int (the pipeline's padded token ids) -> ``(n, n)`` float32: 1 where
    utterances i and j have the same token sequence (the diagonal included)."""
    tokens = ops.convert_to_tensor(tokens)
    return ops.cast(ops.all(ops.equal(tokens[:, None, :], tokens[None, :, :]), axis=-1),
                    "float32")


def pair_mask(targets, tokens=None):
    """``(n, n)`` float32, 0 for the pairs left out: a would-be negative (target 0) whose two
    utterances have identical transcripts; 1 elsewhere (everywhere when ``tokens`` is None)."""
    if tokens is None:
        return ops.ones_like(targets)
    return 1.0 - (1.0 - targets) * same_transcript(tokens)


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


def contrastive_pairs(audio_codes, text_codes, labels, pairing="label", within_modality=False,
                      tokens=None):
    """The pair grids of one batch: a list of ``(left (n, d), right (n, d), targets (n, n),
    weights (n, n))``. First the cross-modal grid (audio i, text j); with ``within_modality``,
    also audio-audio and text-text grids without their diagonals (label pairing only).
    ``tokens (n, words)``: negatives between identical transcripts get weight 0 in the
    cross-modal and text-text grids (see :func:`pair_mask`)."""
    targets = pair_targets(labels, pairing)
    keep = pair_mask(targets, tokens)
    grids = [(audio_codes, text_codes, targets, balanced_weights(targets, include=keep))]
    if within_modality:
        if pairing != "label":
            raise ValueError("within-modality pairs need pairing='label' (with instance pairing "
                             "their only positives would be a code paired with itself)")
        off = off_diagonal(ops.shape(labels)[0])
        grids += [(audio_codes, audio_codes, targets, balanced_weights(targets, include=off)),
                  (text_codes, text_codes, targets, balanced_weights(targets, include=off * keep))]
    return grids
