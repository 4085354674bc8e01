"""Test-time degradations: SNR and WER achieved, seeded, shapes kept, missing modalities as the
pipeline encodes them, and a model that stays finite on them."""

import numpy as np
import pytest

from emokit.data.degrade import (
    ERROR_MIX,
    add_noise,
    babble,
    drop_audio,
    drop_text,
    snr_db,
    white_noise,
    word_error_rate,
    word_errors,
)

RATE = 16000


def _voice(seed, seconds=1.0):
    """A voiced-sounding test waveform: a few harmonics with a slow loudness contour."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    f0 = rng.uniform(100, 250)
    wave = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
    return (0.1 * wave * (1 + np.sin(2 * np.pi * 2 * t))).astype("float32")


@pytest.mark.parametrize("snr", [20, 10, 0, -5])
def test_noise_reaches_the_asked_snr_and_keeps_the_shape(snr):
    clean = _voice(0)
    others = [_voice(s, seconds=0.3 + 0.2 * s) for s in range(1, 6)]  # shorter: looped
    for noise in (white_noise(len(clean), seed=1), babble(others, len(clean), seed=1)):
        noisy = add_noise(clean, noise, snr)
        assert noisy.shape == clean.shape and noisy.dtype == np.float32
        assert snr_db(clean, noisy) == pytest.approx(snr, abs=0.01)
    assert snr_db(clean, add_noise(clean, white_noise(100, seed=1), snr)) == pytest.approx(
        snr, abs=0.01)  # a short noise is looped to the waveform's length


def test_noise_is_seeded():
    others = [_voice(s) for s in range(1, 6)]
    assert np.array_equal(white_noise(500, seed=3), white_noise(500, seed=3))
    assert not np.array_equal(white_noise(500, seed=3), white_noise(500, seed=4))
    assert np.array_equal(babble(others, 500, seed=3), babble(others, 500, seed=3))
    assert not np.array_equal(babble(others, 500, seed=3), babble(others, 500, seed=4))


def test_babble_mixes_talkers_at_equal_power():
    loud, quiet = _voice(1), 0.01 * _voice(2)
    mix = babble([loud, quiet], len(loud), talkers=2, seed=0)
    alone = babble([loud], len(loud), talkers=1, seed=0)
    # each talker scaled to unit power: the quiet one is not drowned by the loud one
    assert np.mean(mix ** 2) == pytest.approx(2.0, rel=0.3)
    assert np.mean(alone ** 2) == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="at least one other utterance"):
        babble([], 100)


def _sentences(n=400, seed=0):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(60)]
    return [list(rng.choice(vocab, size=rng.integers(2, 16))) for _ in range(n)], vocab


@pytest.mark.parametrize("wer", [0.1, 0.3, 0.5])
def test_word_errors_reach_the_asked_wer(wer):
    sentences, vocab = _sentences()
    edited = [word_errors(s, wer, vocab, seed=i) for i, s in enumerate(sentences)]
    words = sum(map(len, sentences))
    measured = sum(word_error_rate(s, e) * len(s) for s, e in zip(sentences, edited)) / words
    # an aligner can read an adjacent deletion + insertion as one substitution: a little below
    assert 0.9 * wer <= measured <= wer + 0.01
    length_change = sum(map(len, edited)) - words  # insertions - deletions: equal shares
    assert abs(length_change) < 0.05 * wer * words


def test_word_errors_are_seeded_and_follow_the_mix():
    sentence = ["i", "am", "so", "very", "happy", "to", "see", "you", "again", "today"]
    vocab = ["sad", "angry", "calm"]
    assert word_errors(sentence, 0.5, vocab, seed=1) == word_errors(sentence, 0.5, vocab, seed=1)
    assert any(word_errors(sentence, 0.5, vocab, seed=1) != word_errors(sentence, 0.5, vocab,
                                                                        seed=s)
               for s in range(2, 6))
    assert word_errors(sentence, 0.0, vocab, seed=1) == sentence
    only = dict.fromkeys(ERROR_MIX, 0.0)
    deleted = word_errors(sentence, 0.3, vocab, seed=0, mix={**only, "deletion": 1.0})
    assert len(deleted) == 7 and all(w in sentence for w in deleted)
    substituted = word_errors(sentence, 0.3, vocab, seed=0, mix={**only, "substitution": 1.0})
    changed = [(a, b) for a, b in zip(sentence, substituted) if a != b]
    assert len(substituted) == 10 and len(changed) == 3 and all(b in vocab for _, b in changed)
    inserted = word_errors(sentence, 0.3, vocab, seed=0, mix={**only, "insertion": 1.0})
    assert len(inserted) == 13 and [w for w in inserted if w not in vocab] == sentence
    with pytest.raises(ValueError, match="wer must be in"):
        word_errors(sentence, 1.5, vocab)


def test_word_error_rate_counts_edits():
    assert word_error_rate(["a", "b", "c", "d"], ["a", "x", "c"]) == 0.5  # one substitution, one deletion
    assert word_error_rate(["a", "b"], ["a", "b"]) == 0.0


def _batch():
    from emokit.config import PipelineConfig
    from emokit.data.pipeline import pad_batch

    config = PipelineConfig(max_words=6, bucket_width=8, max_frames=16)
    audio = [np.ones((5, 3), "float32"), np.ones((11, 3), "float32")]
    tokens = [np.array([4, 5, 6], "int32"), np.array([7], "int32")]
    return pad_batch(audio, tokens, np.array([0, 1]), config), config


def test_missing_modalities_look_like_the_pipelines_empty_inputs():
    from emokit.data.pipeline import encode_tokens, pad_batch
    from emokit.data.text import Vocabulary, tokenize

    (batch, labels), config = _batch()
    no_audio = drop_audio(batch)
    assert no_audio["audio"].shape == batch["audio"].shape and not no_audio["audio"].any()
    assert not no_audio["audio_mask"].any()
    assert np.array_equal(no_audio["tokens"], batch["tokens"])
    no_text = drop_text(batch)
    empty = encode_tokens(tokenize(""), Vocabulary.build([["x"]]), config)  # what "" becomes
    expected, _ = pad_batch([np.ones((5, 3), "float32")] * 2, [empty, empty], labels, config)
    assert np.array_equal(no_text["tokens"], expected["tokens"])
    assert np.array_equal(no_text["text_mask"], expected["text_mask"])
    assert np.array_equal(no_text["audio_mask"], batch["audio_mask"])


def test_a_model_stays_finite_without_audio_or_text():
    """An all-False audio mask (no frame at all) must not turn the GRU or the attention pooling
    into NaN; nor may the one-<unk> empty transcript."""
    from emokit.config import ModelConfig
    from emokit.model.emotion_model import build_model

    (batch, _), _ = _batch()
    for modalities in ("both", "audio", "text"):
        model = build_model(ModelConfig(modalities=modalities, latent_dim=4, audio_conv_filters=4,
                                        audio_conv_layers=1, audio_rnn_units=4, text_rnn_units=4,
                                        discriminator_units=4),
                            feature_dim=3, vocab_size=10, num_classes=4, seed=0)
        for inputs in (drop_audio(batch), drop_text(batch), drop_text(drop_audio(batch))):
            logits = np.asarray(model(inputs, training=False))
            assert logits.shape == (2, 4) and np.isfinite(logits).all(), modalities
            audio, text = model.encode(inputs, training=False)
            for code in (audio, text):
                assert code is None or np.isfinite(np.asarray(code)).all()
