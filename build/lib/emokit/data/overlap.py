"""IEMOCAP's scripted overlap: scripted test turns whose very line is in the training set.

IEMOCAP's scripted dialogs (``script01_1`` ...) are the same plays in all five sessions, so
leave-one-session-out, which keeps every test *speaker* out of training, still leaves most
scripted test *transcripts* in it: a text model can recall a line it was trained on instead of
reading its emotion. Improvised dialogs do not repeat. This module measures that overlap and what
it does to the numbers:

- :func:`transcript_overlap`: the share of test utterances whose transcript occurs verbatim in the
  training set (tokenized as the text pipeline tokenizes, :func:`emokit.data.text.tokenize`), overall
  and per dialog mode; :func:`emokit.experiment.protocol.folds_record` writes it per fold to
  ``folds.json``, and :mod:`emokit.evaluation.modes` reports what it does to the numbers;
- :func:`improvised_only`: the experiment restricted to improvised dialogs
  (``corpus.improvised_only: true``).

A turn is scripted when its manifest row says ``mode == "script"`` (the dialog name holds
``script``; ``impro`` otherwise, see :mod:`data_prep.iemocap`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

MODES = ("impro", "script")
MODE_NAMES = {"impro": "improvised", "script": "scripted"}
FOLDS_FILE = "folds.json"


def transcript_key(transcript: str, lowercase: bool = True) -> str:
    """A transcript as the text pipeline reads it: its tokens joined by spaces (non-speech tokens
    and punctuation dropped, lowercased unless ``lowercase`` is False)."""
    from emokit.data.text import tokenize

    return " ".join(tokenize(transcript, lowercase))


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def transcript_overlap(utterances, train_ids: Iterable[str], test_ids: Sequence[str],
                       lowercase: bool = True) -> dict:
    """What a test set's transcripts share with its training set: ``seen_transcript`` (the share
    of test utterances whose tokenized transcript occurs verbatim in training),
    ``seen_transcript_scripted`` and ``seen_transcript_improvised`` (the same within each dialog
    mode; None when the test set has no turn of that mode) and ``test_scripted`` (how many test
    turns are scripted)."""
    by_id = {u.id: u for u in utterances}
    seen_texts = {transcript_key(by_id[i].transcript, lowercase) for i in train_ids}
    test = [by_id[i] for i in test_ids]
    seen = [transcript_key(u.transcript, lowercase) in seen_texts for u in test]
    by_mode = {m: [s for s, u in zip(seen, test, strict=True) if u.mode == m] for m in MODES}
    return {"seen_transcript": _share(seen),
            "seen_transcript_scripted": _share(by_mode["script"]),
            "seen_transcript_improvised": _share(by_mode["impro"]),
            "test_scripted": len(by_mode["script"])}


def validation_overlap(utterances, fold, lowercase: bool = True) -> dict:
    """:func:`transcript_overlap` of ``fold``'s validation set against its training ids, its keys
    prefixed ``val_`` (``val_seen_transcript``, ``val_seen_transcript_scripted``, ...,
    ``val_scripted``), plus ``val_turns``: early stopping picks the epoch on these turns, so a
    validation set of recalled scripted lines rewards recall."""
    seen = transcript_overlap(utterances, fold.train_ids, fold.val_ids, lowercase)
    seen["scripted"] = seen.pop("test_scripted")
    return {"val_turns": len(fold.val_ids), **{f"val_{k}": v for k, v in seen.items()}}


def fold_overlap(utterances, fold, lowercase: bool = True) -> dict:
    """:func:`transcript_overlap` of ``fold``'s test set against its training ids, plus
    ``scripted_test_ids`` (what :func:`ua_by_mode` splits a run's predictions by) and the
    validation set's overlap (:func:`validation_overlap`)."""
    by_id = {u.id: u for u in utterances}
    return {**transcript_overlap(utterances, fold.train_ids, fold.test_ids, lowercase),
            "scripted_test_ids": [i for i in fold.test_ids if by_id[i].mode == "script"],
            **validation_overlap(utterances, fold, lowercase)}


def repeated_transcripts(utterances, lowercase: bool = True) -> dict[str, dict]:
    """Per dialog mode (``impro``, ``script``): ``turns``, ``distinct`` transcripts, and
    ``in_other_sessions``, the share of turns whose transcript also occurs in another session
    (what leave-one-session-out leaves in training)."""
    sessions: dict[str, set[int]] = defaultdict(set)
    keys = {u.id: transcript_key(u.transcript, lowercase) for u in utterances}
    for u in utterances:
        sessions[keys[u.id]].add(u.session)
    out = {}
    for mode in MODES:
        mine = [u for u in utterances if u.mode == mode]
        out[mode] = {"turns": len(mine), "distinct": len({keys[u.id] for u in mine}),
                     "in_other_sessions": _share([bool(sessions[keys[u.id]] - {u.session})
                                                  for u in mine])}
    return out


def improvised_only(utterances: list, corpus_config) -> list:
    """``utterances`` without scripted dialogs when ``corpus_config.improvised_only`` is set
    (otherwise unchanged). Refuses a corpus left without any utterance."""
    if not corpus_config.improvised_only:
        return utterances
    kept = [u for u in utterances if u.mode == "impro"]
    if not kept:
        from emokit.core.errors import ConfigError

        raise ConfigError([("corpus.improvised_only: the corpus has no improvised dialog (every "
                            "manifest row has mode 'script'); set it to false")])
    return kept
