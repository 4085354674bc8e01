"""The training objective: classification loss plus a pair loss that aligns the two codes.

``objective="sum"``: ``CE + w L``; ``objective="convex"`` (the paper's): ``(1 - w) CE + w L``.
With ``w = 0`` the pair term is not computed at all (that is exactly the baseline).

The pair loss ``L`` depends on the discriminator's kind (``emokit.config.DISCRIMINATORS``):

- **infonce** (the paper code's default branch): every audio code of the batch must pick out its
  positive text code(s) among all the batch's text codes. With scores ``s (n, n)`` and positives
  ``P(i)`` (instance pairing: the same utterance; label pairing: every same-emotion utterance),
  ``L = mean_i  -1/|P(i)| sum_{j in P(i)} log softmax(s_i)_j``: cross-entropy with the matching
  index as target. ``symmetric`` adds the text -> audio direction (softmax over columns).
- **mine**: minus the Donsker-Varadhan bound ``mean T(a_i, t_i) - log mean exp T(a_i, t_i')``,
  where ``t_i'`` is a *shuffled* partner (the batch's text codes rolled by one place: no code meets
  its own match, and the batch order is itself reshuffled every epoch).
- **shuffled_bce**: binary cross-entropy of matched (1) vs shuffled (0) pairs.
- **mlp**, **bilinear**, **cosine_grid**: a balanced binary cross-entropy over the whole
  ``n x n`` pair grid (see :mod:`emokit.pairs`).

The published script ends every branch with ``loss2 = -ret``: right for MINE and BCE (bounds to
maximize), but for its InfoNCE cross-entropy that sign would *maximize* the loss. emokit minimizes
the cross-entropy, which is what InfoNCE means.

Every kind also reports ``accuracy`` (how often it tells positives from negatives) and the
``chance`` level of that accuracy on this batch, so "the regularizer left chance" is one look.
"""

from __future__ import annotations

from typing import NamedTuple

from keras import ops

from emokit.config import GRID_DISCRIMINATORS
from emokit.pairs import contrastive_pairs, pair_targets


class PairLoss(NamedTuple):
    """Scalars of one batch: the pair loss, its accuracy and that accuracy's chance level."""

    loss: object
    accuracy: object
    chance: object


def classification_loss(labels, logits):
    """Mean sparse categorical cross-entropy: ``labels (n,) int, logits (n, classes)`` -> scalar."""
    losses = ops.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"),
                                                 from_logits=True)
    return ops.mean(losses)


def combine_losses(ce, pair, weight: float, objective: str = "sum"):
    """``CE + w L`` (``"sum"``) or ``(1 - w) CE + w L`` (``"convex"``, the paper's alpha)."""
    if objective == "convex":
        return (1.0 - weight) * ce + weight * pair
    return ce + weight * pair


# --- the grid kinds: balanced BCE over all n x n pairs --------------------------------------------

def weighted_pair_bce(logits, targets, weights):
    """Weighted binary cross-entropy over a pair grid ``(n, m)``; weights sum to 1 -> scalar."""
    bce = ops.binary_crossentropy(targets, logits, from_logits=True)
    return ops.sum(weights * bce)


def weighted_pair_accuracy(logits, targets, weights):
    """Balanced accuracy of "same" = ``logit > 0`` over a pair grid (same weights as the loss)."""
    correct = ops.cast(ops.equal(ops.cast(logits > 0, "float32"), targets), "float32")
    return ops.sum(weights * correct)


def grid_bce_loss(discriminator, audio_codes, text_codes, labels, pairing="label",
                  within_modality=False) -> PairLoss:
    """Balanced BCE and balanced accuracy (chance 0.5) averaged over the pair grids of
    ``emokit.pairs.contrastive_pairs``."""
    grids = contrastive_pairs(audio_codes, text_codes, labels, pairing, within_modality)
    losses, accuracies = [], []
    for left, right, targets, weights in grids:
        logits = discriminator(left, right)
        losses.append(weighted_pair_bce(logits, targets, weights))
        accuracies.append(weighted_pair_accuracy(logits, targets, weights))
    return PairLoss(ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies)),
                    ops.convert_to_tensor(0.5))


# --- infonce: pick the positive among the batch ----------------------------------------------------

def infonce_from_scores(scores, targets, symmetric=False) -> PairLoss:
    """InfoNCE on a score grid ``(n, n)`` (row i: audio i against every text code) with 0/1
    ``targets (n, n)`` marking the positives. Accuracy: how often a row's best-scoring column is
    a positive (top-1 retrieval); chance: the mean share of positives per row."""
    directions = [(scores, targets)]
    if symmetric:
        directions.append((ops.transpose(scores), ops.transpose(targets)))
    losses, accuracies, chances = [], [], []
    for s, t in directions:
        log_probs = ops.log_softmax(s, axis=-1)
        positives = ops.sum(t, axis=-1)
        losses.append(ops.mean(-ops.sum(t * log_probs, axis=-1) / ops.maximum(positives, 1.0)))
        best = ops.argmax(s, axis=-1)
        accuracies.append(ops.mean(ops.take_along_axis(t, best[:, None], axis=-1)))
        chances.append(ops.mean(positives) / ops.cast(ops.shape(t)[-1], "float32"))
    return PairLoss(ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies)),
                    ops.mean(ops.stack(chances)))


def infonce_loss(discriminator, audio_codes, text_codes, labels, pairing="instance",
                 symmetric=False) -> PairLoss:
    """The paper code's InfoNCE: scores ``(n, n)`` from the discriminator, positives by
    ``pairing`` (see :func:`emokit.pairs.pair_targets`)."""
    return infonce_from_scores(discriminator(audio_codes, text_codes),
                               pair_targets(labels, pairing), symmetric)


# --- matched vs shuffled pairs: MINE and BCE -------------------------------------------------------

def matched_and_shuffled(scores):
    """``scores (n, n)`` -> ``(matched (n,), shuffled (n,))``: ``T(a_i, t_i)`` and
    ``T(a_i, t_{i+1 mod n})``, the text codes rolled by one place (no code meets its match)."""
    matched = ops.diagonal(scores)
    shuffled = ops.diagonal(ops.roll(scores, -1, axis=1))
    return matched, shuffled


def mine_from_scores(scores) -> PairLoss:
    """Minus the Donsker-Varadhan bound on matched vs shuffled scores; accuracy: how often a
    matched pair outscores its shuffled one (chance 0.5)."""
    matched, shuffled = matched_and_shuffled(scores)
    n = ops.cast(ops.shape(shuffled)[0], "float32")
    bound = ops.mean(matched) - (ops.logsumexp(shuffled) - ops.log(n))
    accuracy = ops.mean(ops.cast(matched > shuffled, "float32"))
    return PairLoss(-bound, accuracy, ops.convert_to_tensor(0.5))


def shuffled_bce_from_scores(scores) -> PairLoss:
    """``-(mean log D(matched) + mean log(1 - D(shuffled)))`` with ``D = sigmoid(score)``;
    balanced accuracy of ``score > 0`` (chance 0.5)."""
    matched, shuffled = matched_and_shuffled(scores)
    loss = (ops.mean(ops.binary_crossentropy(ops.ones_like(matched), matched, from_logits=True))
            + ops.mean(ops.binary_crossentropy(ops.zeros_like(shuffled), shuffled,
                                               from_logits=True)))
    accuracy = 0.5 * (ops.mean(ops.cast(matched > 0, "float32"))
                      + ops.mean(ops.cast(shuffled <= 0, "float32")))
    return PairLoss(loss, accuracy, ops.convert_to_tensor(0.5))


# --- one entry point ---------------------------------------------------------------------------------

def pair_loss(discriminator, audio_codes, text_codes, labels, pairing="label", symmetric=False,
              within_modality=False) -> PairLoss:
    """The pair loss of ``discriminator.kind`` on one batch of codes ``(n, d)`` each."""
    kind = discriminator.kind
    if kind in GRID_DISCRIMINATORS:
        return grid_bce_loss(discriminator, audio_codes, text_codes, labels, pairing,
                             within_modality)
    if kind == "infonce":
        return infonce_loss(discriminator, audio_codes, text_codes, labels, pairing, symmetric)
    scores = discriminator(audio_codes, text_codes)
    return mine_from_scores(scores) if kind == "mine" else shuffled_bce_from_scores(scores)
