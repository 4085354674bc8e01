"""Tokens and the vocabulary of IEMOCAP transcripts.

>>> tokenize("[LAUGHTER] Well, I don't know -- it's a well-known place.")
['well', 'i', "don't", 'know', "it's", 'a', 'well-known', 'place']
>>> vocab = Vocabulary.build([["i", "know"], ["i", "see"]])
>>> vocab.words[:3], vocab.encode(["i", "unseen"])
(['<pad>', '<unk>', 'i'], [2, 1])

The vocabulary of a fold is built from its *training* utterances only: words that appear only in
validation or test transcripts map to ``<unk>``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

#: Non-speech annotations such as ``[LAUGHTER]``, ``[BREATHING]``, ``[GARBAGE]``: any ``[...]``.
_NON_SPEECH = re.compile(r"\[[^\]]*\]")
#: A word: letters/digits, with apostrophes or hyphens allowed *between* them (don't, uh-huh).
#: Everything else (punctuation, dashes such as ``--``, leading/trailing quotes) separates words.
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def tokenize(transcript: str, lowercase: bool = True) -> list[str]:
    """Split a transcript into words.

    Non-speech tokens (any ``[...]``) are dropped, punctuation is stripped, apostrophes and hyphens
    inside a word are kept (``don't``, ``I'm``, ``uh-huh``, ``twenty-five``); a dash between
    spaced words (``well -- I``) or a quote around a word separates words.
    """
    text = _NON_SPEECH.sub(" ", transcript).translate(_APOSTROPHES)
    if lowercase:
        text = text.lower()
    return _WORD.findall(text)


class Vocabulary:
    """Words of the training fold, in index order; ``<pad>`` is 0 and ``<unk>`` is 1.

    Words are ordered by falling count, ties alphabetically, so the same training text always gives
    the same indices. ``counts`` holds each word's training count (used for coverage reports).
    """

    PAD = 0
    UNK = 1
    SPECIALS = ("<pad>", "<unk>")

    def __init__(self, words: list[str], counts: dict[str, int] | None = None):
        if tuple(words[:2]) != self.SPECIALS:
            raise ValueError(f"a vocabulary starts with {self.SPECIALS}, got {words[:2]}")
        if len(set(words)) != len(words):
            raise ValueError("a vocabulary lists each word once")
        self.words = list(words)
        self.counts = dict(counts or {})
        self._index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_count: int = 1) -> Vocabulary:
        """The vocabulary of words seen at least ``min_count`` times in ``token_lists``."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((w for w, c in counts.items() if c >= min_count and w not in cls.SPECIALS),
                      key=lambda w: (-counts[w], w))
        return cls([*cls.SPECIALS, *kept], {w: counts[w] for w in kept})

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def index(self, word: str) -> int:
        """The index of ``word``, or ``UNK`` when it is not in the vocabulary."""
        return self._index.get(word, self.UNK)

    def encode(self, tokens: list[str]) -> list[int]:
        """Word indices of ``tokens``; out-of-vocabulary words become ``UNK`` (1)."""
        return [self._index.get(t, self.UNK) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ``ids``, padding (0) left out."""
        return [self.words[i] for i in ids if i != self.PAD]

    def to_dict(self) -> dict:
        return {"words": self.words, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(list(data["words"]), data.get("counts"))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words: {self.words[2:7]}...)"


def oov_rate(token_lists: Iterable[list[str]], vocab: Vocabulary) -> float:
    """The share of tokens in ``token_lists`` that ``vocab`` maps to ``<unk>``."""
    tokens = [t for tokens in token_lists for t in tokens]
    return sum(t not in vocab for t in tokens) / max(len(tokens), 1)
