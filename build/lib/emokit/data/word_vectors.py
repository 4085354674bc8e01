"""Word vectors for a vocabulary: trained on the training fold, or read from a pretrained file.

Two ways to fill the ``(len(vocab), dim)`` embedding matrix that the text encoder starts from:

- :func:`train_word_vectors` trains gensim Word2Vec or FastText on the training fold's transcripts
  (the default: nothing downloads). Training is deterministic: one worker, a fixed seed and a
  hash function that does not depend on ``PYTHONHASHSEED``.
- :func:`load_pretrained_vectors` reads a GloVe text file (``word v1 ... vd`` lines, e.g.
  ``glove.840B.300d.txt``) or a word2vec file (text with a ``count dim`` header, or binary) in one
  streaming pass, keeping only the vocabulary's words: memory is ``len(vocab) * dim`` floats, not
  the file's 5.6 GB.

In both, row 0 (``<pad>``) is zeros. Rows of words without a vector (and ``<unk>``, unless the file
has an ``<unk>`` entry) are drawn from ``N(0, sigma^2)``, sigma being the standard deviation of the
vectors that were found, so they are on the same scale and the model can learn them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emokit.config import TextConfig
from emokit.config.choices import TRAINERS
from emokit.core.errors import DataError
from emokit.core.paths import data_dir
from emokit.data.text import Vocabulary
from emokit.data.vector_sources import resolve_vectors


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (Python's ``hash`` is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def train_word_vectors(token_lists: list[list[str]], vocab: Vocabulary,
                       config: TextConfig) -> np.ndarray:
    """Train ``config.trainer`` ("word2vec" or "fasttext") vectors on ``token_lists``.

    ``token_lists`` must be the training fold's tokenized transcripts (the ones ``vocab`` was built
    from). Returns ``(len(vocab), config.vector_dim)`` float32; the same inputs give the same
    matrix in any process (``workers=1``, ``seed=config.seed``, a salt-free ``hashfxn``). The
    vectors' mean is subtracted: trained on a few thousand words, word2vec points every vector
    along one common direction (cosine ~0.99 between any two words), which hides their differences.
    """
    from gensim.models import FastText, Word2Vec

    trainers = dict(zip(TRAINERS, (Word2Vec, FastText), strict=True))
    if config.trainer not in trainers:
        raise ValueError(f"TextConfig.trainer={config.trainer!r}: choose one of {sorted(trainers)}")
    sentences = [tokens for tokens in token_lists if tokens]
    if not sentences:
        raise ValueError("no training text to learn word vectors from (every transcript is empty)")
    model = trainers[config.trainer](
        sentences, vector_size=config.vector_dim, window=5, min_count=1, sg=1,
        epochs=config.trainer_epochs, seed=config.seed, workers=1, hashfxn=stable_hash)
    found = {w: model.wv[w] for w in vocab.words[2:] if w in model.wv.key_to_index}
    mean = np.mean(list(found.values()), axis=0)  # on little text every word leans one common
    found = {w: v - mean for w, v in found.items()}  # way; removing it keeps words apart
    return _assemble(vocab, found, config.vector_dim, config.seed)


def nearest_words(matrix: np.ndarray, vocab: Vocabulary, word: str,
                  k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose rows of ``matrix`` have the highest cosine similarity to ``word``'s."""
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary (it maps to <unk>)")
    norms = np.linalg.norm(matrix, axis=1) + 1e-8
    similarity = matrix @ matrix[vocab.index(word)] / (norms * norms[vocab.index(word)])
    similarity[[vocab.PAD, vocab.UNK, vocab.index(word)]] = -np.inf
    best = np.argsort(-similarity)[:k]
    return [(vocab.words[i], float(similarity[i])) for i in best]


@dataclass(frozen=True)
class Coverage:
    """How much of the vocabulary (types) and of the training text (tokens) has a vector."""

    types_found: int
    types_total: int
    tokens_found: int
    tokens_total: int
    missing: list[str] = field(default_factory=list)  # most frequent words without a vector

    @property
    def type_rate(self) -> float:
        return self.types_found / max(self.types_total, 1)

    @property
    def token_rate(self) -> float:
        return self.tokens_found / max(self.tokens_total, 1)

    def __str__(self) -> str:
        return (f"vectors for {self.types_found}/{self.types_total} words "
                f"({self.type_rate:.1%}) covering {self.token_rate:.1%} of training tokens; "
                f"most frequent missing: {self.missing[:10]}")


def load_pretrained_vectors(path: str | Path, vocab: Vocabulary, binary: bool = False,
                            seed: int = 0) -> tuple[np.ndarray, Coverage]:
    """Read the vectors of ``vocab``'s words from a GloVe or word2vec file, in one pass.

    Args:
        path: a GloVe text file (no header; the dimension is inferred from the first line), a
            word2vec text file (``count dim`` header) or, with ``binary=True``, a word2vec binary.
        vocab: the training fold's vocabulary; only its words are kept.
        binary: the file is word2vec binary.
        seed: seeds the random rows of words that have no vector.

    Returns:
        ``(matrix, coverage)``: ``(len(vocab), dim)`` float32 (row 0 zeros) and a
        :class:`Coverage`. Words are matched exactly (GloVe 840B is cased; the vocabulary is
        lowercased by default, and most lowercase words are in 840B too).

    Raises a ``ValueError`` naming the file and line for a malformed line: a wrong number of values,
    or non-numeric values in a line the vocabulary needs (values of skipped lines are counted but
    not parsed, which is what makes a 5.6 GB file load in about a minute).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no word vector file at {path}: set TextConfig.vectors_path to a "
                                "GloVe/word2vec file, or to None to train vectors on the fold")
    if path.is_dir():
        raise ValueError(f"{path} is a folder: set TextConfig.vectors_path to the word vector file "
                         "in it (e.g. glove.840B.300d.txt)")
    wanted = {w.encode("utf-8") for w in vocab.words[1:]}  # <unk> too, if the file has one
    reader = _read_word2vec_binary if binary else _read_text_vectors
    found, dim = reader(path, wanted)
    matrix = _assemble(vocab, found, dim, seed)
    return matrix, _coverage(vocab, found)


DIM_SAMPLE_LINES = 20  # a GloVe file's dimension is the commonest value count of its first lines


def _read_text_vectors(path: Path, wanted: set[bytes]) -> tuple[dict[str, np.ndarray], int]:
    """Stream a GloVe or word2vec text file; keep the ``wanted`` words' vectors."""
    found: dict[str, np.ndarray] = {}
    dim = _file_dim(path)
    for line_no, line in _nonempty_lines(path):
        if line_no == 1 and _is_header(line):
            continue
        spaces = line.count(b" ")
        if spaces < dim:
            _malformed(path, line_no, f"{spaces} values where {dim} were expected")
        if spaces == dim:
            word, values = line.split(b" ", 1)
        else:  # GloVe 840B has a few "words" with spaces in them (". . .")
            word, values = _split_spaced_word(path, line_no, line, dim)
        if word in wanted and word.decode("utf-8") not in found:
            found[word.decode("utf-8")] = _parse_values(path, line_no, values, dim)
    return found, dim


def _nonempty_lines(path: Path):
    """``(line number, line without its line break and trailing spaces)`` of every non-empty
    line of a vectors file, read as bytes."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\r\n").rstrip(b" ")
            if line:
                yield line_no, line


def _is_header(line: bytes) -> bool:
    fields = line.split(b" ")
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def _file_dim(path: Path) -> int:
    """The vector dimension: a word2vec header's, or the commonest count of trailing numbers in
    the first lines of a GloVe file (so that one malformed first line is blamed, not line 2)."""
    counts: dict[int, int] = {}
    for line_no, line in _nonempty_lines(path):
        if line_no == 1 and _is_header(line):
            return int(line.split(b" ")[1])
        numeric = _trailing_numbers(line)
        counts[numeric] = counts.get(numeric, 0) + 1
        if sum(counts.values()) >= DIM_SAMPLE_LINES:
            break
    if not counts:
        raise ValueError(f"{path}: the word vector file is empty")
    dim = max(counts, key=lambda d: (counts[d], d))
    if dim == 0:
        _malformed(path, 1, "no numeric values")
    return dim


def _trailing_numbers(line: bytes) -> int:
    """How many space-separated fields at the end of ``line`` are numbers (the first field, the
    word, never counts)."""
    fields = line.split(b" ")
    numeric = 0
    for f in reversed(fields[1:]):  # trailing numeric fields are the values
        try:
            float(f)
        except ValueError:
            break
        numeric += 1
    return numeric


def _split_spaced_word(path: Path, line_no: int, line: bytes, dim: int) -> tuple[bytes, bytes]:
    """Split a line whose word contains spaces; more values than ``dim`` is an error."""
    parts = line.split(b" ")
    word_parts, values = parts[: len(parts) - dim], parts[len(parts) - dim:]
    try:
        float(word_parts[-1])
    except ValueError:
        return b" ".join(word_parts), b" ".join(values)
    _malformed(path, line_no, f"{len(parts) - 1} values where {dim} were expected")


def _parse_values(path: Path, line_no: int, values: bytes, dim: int) -> np.ndarray:
    try:
        vector = np.array(values.split(b" "), dtype=np.float32)
    except ValueError:
        _malformed(path, line_no, "non-numeric values")
    if vector.shape != (dim,):
        _malformed(path, line_no, f"{vector.size} values where {dim} were expected")
    if not np.isfinite(vector).all():
        _malformed(path, line_no, "nan or inf values: a vector must be finite")
    return vector


def _malformed(path: Path, line_no: int, problem: str):
    raise ValueError(f"{path}, line {line_no}: malformed word vector line ({problem}); "
                     "expected `word v1 ... vd` with d numbers. Fix or remove that line.")


def _read_word2vec_binary(path: Path, wanted: set[bytes]) -> tuple[dict[str, np.ndarray], int]:
    """Stream a word2vec binary file (``count dim\\n`` then ``word<space><dim float32>``)."""
    found: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        header = f.readline().split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise ValueError(f"{path}, line 1: a word2vec binary file starts with `count dim`, "
                             f"got {header[:4]}; for a text file use binary=False")
        count, dim = int(header[0]), int(header[1])
        for entry in range(count):
            word = _read_binary_word(f, path, entry)
            data = f.read(4 * dim)
            if len(data) != 4 * dim:
                raise ValueError(f"{path}: entry {entry + 1} ({word!r}) is cut short; "
                                 "the file is truncated")
            if word in wanted and word.decode("utf-8") not in found:
                vector = np.frombuffer(data, dtype="<f4").copy()
                if not np.isfinite(vector).all():
                    raise ValueError(f"{path}: entry {entry + 1} ({word!r}) holds nan or inf "
                                     "values: a vector must be finite. Fix or remove it")
                found[word.decode("utf-8")] = vector
    return found, dim


def _read_binary_word(f, path: Path, entry: int) -> bytes:
    chars = bytearray()
    while True:
        ch = f.read(1)
        if ch == b"":
            raise ValueError(f"{path}: entry {entry + 1} is missing; the file is truncated")
        if ch == b" ":
            return bytes(chars)
        if ch != b"\n" or chars:  # a newline may end the previous vector
            chars += ch


def _assemble(vocab: Vocabulary, found: dict[str, np.ndarray], dim: int,
              seed: int) -> np.ndarray:
    """The ``(len(vocab), dim)`` matrix: found vectors, random rows for the rest, PAD zeros."""
    scale = float(np.std(np.stack(list(found.values())))) if found else 0.1
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    for word, vector in found.items():
        matrix[vocab.index(word)] = vector
    matrix[vocab.PAD] = 0.0
    return matrix


def _coverage(vocab: Vocabulary, found: dict[str, np.ndarray]) -> Coverage:
    words = vocab.words[2:]
    missing = [w for w in words if w not in found]  # vocab order = most frequent first
    return Coverage(
        types_found=len(words) - len(missing), types_total=len(words),
        tokens_found=sum(vocab.counts.get(w, 0) for w in words if w in found),
        tokens_total=sum(vocab.counts.get(w, 0) for w in words),
        missing=missing[:20])


def fold_word_vectors(train_tokens: list[list[str]], vocab: Vocabulary,
                      config: TextConfig) -> tuple[np.ndarray, Coverage | None]:
    """Pretrained vectors from ``config.vectors_path``, or vectors trained on the training fold."""
    if config.vectors_path:  # a file, or a gensim-data name fetched once into the data folder
        path = resolve_vectors(config.vectors_path, data_dir())
        matrix, coverage = load_pretrained_vectors(path, vocab, binary=config.vectors_binary,
                                                   seed=config.seed)
        if coverage.types_found == 0:
            raise DataError(f"{path} has a vector for none of the {coverage.types_total} words of "
                            f"the training fold (e.g. {coverage.missing[:5]}): the wrong file, a "
                            "different language, or text.lowercase not matching the file? Every "
                            "word would start from a random vector")
        print(f"word vectors {path.name}: {coverage}", flush=True)
        return matrix, coverage
    return train_word_vectors(train_tokens, vocab, config), None

