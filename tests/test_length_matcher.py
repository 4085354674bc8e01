"""The length-only matcher: the pair accuracy that lengths alone give (a manipulation check)."""

import numpy as np
import pytest
from test_pipeline import corpus, small_config

from emokit.data.folds import make_folds
from emokit.data.pipeline import prepare_fold
from emokit.training.length_matcher import (
    batch_length_accuracy,
    epoch_training_batches,
    example_lengths,
    fit_word_count,
    fold_length_matcher_accuracy,
    length_matcher_accuracy,
)


def _brute_force(predicted, words, keys=None):
    """Every random tie-break enumerated: the share of (row, pick) draws that hit the row itself."""
    n = len(words)
    hits = []
    for i in range(n):
        candidates = [j for j in range(n) if j == i or keys is None or keys[j] != keys[i]]
        best = min(abs(predicted[i] - words[j]) for j in candidates)
        tied = [j for j in candidates if abs(predicted[i] - words[j]) == best]
        hits.append(sum(j == i for j in tied) / len(tied))
    return np.mean(hits)


def test_a_tiny_batch_by_hand_with_ties_and_duplicate_transcripts():
    predicted = np.array([2.0, 2.2, 5.0, 3.5])
    words = np.array([2, 2, 4, 3])
    # row 0: texts 0 and 1 tie at 0 -> 1/2; row 1: same two closest -> 1/2; row 2: text 2 (4) is
    # closest at 1 -> 1; row 3: texts 2 (4) and 3 (3) tie at 0.5 -> 1/2
    assert batch_length_accuracy(predicted, words) == pytest.approx((0.5 + 0.5 + 1 + 0.5) / 4)
    assert batch_length_accuracy(predicted, words) == pytest.approx(_brute_force(predicted, words))
    # texts 0 and 1 are the same transcript: neither is the other's candidate, so both hit
    keys = np.array([7, 7, 8, 9])
    assert batch_length_accuracy(predicted, words, keys) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert batch_length_accuracy(predicted, words, keys) == pytest.approx(
        _brute_force(predicted, words, keys))
    # text -> audio: text 2 (4 words) picks audio 3 (3.5) over audio 2 (5.0): a miss
    text_side = _brute_force(words.astype(float), predicted)
    assert batch_length_accuracy(predicted, words, symmetric=True) == pytest.approx(
        ((0.5 + 0.5 + 1 + 0.5) / 4 + text_side) / 2)


def test_random_batches_match_the_brute_force_count():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 9))
        predicted = rng.integers(0, 5, n) + rng.choice([0.0, 0.5], n)
        words = rng.integers(0, 5, n)
        keys = rng.integers(0, 3, n)
        assert batch_length_accuracy(predicted, words, keys) == pytest.approx(
            _brute_force(predicted, words, keys))


def test_lengths_that_determine_the_word_count_match_every_pair():
    rng = np.random.default_rng(1)
    words = rng.permutation(40) + 1  # distinct word counts
    frames = 25 * words + 10
    batches = [np.arange(0, 16), np.arange(16, 40)]
    assert length_matcher_accuracy(frames, words, batches, frames, words) == 1.0
    assert fit_word_count(frames, words) == pytest.approx((-0.4, 0.04))
    # lengths that say nothing: every text ties, the accuracy is chance, 1 / batch size
    flat = np.full(40, 100)
    same = np.full(40, 5)
    assert length_matcher_accuracy(flat, same, batches, flat, same) == pytest.approx(
        (1 / 16 + 1 / 24) / 2)


def test_batches_are_averaged_like_the_pair_accuracy_per_batch_then_over_batches():
    frames = np.array([10, 20, 30, 40, 50])
    words = np.array([1, 2, 3, 3, 3])
    batches = [np.array([0, 1]), np.array([2, 3, 4])]  # 2 of 2 right, then 1/3 each
    got = length_matcher_accuracy(frames, words, batches, frames, 0.1 * frames)
    assert got == pytest.approx((1.0 + 1 / 3) / 2)  # not the row mean (2 + 1) / 5


def test_the_matcher_sees_the_batches_of_the_kept_epoch_and_no_labels():
    rows, features = corpus()
    data = prepare_fold(small_config(), rows, features, make_folds(rows, "session")[0])
    frames, words, keys = example_lengths(data.train_examples)
    dataset = data.train_dataset(shuffle_seed=11)
    for epoch in range(3):
        seen = [(x["audio_mask"].numpy().sum(1), x["text_mask"].numpy().sum(1),
                 x["tokens"].numpy()) for x, _ in dataset]
        plan = epoch_training_batches(data, 11, epoch)
        assert len(plan) == len(seen)
        for idx, (n_frames, n_words, tokens) in zip(plan, seen):
            np.testing.assert_array_equal(frames[idx], n_frames)
            np.testing.assert_array_equal(words[idx], n_words)
            same = (tokens[:, None] == tokens[None]).all(-1)
            np.testing.assert_array_equal(keys[idx][:, None] == keys[idx][None], same)
    accuracy = fold_length_matcher_accuracy(data, 11, 2)
    assert 0 < accuracy < 1
    data.train_examples.labels[:] = -1  # unlabelled turns: the matcher never reads labels
    assert fold_length_matcher_accuracy(data, 11, 2) == accuracy
