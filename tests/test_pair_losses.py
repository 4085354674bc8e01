"""The pair losses on hand-made batches (InfoNCE, MINE, shuffled BCE), the paper's objective, and
what the training loop records and scales about them."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_dataset, fake_examples

from emokit.config import ModelConfig, TrainConfig
from emokit.layers import PairDiscriminator
from emokit.losses import (
    combine_losses,
    infonce_from_scores,
    mine_from_scores,
    pair_loss,
    shuffled_bce_from_scores,
)
from emokit.model import build_model
from emokit.pairs import pair_targets
from emokit.training import Trainer, fit

SCORES = np.array([[0.9, 0.1, 0.4],
                   [0.2, 0.5, -0.3],
                   [0.7, 0.0, 0.6]], "float32")  # row i: audio i against text j
LABELS = np.array([0, 1, 0])


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _softmax(x, axis):
    return np.exp(_log_softmax(x, axis))


def _infonce_and_gradient(scores, targets, symmetric=False):
    scores = tf.constant(scores)
    with tf.GradientTape() as tape:
        tape.watch(scores)
        result = infonce_from_scores(scores, tf.constant(targets), symmetric)
    return result, tape.gradient(result.loss, scores).numpy()


def test_infonce_with_instance_pairing_is_cross_entropy_on_the_matching_index():
    targets = np.eye(3, dtype="float32")
    result, gradient = _infonce_and_gradient(SCORES, targets)
    log_p = _log_softmax(SCORES.astype("float64"), axis=1)
    assert float(result.loss) == pytest.approx(-np.mean(np.diag(log_p)), rel=1e-5)
    # d/ds of mean_i CE_i = (softmax(s) - onehot) / n: the positive pushed up, negatives down
    np.testing.assert_allclose(gradient, (_softmax(SCORES, 1) - targets) / 3, atol=1e-6)
    assert np.all(np.diag(gradient) < 0) and np.all(gradient[~np.eye(3, dtype=bool)] > 0)
    # rows 0 and 1 pick their own text code, row 2 picks text 0: 2 of 3; chance 1/3
    assert float(result.accuracy) == pytest.approx(2 / 3)
    assert float(result.chance) == pytest.approx(1 / 3)


def test_infonce_with_label_pairing_averages_over_every_same_emotion_positive():
    targets = pair_targets(LABELS, "label").numpy()
    result, gradient = _infonce_and_gradient(SCORES, targets)
    log_p = _log_softmax(SCORES.astype("float64"), axis=1)
    per_row = [-(log_p[0, 0] + log_p[0, 2]) / 2, -log_p[1, 1], -(log_p[2, 0] + log_p[2, 2]) / 2]
    assert float(result.loss) == pytest.approx(np.mean(per_row), rel=1e-5)
    shares = targets / targets.sum(1, keepdims=True)
    np.testing.assert_allclose(gradient, (_softmax(SCORES, 1) - shares) / 3, atol=1e-6)
    assert float(result.accuracy) == pytest.approx(1.0)  # every best column is a same-emotion one
    assert float(result.chance) == pytest.approx((2 / 3 + 1 / 3 + 2 / 3) / 3)


def test_symmetric_infonce_adds_the_text_to_audio_direction():
    targets = np.eye(3, dtype="float32")
    one_way, _ = _infonce_and_gradient(SCORES, targets)
    both, _ = _infonce_and_gradient(SCORES, targets, symmetric=True)
    columns = -np.mean(np.diag(_log_softmax(SCORES.astype("float64"), axis=0)))
    assert float(both.loss) == pytest.approx((float(one_way.loss) + columns) / 2, rel=1e-5)


def test_minimizing_infonce_makes_each_audio_code_pick_its_own_text_code():
    """The published script negates every branch (``loss2 = -ret``); for InfoNCE that would
    maximize the cross-entropy. Minimizing it, as emokit does, aligns the pairs."""
    scores = tf.Variable(SCORES)
    targets = tf.eye(3)
    before = float(infonce_from_scores(tf.convert_to_tensor(scores), targets).loss)
    for _ in range(200):
        with tf.GradientTape() as tape:
            loss = infonce_from_scores(tf.convert_to_tensor(scores), targets).loss
        scores.assign_sub(1.0 * tape.gradient(loss, scores))
    after = infonce_from_scores(tf.convert_to_tensor(scores), targets)
    assert float(after.loss) < before and float(after.accuracy) == 1.0


def test_mine_is_minus_the_donsker_varadhan_bound_on_rolled_partners():
    result = mine_from_scores(tf.constant(SCORES))
    matched = np.diag(SCORES)
    shuffled = SCORES[np.arange(3), (np.arange(3) + 1) % 3]  # text i+1: never its own
    bound = matched.mean() - np.log(np.mean(np.exp(shuffled)))
    assert float(result.loss) == pytest.approx(-bound, rel=1e-5)
    assert float(result.accuracy) == pytest.approx(np.mean(matched > shuffled))


def test_shuffled_bce_scores_matched_as_one_and_shuffled_as_zero():
    result = shuffled_bce_from_scores(tf.constant(SCORES))
    matched = np.diag(SCORES)
    shuffled = SCORES[np.arange(3), (np.arange(3) + 1) % 3]
    sigmoid = 1 / (1 + np.exp(-np.r_[matched, shuffled]))
    expected = -np.mean(np.log(sigmoid[:3])) - np.mean(np.log(1 - sigmoid[3:]))
    assert float(result.loss) == pytest.approx(expected, rel=1e-5)
    assert float(result.accuracy) == pytest.approx(0.5 * (np.mean(matched > 0)
                                                          + np.mean(shuffled <= 0)))


@pytest.mark.parametrize("kind", ["infonce", "mine", "shuffled_bce"])
def test_paper_kinds_send_gradients_to_both_codes(kind):
    rng = np.random.default_rng(0)
    audio = tf.constant(rng.normal(size=(6, 5)).astype("float32"))
    text = tf.constant(rng.normal(size=(6, 5)).astype("float32"))
    disc = PairDiscriminator(kind, units=8, seed=1)
    with tf.GradientTape() as tape:
        tape.watch([audio, text])
        result = pair_loss(disc, audio, text, np.arange(6) % 4, "instance")
    for gradient in tape.gradient(result.loss, [audio, text]):
        assert np.abs(gradient.numpy()).sum() > 0


def test_convex_objective_is_the_papers_weighting():
    assert float(combine_losses(2.0, 4.0, 0.25, "convex")) == pytest.approx(0.75 * 2 + 0.25 * 4)
    assert float(combine_losses(2.0, 4.0, 0.25, "sum")) == pytest.approx(2 + 0.25 * 4)


# --- what the loop records and scales ----------------------------------------------------------

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, dropout=0.2,
                   contrastive_weight=0.3, discriminator="mlp")
QUIET = TrainConfig(epochs=3, verbose=0, patience=100)


def _model(**changes):
    return build_model(dataclasses.replace(TINY, **changes), FEATURE_DIM, VOCAB_SIZE,
                       NUM_CLASSES, seed=0)


def _ratios(model, steps=12):
    """Train ``steps`` steps; -> (pull ratios on one fixed batch, the steps' outputs)."""
    trainer = Trainer(model, QUIET)
    batch = fake_examples(16, seed=5)
    ratios, outputs = [], []
    for k in range(steps):
        for inputs, labels in fake_dataset(16, batch_size=16, seed=k):
            outputs.append({key: float(v) for key, v in trainer.step(inputs, labels).items()})
        ratios.append(trainer.gradient_ratio(*batch))
    return np.array(ratios), outputs


@pytest.mark.parametrize("kind", ["mlp", "cosine_grid"])
def test_gradient_ratio_scaling_holds_the_pull_near_the_weight(kind):
    plain, _ = _ratios(_model(discriminator=kind))
    scaled, steps = _ratios(_model(discriminator=kind, pair_loss_scaling="grad_ratio"))
    assert not 0.15 < plain[-1] < 0.6  # as configured, lambda 0.3 is not 0.3 of CE's pull
    applied = np.mean([s["step_grad_ratio"] for s in steps[-6:]])
    assert applied == pytest.approx(0.3, rel=0.25)  # the pull the steps applied
    assert 0.15 < scaled[-1] < 0.6  # and on a batch it never trained on, without dropout
    assert all(s["pair_scale"] > 0 for s in steps)


def test_monitoring_records_the_regularizer_and_does_not_change_training():
    train, val = fake_dataset(32, seed=1), fake_dataset(16, seed=2)
    probe_train = fake_dataset(32, seed=1)
    infonce = {"discriminator": "infonce", "temperature": 0.1, "pairing": "instance"}
    watched = fit(_model(**infonce), train, val, QUIET, probe_train_ds=probe_train)
    plain = fit(_model(**infonce), train, val, dataclasses.replace(QUIET, monitor=False))
    assert watched["val_ua"] == plain["val_ua"] and watched["loss"] == plain["loss"]
    for key in ("grad_ratio", "probe_audio_ua", "probe_text_ua", "disc_acc", "disc_chance"):
        assert len(watched[key]) == 3, key
    assert "probe_audio_ua" not in plain and "grad_ratio" not in plain
    assert all(0 <= ua <= 1 for ua in watched["probe_text_ua"])
    assert watched["disc_chance"][0] == pytest.approx(1 / 8)  # one positive in a batch of 8
