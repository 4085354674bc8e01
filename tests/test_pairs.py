"""emokit.model.pairs and emokit.model.losses: pair targets, balanced weights and the pair loss."""

import numpy as np
import pytest

from emokit.model.discriminators import PairDiscriminator
from emokit.model.losses import (
    classification_loss,
    pair_loss,
    weighted_pair_accuracy,
    weighted_pair_bce,
)
from emokit.model.pairs import balanced_weights, contrastive_pairs, off_diagonal, pair_targets

LABELS = np.array([0, 1, 0, 2], "int32")


def test_label_pairing_marks_same_emotion_pairs():
    targets = np.asarray(pair_targets(LABELS, "label"))
    expected = (LABELS[:, None] == LABELS[None, :]).astype("float32")
    np.testing.assert_array_equal(targets, expected)
    assert targets[0, 2] == 1 and targets[0, 1] == 0


def test_instance_pairing_marks_only_the_same_utterance():
    np.testing.assert_array_equal(np.asarray(pair_targets(LABELS, "instance")), np.eye(4))


def test_unknown_pairing_is_refused():
    with pytest.raises(ValueError, match="pairing"):
        pair_targets(LABELS, "speaker")


def test_balanced_weights_give_positives_and_negatives_half_each():
    targets = np.asarray(pair_targets(LABELS, "label"))
    weights = np.asarray(balanced_weights(targets))
    assert weights[targets == 1].sum() == pytest.approx(0.5)
    assert weights[targets == 0].sum() == pytest.approx(0.5)
    # every positive weighs the same; 6 positives, 10 negatives here
    np.testing.assert_allclose(weights[targets == 1], 0.5 / 6)
    np.testing.assert_allclose(weights[targets == 0], 0.5 / 10)


def test_balanced_weights_with_one_kind_only_and_excluded_pairs():
    all_same = np.ones((3, 3), "float32")
    np.testing.assert_allclose(np.asarray(balanced_weights(all_same)), np.full((3, 3), 1 / 9))
    keep = np.asarray(off_diagonal(3))
    weights = np.asarray(balanced_weights(all_same, include=keep))
    np.testing.assert_array_equal(np.diag(weights), 0.0)
    assert weights.sum() == pytest.approx(1.0)


def test_within_modality_grids_skip_self_pairs_and_need_label_pairing():
    codes = np.zeros((4, 3), "float32")
    grids = contrastive_pairs(codes, codes + 1, LABELS, "label", within_modality=True)
    assert len(grids) == 3
    for _, _, _, weights in grids[1:]:
        np.testing.assert_array_equal(np.diag(np.asarray(weights)), 0.0)
    with pytest.raises(ValueError, match="pairing='label'"):
        contrastive_pairs(codes, codes, LABELS, "instance", within_modality=True)


def test_weighted_pair_bce_and_accuracy_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 4)).astype("float32")
    targets = np.asarray(pair_targets(LABELS, "label"))
    weights = np.asarray(balanced_weights(targets))
    p = 1 / (1 + np.exp(-logits))
    expected = -(weights * (targets * np.log(p) + (1 - targets) * np.log(1 - p))).sum()
    assert float(weighted_pair_bce(logits, targets, weights)) == pytest.approx(expected, rel=1e-4)
    correct = ((logits > 0) == (targets == 1)).astype("float32")
    assert float(weighted_pair_accuracy(logits, targets, weights)) == pytest.approx(
        (weights * correct).sum(), rel=1e-5)


def test_discriminator_loss_is_low_when_codes_separate_the_emotions():
    disc = PairDiscriminator("bilinear", seed=0)
    disc(np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"))
    disc.w.assign(np.eye(4, dtype="float32") * 10)
    disc.b.assign(-5.0)
    codes = np.eye(4, dtype="float32")[LABELS]  # one-hot code of the emotion
    loss, accuracy, chance = pair_loss(disc, codes, codes, LABELS, "label")
    assert float(accuracy) == pytest.approx(1.0) and float(chance) == 0.5
    assert float(loss) < 0.01
    shuffled = codes[[1, 0, 3, 2]]  # text codes of other emotions: the discriminator fails
    loss_bad, _, _ = pair_loss(disc, codes, shuffled, LABELS, "label")
    assert float(loss_bad) > 1.0


def test_classification_loss_is_mean_cross_entropy():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]], "float32"))
    expected = -(np.log(0.5) + np.log(0.8)) / 2
    assert float(classification_loss(np.array([0, 1]), logits)) == pytest.approx(expected, rel=1e-5)
