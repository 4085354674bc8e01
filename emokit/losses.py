"""The paper's training objective: classification loss + lambda x pair-discriminator loss.

``total = cross_entropy(fused logits, labels) + lambda * weighted_bce(discriminator(pairs))``.
With ``lambda = 0`` the second term is not computed at all (that is exactly the baseline).
"""

from __future__ import annotations

from keras import ops

from emokit.pairs import contrastive_pairs


def classification_loss(labels, logits):
    """Mean sparse categorical cross-entropy: ``labels (n,) int, logits (n, classes)`` -> scalar."""
    losses = ops.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"),
                                                 from_logits=True)
    return ops.mean(losses)


def weighted_pair_bce(logits, targets, weights):
    """Weighted binary cross-entropy over a pair grid ``(n, m)``; weights sum to 1 -> scalar."""
    bce = ops.binary_crossentropy(targets, logits, from_logits=True)
    return ops.sum(weights * bce)


def weighted_pair_accuracy(logits, targets, weights):
    """Balanced accuracy of "same" = ``logit > 0`` over a pair grid (same weights as the loss)."""
    correct = ops.cast(ops.equal(ops.cast(logits > 0, "float32"), targets), "float32")
    return ops.sum(weights * correct)


def discriminator_loss(discriminator, audio_codes, text_codes, labels, pairing="label",
                       within_modality=False):
    """Loss and balanced accuracy of ``discriminator`` on the batch's pairs, averaged over the
    pair grids of ``emokit.pairs.contrastive_pairs``. Returns ``(loss, accuracy)`` scalars."""
    grids = contrastive_pairs(audio_codes, text_codes, labels, pairing, within_modality)
    losses, accuracies = [], []
    for left, right, targets, weights in grids:
        logits = discriminator(left, right)
        losses.append(weighted_pair_bce(logits, targets, weights))
        accuracies.append(weighted_pair_accuracy(logits, targets, weights))
    return ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies))
