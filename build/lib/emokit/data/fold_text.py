"""The text side of a fold: tokens, vocabulary and the embedding matrix the text encoder reads.

Two sources, one shape, so the text encoder, pooling, fusion and pair losses stay the same:

* word vectors (the default): the fold's words, a vocabulary of its training words and their
  vectors (:mod:`emokit.data.word_vectors`);
* the frozen codes of a pretrained text encoder (``TextConfig.hub_preset``,
  :mod:`emokit.data.hub_encoders`): every token of every transcript of the fold gets a row of its
  own, holding its contextual code, and a transcript's "words" are its rows. The embedding layer
  becomes a frozen lookup of precomputed codes (``model.train_embeddings: false``), so a batch
  of ``tokens (batch, words)`` reads ``(batch, words, hidden)`` codes. The rows are per utterance,
  not per word: nothing is shared between transcripts, and a test transcript's rows are its own
  encoder output (the encoder is frozen and never saw the labels).

The codes travel with the audio features from ``emokit.experiment.load_corpus`` as
:class:`CorpusFeatures` (a dict of audio features with a ``text_codes`` attribute).
"""

from __future__ import annotations

import numpy as np

from emokit.config import ExperimentConfig
from emokit.data.text import Vocabulary, tokenize
from emokit.data.word_vectors import fold_word_vectors


class CorpusFeatures(dict):
    """Audio features ``{id: (frames, dims)}`` that also carry the transcripts' codes
    ``text_codes`` ``{id: (tokens, hidden)}`` (``TextConfig.hub_preset``; None without one)."""

    def __init__(self, audio: dict, text_codes: dict | None = None):
        super().__init__(audio)
        self.text_codes = text_codes


def fold_text(config: ExperimentConfig, by_id: dict, fold_ids, train_ids, features):
    """``(tokens {id: [word]}, vocabulary, embedding matrix (rows, dim), coverage)`` of the fold
    ``fold_ids`` (vocabulary and vectors fitted on ``train_ids``; coverage None for codes)."""
    if config.text.hub_preset:
        codes = getattr(features, "text_codes", None)
        if codes is None:
            raise ValueError(f"text.hub_preset {config.text.hub_preset!r} needs the transcripts' "
                             "codes: load the corpus with emokit.experiment.load_corpus(config), "
                             "which caches them and passes them with the features")
        return (*code_vocabulary(fold_ids, codes), None)
    tokens = {i: tokenize(by_id[i].transcript, config.text.lowercase) for i in fold_ids}
    train_tokens = [tokens[i] for i in train_ids]
    vocab = Vocabulary.build(train_tokens, config.text.min_count)
    return (tokens, vocab, *fold_word_vectors(train_tokens, vocab, config.text))


def code_vocabulary(ids, codes: dict) -> tuple[dict, Vocabulary, np.ndarray]:
    """Each token code of each transcript of ``ids`` as a row of its own: ``(tokens {id:
    ["<id>#0", "<id>#1", ...]}, their vocabulary, matrix (2 + tokens, hidden))``; rows 0 and 1
    (``<pad>``, ``<unk>``) are zeros."""
    missing = [i for i in ids if i not in codes]
    if missing:
        raise KeyError(f"no text codes for {len(missing)} utterance(s), e.g. {missing[:3]}; "
                       "rebuild the text-code cache from the manifest that lists them")
    ids = list(dict.fromkeys(ids))
    tokens = {i: [f"{i}#{k}" for k in range(len(codes[i]))] for i in ids}
    vocab = Vocabulary([*Vocabulary.SPECIALS, *(name for i in ids for name in tokens[i])])
    hidden = int(np.shape(codes[ids[0]])[1])
    matrix = np.concatenate([np.zeros((2, hidden), np.float32),
                             *(np.asarray(codes[i], np.float32) for i in ids)])
    return tokens, vocab, matrix
