"""Pretrained vector files (GloVe, word2vec text and binary) and vectors trained on the fold."""

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from emokit.config import TextConfig
from emokit.data.text import Vocabulary
from emokit.data.word_vectors import _read_text_vectors, load_pretrained_vectors, train_word_vectors

REPO = Path(__file__).resolve().parent.parent
VOCAB = Vocabulary.build([["happy", "happy", "sad", "angry", "unseen"]])


def write_glove(path, rows):
    path.write_text("".join(f"{w} {' '.join(str(v) for v in vec)}\n" for w, vec in rows))
    return path


def test_glove_file_gives_the_vocabulary_rows(tmp_path):
    glove = write_glove(tmp_path / "glove.txt", [
        ("the", [0.5, 0.5, 0.5]), ("happy", [1, 2, 3]), ("Sad", [9, 9, 9]),
        ("sad", [-1, 0.25, 4e-1]), ("angry", [7, 8, 9])])
    matrix, coverage = load_pretrained_vectors(glove, VOCAB)
    assert matrix.shape == (len(VOCAB), 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[VOCAB.index("happy")], [1, 2, 3])
    np.testing.assert_allclose(matrix[VOCAB.index("sad")], [-1, 0.25, 0.4])  # exact case match
    np.testing.assert_array_equal(matrix[VOCAB.PAD], 0)
    assert np.abs(matrix[VOCAB.index("unseen")]).sum() > 0  # random row for a missing word
    assert (coverage.types_found, coverage.types_total) == (3, 4)
    assert (coverage.tokens_found, coverage.tokens_total) == (4, 5)  # happy counts twice
    assert coverage.missing == ["unseen"]
    assert coverage.token_rate == pytest.approx(0.8)


def test_glove_840b_words_with_spaces_are_read(tmp_path):
    glove = write_glove(tmp_path / "glove.txt", [
        ("happy", [1, 2]), (". . .", [3, 4]), ("sad", [5, 6])])
    matrix, coverage = load_pretrained_vectors(glove, VOCAB)
    np.testing.assert_array_equal(matrix[VOCAB.index("sad")], [5, 6])
    assert coverage.types_found == 2


@pytest.mark.parametrize("bad_line, problem", [
    ("sad 1.0", "1 values where 2"),
    ("sad 1.0 2.0 3.0", "3 values where 2"),
    ("sad 1.0 abc", "non-numeric"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, problem):
    glove = tmp_path / "broken.txt"
    glove.write_text(f"happy 1 2\nthe 3 4\n{bad_line}\n")
    with pytest.raises(ValueError, match=rf"broken\.txt, line 3: .*{problem}"):
        load_pretrained_vectors(glove, VOCAB)


def test_word2vec_text_and_binary_match_gensim(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    words = ["happy", "filler", "sad", "angry"]
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32))
    for binary in (False, True):
        path = tmp_path / f"vectors{int(binary)}.w2v"
        kv.save_word2vec_format(str(path), binary=binary)
        matrix, coverage = load_pretrained_vectors(path, VOCAB, binary=binary)
        for word in ("happy", "sad", "angry"):
            np.testing.assert_allclose(matrix[VOCAB.index(word)], kv[word], rtol=1e-6)
        assert coverage.types_found == 3


def test_words_outside_the_vocabulary_are_never_stored(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"filler{i}", rng.normal(size=50).round(4)) for i in range(20000)]
    glove = write_glove(tmp_path / "big.txt", [("happy", np.ones(50)), *rows])
    found, dim = _read_text_vectors(glove, {b"happy", b"sad"})
    assert set(found) == {"happy"} and dim == 50

    tracemalloc.start()
    load_pretrained_vectors(glove, VOCAB)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    file_size = glove.stat().st_size  # about 5 MB
    assert peak < file_size / 20, f"peak {peak} bytes while reading a {file_size}-byte file"


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="vectors_path"):
        load_pretrained_vectors(tmp_path / "nope.txt", VOCAB)


TOKENS = [["i", "am", "so", "happy", "today"], ["why", "are", "you", "so", "angry"],
          ["i", "feel", "sad", "today"], ["happy", "happy", "day"]] * 5


@pytest.mark.parametrize("trainer", ["word2vec", "fasttext"])
def test_trained_vectors_are_deterministic(trainer):
    vocab = Vocabulary.build(TOKENS)
    config = TextConfig(trainer=trainer, vector_dim=8, trainer_epochs=3, seed=1)
    first = train_word_vectors(TOKENS, vocab, config)
    second = train_word_vectors(TOKENS, vocab, config)
    assert first.shape == (len(vocab), 8) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[0], 0)
    unit = first[2:] / np.linalg.norm(first[2:], axis=1, keepdims=True)
    assert np.abs(unit @ unit.T).mean() < 0.5  # words stay apart, not along one direction
    other_seed = train_word_vectors(TOKENS, vocab, TextConfig(trainer=trainer, vector_dim=8,
                                                             trainer_epochs=3, seed=2))
    assert not np.array_equal(first, other_seed)


def test_trained_vectors_do_not_depend_on_pythonhashseed():
    script = (
        "import hashlib; from emokit.config import TextConfig; from emokit.data.text import Vocabulary;"
        "from emokit.data.word_vectors import train_word_vectors;"
        f"t = {TOKENS!r}; m = train_word_vectors(t, Vocabulary.build(t), "
        "TextConfig(vector_dim=8, trainer_epochs=3));"
        "print(hashlib.sha256(m.tobytes()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, text=True,
                              capture_output=True, env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1


def test_unknown_trainer_is_refused():
    with pytest.raises(ValueError, match="trainer"):
        train_word_vectors(TOKENS, Vocabulary.build(TOKENS), TextConfig(trainer="bert"))


def test_nearest_words_ranks_by_cosine():
    from emokit.data.word_vectors import nearest_words

    vocab = Vocabulary.build([["happy", "glad", "sad", "table"]])
    matrix = np.zeros((len(vocab), 2), np.float32)
    for word, vec in {"happy": [1, 0.1], "glad": [2, 0.3], "sad": [-1, 0], "table": [0, 1]}.items():
        matrix[vocab.index(word)] = vec
    neighbours = nearest_words(matrix, vocab, "happy", k=3)
    assert [w for w, _ in neighbours] == ["glad", "table", "sad"]
    assert neighbours[0][1] == pytest.approx(0.999, abs=1e-3)
    with pytest.raises(KeyError, match="zebra"):
        nearest_words(matrix, vocab, "zebra")


# ------------------------------------------------------------------------------- issue 10


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_values_are_refused_naming_the_line(tmp_path, value):
    path = tmp_path / "vectors.txt"
    path.write_text(f"i 0.1 0.2 0.3\nknow 0.4 {value} 0.6\nsee 0.7 0.8 0.9\n")
    vocab = Vocabulary.build([["i", "know"], ["i", "see"]])
    with pytest.raises(ValueError, match=r"vectors\.txt, line 2: .*nan or inf"):
        load_pretrained_vectors(path, vocab)


def test_a_malformed_first_line_is_blamed_not_the_second(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("i 0.1 0.2\nknow 0.4 0.5 0.6\nsee 0.7 0.8 0.9\nyou 0.1 0.1 0.1\n")
    vocab = Vocabulary.build([["i", "know"], ["i", "see"]])
    with pytest.raises(ValueError, match=r"vectors\.txt, line 1: .*2 values where 3"):
        load_pretrained_vectors(path, vocab)


def test_non_finite_binary_vectors_are_refused(tmp_path):
    path = tmp_path / "vectors.bin"
    rows = {"i": [0.1, 0.2], "know": [np.nan, 0.3]}
    with open(path, "wb") as f:
        f.write(b"2 2\n")
        f.writelines(word.encode() + b" " + np.asarray(vector, "<f4").tobytes() + b"\n" for word, vector in rows.items())
    vocab = Vocabulary.build([["i", "know"]])
    with pytest.raises(ValueError, match=r"'know'.*nan or inf"):
        load_pretrained_vectors(path, vocab, binary=True)
