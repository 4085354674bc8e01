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
  its own match, and the batch order is itself reshuffled every epoch). On one minibatch this is a
  biased estimate of the bound (the log of a minibatch mean is not the mean of the log; MINE's
  moving-average correction is not used) and it is unbounded: nothing stops ``T`` from growing, so
  the loss can fall without limit while the mutual information it estimates does not change.
- **shuffled_bce**: binary cross-entropy of matched (1) vs shuffled (0) pairs.
- **mlp**, **bilinear**, **cosine_grid**: a balanced binary cross-entropy over the whole
  ``n x n`` pair grid (see :mod:`emokit.model.pairs`).

The critic ``T`` of MINE and shuffled BCE (and the grid kinds' scorers) is emokit's own
(:class:`emokit.model.discriminators.PairDiscriminator`: an MLP on ``[a, t, a*t, |a-t|]``). The
published script's MINE and BCE branches call a critic, ``Mimax``, that the published code never
defines, so what the paper used there is unknown.

Identical transcripts (given the batch's ``tokens``, :func:`emokit.model.pairs.pair_mask`): a pair of
two different utterances with the same token sequence is never a negative. InfoNCE leaves it out
of the softmax denominator and of the accuracy; MINE and shuffled BCE leave out a shuffled partner
whose transcript equals the row's own (all of them kept if every partner is such a duplicate); the
grid kinds give it weight 0. Pair accuracies break ties in favour of the positive: InfoNCE counts
a hit when the best positive scores at least as high as the best negative, MINE when the matched
score is at least the shuffled one.

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
from emokit.model.pairs import contrastive_pairs, pair_mask, pair_targets, same_transcript


class PairLoss(NamedTuple):
    """Scalars of one batch: the pair loss, its accuracy and that accuracy's chance level."""

    loss: object
    accuracy: object
    chance: object


def classification_loss(labels, logits):
    """Mean sparse categorical cross-entropy over the *labelled* examples: ``labels (n,) int``
    (``-1`` = unlabelled, :data:`emokit.data.label_views.UNLABELLED`: seen by the pair loss
    only), ``logits (n, classes)`` -> scalar; 0 for a batch without labels. With every example
    labelled it is exactly the plain mean."""
    labels = ops.convert_to_tensor(labels)
    labelled = ops.cast(ops.greater_equal(labels, 0), "float32")
    losses = ops.sparse_categorical_crossentropy(ops.maximum(labels, 0),
                                                 ops.cast(logits, "float32"), from_logits=True)
    n = ops.cast(ops.shape(labels)[0], "float32")
    # mean(losses) * (n / n) is exactly mean(losses): labelled batches train as before
    return ops.mean(losses * labelled) * (n / ops.maximum(ops.sum(labelled), 1.0))


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
                  within_modality=False, tokens=None) -> PairLoss:
    """Balanced BCE and balanced accuracy (chance 0.5) averaged over the pair grids of
    ``emokit.model.pairs.contrastive_pairs``."""
    grids = contrastive_pairs(audio_codes, text_codes, labels, pairing, within_modality, tokens)
    losses, accuracies = [], []
    for left, right, targets, weights in grids:
        logits = discriminator(left, right)
        losses.append(weighted_pair_bce(logits, targets, weights))
        accuracies.append(weighted_pair_accuracy(logits, targets, weights))
    return PairLoss(ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies)),
                    ops.convert_to_tensor(0.5))


# --- infonce: pick the positive among the batch ----------------------------------------------------

_LEFT_OUT = -1e9  # the score of a left-out pair: exp() of it is 0 in float32


def infonce_from_scores(scores, targets, symmetric=False, include=None) -> PairLoss:
    """InfoNCE on a score grid ``(n, n)`` (row i: audio i against every text code) with 0/1
    ``targets (n, n)`` marking the positives; ``include (n, n)`` 0/1 leaves pairs out of the
    softmax and the accuracy (None: none left out). Accuracy: how often a row's best positive
    scores at least as high as its best negative (top-1 retrieval, ties counted as hits); chance:
    the mean share of positives among a row's included columns."""
    include = ops.ones_like(targets) if include is None else ops.cast(include, "float32")
    directions = [(scores, targets, include)]
    if symmetric:
        directions.append((ops.transpose(scores), ops.transpose(targets),
                           ops.transpose(include)))
    losses, accuracies, chances = [], [], []
    for s, t, keep in directions:
        s = ops.where(keep > 0, s, _LEFT_OUT)
        log_probs = ops.log_softmax(s, axis=-1)
        positives = ops.sum(t, axis=-1)
        losses.append(ops.mean(-ops.sum(t * log_probs, axis=-1) / ops.maximum(positives, 1.0)))
        best_positive = ops.max(ops.where(t > 0, s, _LEFT_OUT), axis=-1)
        best_negative = ops.max(ops.where((1.0 - t) * keep > 0, s, _LEFT_OUT), axis=-1)
        accuracies.append(ops.mean(ops.cast(best_positive >= best_negative, "float32")))
        chances.append(ops.mean(positives / ops.maximum(ops.sum(keep, axis=-1), 1.0)))
    return PairLoss(ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies)),
                    ops.mean(ops.stack(chances)))


def infonce_loss(discriminator, audio_codes, text_codes, labels, pairing="instance",
                 symmetric=False, tokens=None) -> PairLoss:
    """The paper code's InfoNCE: scores ``(n, n)`` from the discriminator, positives by
    ``pairing`` (see :func:`emokit.model.pairs.pair_targets`), identical transcripts left out of the
    negatives when ``tokens (n, words)`` is given."""
    targets = pair_targets(labels, pairing)
    return infonce_from_scores(discriminator(audio_codes, text_codes), targets, symmetric,
                               pair_mask(targets, tokens))


# --- matched vs shuffled pairs: MINE and BCE -------------------------------------------------------

def matched_and_shuffled(scores):
    """``scores (n, n)`` -> ``(matched (n,), shuffled (n,))``: ``T(a_i, t_i)`` and
    ``T(a_i, t_{i+1 mod n})``, the text codes rolled by one place (no code meets its match)."""
    matched = ops.diagonal(scores)
    shuffled = ops.diagonal(ops.roll(scores, -1, axis=1))
    return matched, shuffled


def shuffled_keep(n, tokens=None):
    """``(n,)`` float32, 0 where the shuffled partner ``t_{i+1}`` has the same transcript as
    utterance i (a duplicate, not a negative); all ones when ``tokens`` is None or when every
    partner is a duplicate."""
    if tokens is None:
        return ops.ones((n,), "float32")
    keep = 1.0 - ops.diagonal(ops.roll(same_transcript(tokens), -1, axis=1))
    return ops.where(ops.sum(keep) > 0, keep, ops.ones_like(keep))


def _masked_mean(values, keep):
    return ops.sum(keep * values) / ops.maximum(ops.sum(keep), 1.0)


def mine_from_scores(scores, keep=None) -> PairLoss:
    """Minus the Donsker-Varadhan bound on matched vs shuffled scores: a biased, unbounded
    minibatch estimate (see the module docstring). ``keep (n,)`` 0/1: which shuffled pairs count
    (:func:`shuffled_keep`; None = all). Accuracy: how often a matched pair scores at least as
    high as its shuffled one (chance 0.5)."""
    matched, shuffled = matched_and_shuffled(scores)
    keep = ops.ones_like(shuffled) if keep is None else ops.cast(keep, "float32")
    log_mean_exp = (ops.logsumexp(ops.where(keep > 0, shuffled, _LEFT_OUT))
                    - ops.log(ops.sum(keep)))
    bound = ops.mean(matched) - log_mean_exp
    accuracy = _masked_mean(ops.cast(matched >= shuffled, "float32"), keep)
    return PairLoss(-bound, accuracy, ops.convert_to_tensor(0.5))


def shuffled_bce_from_scores(scores, keep=None) -> PairLoss:
    """``-(mean log D(matched) + mean log(1 - D(shuffled)))`` with ``D = sigmoid(score)``, the
    second mean over the kept shuffled pairs (``keep (n,)``, None = all); balanced accuracy of
    ``score > 0`` (chance 0.5)."""
    matched, shuffled = matched_and_shuffled(scores)
    keep = ops.ones_like(shuffled) if keep is None else ops.cast(keep, "float32")
    loss = (ops.mean(ops.binary_crossentropy(ops.ones_like(matched), matched, from_logits=True))
            + _masked_mean(ops.binary_crossentropy(ops.zeros_like(shuffled), shuffled,
                                                   from_logits=True), keep))
    accuracy = 0.5 * (ops.mean(ops.cast(matched > 0, "float32"))
                      + _masked_mean(ops.cast(shuffled <= 0, "float32"), keep))
    return PairLoss(loss, accuracy, ops.convert_to_tensor(0.5))


# --- one entry point ---------------------------------------------------------------------------------

def pair_loss(discriminator, audio_codes, text_codes, labels, pairing="label", symmetric=False,
              within_modality=False, tokens=None) -> PairLoss:
    """The pair loss of ``discriminator.kind`` on one batch of codes ``(n, d)`` each.
    ``tokens (n, words)``: the batch's token ids, so that identical transcripts are never
    negatives of each other (None: every non-matching pair is a negative)."""
    kind = discriminator.kind
    if kind in GRID_DISCRIMINATORS:
        return grid_bce_loss(discriminator, audio_codes, text_codes, labels, pairing,
                             within_modality, tokens)
    if kind == "infonce":
        return infonce_loss(discriminator, audio_codes, text_codes, labels, pairing, symmetric,
                            tokens)
    scores = discriminator(audio_codes, text_codes)
    keep = shuffled_keep(ops.shape(scores)[0], tokens)
    return (mine_from_scores(scores, keep) if kind == "mine"
            else shuffled_bce_from_scores(scores, keep))
