"""emokit.training.probes: cross-modal retrieval through one post-hoc map fitted on training codes."""

import numpy as np
import pytest

from emokit.training.probes import (
    fit_linear_map,
    mapped_retrieval_accuracy,
    retrieval_accuracy,
    retrieval_chance,
)


def _codes(rng, labels, centres, noise=0.3):
    return centres[labels] + noise * rng.normal(size=(len(labels), centres.shape[1]))


def _data(seed=0, n_train=400, n_test=200, dim=6):
    rng = np.random.default_rng(seed)
    y_train, y_test = rng.integers(0, 4, n_train), rng.integers(0, 4, n_test)
    audio_centres, text_centres = rng.normal(size=(4, dim)), rng.normal(size=(4, dim))
    return (rng, y_test, _codes(rng, y_train, audio_centres), _codes(rng, y_train, text_centres),
            _codes(rng, y_test, audio_centres), _codes(rng, y_test, text_centres))


def test_the_map_aligns_codes_from_unrelated_spaces():
    # both codes carry the emotion, each in its own space: raw cosine cannot see it, the map can
    _, y, train_a, train_t, test_a, test_t = _data()
    mapped = mapped_retrieval_accuracy(train_a, train_t, test_a, test_t, y)
    assert mapped > 0.9
    assert mapped > retrieval_accuracy(test_a, test_t, y) + 0.2


def test_the_map_makes_systems_comparable_whatever_their_audio_space():
    # a rotated and rescaled audio space (another system's encoder) retrieves exactly the same
    rng, y, train_a, train_t, test_a, test_t = _data(seed=1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = mapped_retrieval_accuracy(7 * train_a @ q, train_t, 7 * test_a @ q, test_t, y)
    assert rotated == pytest.approx(mapped_retrieval_accuracy(train_a, train_t, test_a, test_t, y),
                                    abs=1 / 200)  # float noise may flip at most a near tie
    np.testing.assert_allclose(fit_linear_map(7 * train_a @ q, train_t)(7 * test_a @ q),
                               fit_linear_map(train_a, train_t)(test_a), atol=1e-8)


def test_codes_without_emotion_retrieve_at_chance():
    rng, y, _, train_t, _, test_t = _data(seed=2, n_train=2000, n_test=2000)
    train_a, test_a = rng.normal(size=(2000, 6)), rng.normal(size=(2000, 6))
    mapped = mapped_retrieval_accuracy(train_a, train_t, test_a, test_t, y)
    assert mapped == pytest.approx(retrieval_chance(y), abs=0.04)
