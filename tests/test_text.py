"""Tokenizer and vocabulary."""

import pytest

from emokit.data.text import Vocabulary, tokenize


@pytest.mark.parametrize("transcript, tokens", [
    ("Excuse me.", ["excuse", "me"]),
    ("I don't know, I'm not sure!", ["i", "don't", "know", "i'm", "not", "sure"]),
    ("[LAUGHTER] Oh [BREATHING] wow [GARBAGE]", ["oh", "wow"]),
    ("[any other noise] yes", ["yes"]),
    ("Well -- I mean--no.", ["well", "i", "mean", "no"]),
    ("uh-huh, twenty-five", ["uh-huh", "twenty-five"]),
    ("'Cause they're goin' -", ["cause", "they're", "goin"]),
    ("It\u2019s fine", ["it's", "fine"]),
    ("  ...  ", []),
    ("[LAUGHTER]", []),
])
def test_tokenize(transcript, tokens):
    assert tokenize(transcript) == tokens


def test_tokenize_can_keep_case():
    assert tokenize("I'm Happy", lowercase=False) == ["I'm", "Happy"]


def test_vocabulary_indices_and_oov():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "a", "b"]])
    assert vocab.words == ["<pad>", "<unk>", "b", "a", "c"]  # by count, then alphabetical
    assert (vocab.PAD, vocab.UNK) == (0, 1)
    assert vocab.encode(["a", "zzz", "c"]) == [3, 1, 4]
    assert len(vocab) == 5
    assert vocab.counts == {"b": 3, "a": 2, "c": 1}
    assert vocab.decode([3, 1, 0, 0]) == ["a", "<unk>"]


def test_min_count_sends_rare_words_to_unk():
    vocab = Vocabulary.build([["a", "a", "rare"]], min_count=2)
    assert "rare" not in vocab
    assert vocab.encode(["rare"]) == [Vocabulary.UNK]


def test_vocabulary_round_trips_through_a_dict():
    vocab = Vocabulary.build([["x", "y", "y"]])
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again.words == vocab.words and again.counts == vocab.counts


def test_vocabulary_refuses_a_word_list_without_specials():
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", "b"])


def test_oov_rate_counts_tokens_missing_from_the_vocabulary():
    from emokit.data.text import oov_rate

    vocab = Vocabulary.build([["a", "b"]])
    assert oov_rate([["a", "x"], ["b", "y", "y", "a"]], vocab) == pytest.approx(0.5)
    assert oov_rate([], vocab) == 0
