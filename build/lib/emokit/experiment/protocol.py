"""The evaluation protocol: which folds, how they are described, and why random splits mislead.

Every number emokit prints names its protocol (:func:`describe_protocol`). :func:`random_split`
and :func:`leakage` show what an utterance-level random split shares with its training set.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from emokit.config import ExperimentConfig

PROTOCOL_NAMES = {"session": "leave-one-session-out", "speaker": "leave-one-speaker-out"}


def random_split(utterances, test_fraction: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """A random utterance-level split of the labelled rows -> ``(train_ids, test_ids)``: the
    optimistic protocol of many published numbers, for comparison only (see :func:`leakage`)."""
    ids = np.array([u.id for u in utterances if u.label])
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = round(test_fraction * len(ids))
    return list(ids[order[n_test:]]), list(ids[order[:n_test]])


def leakage(utterances, train_ids, test_ids) -> dict[str, float]:
    """What a test set shares with its training set: the fraction of test utterances whose
    speaker is among the training speakers, and whose transcript (tokenized) occurs verbatim in
    training, overall and for scripted and improvised turns (NaN where there are none; see
    :func:`emokit.data.overlap.transcript_overlap`)."""
    from emokit.data.overlap import transcript_overlap

    by_id = {u.id: u for u in utterances}
    speakers = {by_id[i].speaker for i in train_ids}
    overlap = transcript_overlap(utterances, train_ids, test_ids)
    return {"seen_speaker": float(np.mean([by_id[i].speaker in speakers for i in test_ids])),
            **{k: float("nan") if v is None else float(v) for k, v in overlap.items()
               if k.startswith("seen_")}}


def describe_protocol(config: ExperimentConfig, fold_numbers: list[int]) -> str:
    """E.g. ``leave-one-session-out, 5 folds x 1 seed, built-in corpus mini (seed 0, ...);
    accelerator: CPU settings (...)``; a subset of folds is named (``folds 1, 3 x 1 seed``). The
    last part says whether the GPU settings were applied (:mod:`emokit.config.accelerator`)."""
    from emokit.config.accelerator import describe_accelerator

    corpus = config.corpus
    source = (f"IEMOCAP release {corpus.root}" if corpus.root
              else f"built-in corpus {corpus.synthetic_size} (seed {corpus.synthetic_seed}, "
                   f"text_disagreement {corpus.text_disagreement:g}, audio_ambiguity "
                   f"{corpus.audio_ambiguity:g}, snr {corpus.snr_db:g} dB)")
    folds = (f"folds {', '.join(map(str, fold_numbers))}" if config.folds
             else f"{len(fold_numbers)} folds")
    seeds = len(config.seeds)
    dialogs = ", improvised dialogs only" if corpus.improvised_only else ""
    return (f"{PROTOCOL_NAMES[config.protocol]}, {folds} x {seeds} seed"
            f"{'s' if seeds != 1 else ''}, {source}{dialogs}; {describe_accelerator(config)}")


def select_folds(folds: list, wanted: list[int] | None) -> list[tuple[int, object]]:
    """``[(fold number, fold)]``; ``wanted`` None = all. A fold keeps its number when sessions
    are missing: leave-one-session-out fold k tests Session k, leave-one-speaker-out folds
    2k-1 and 2k test Session k's speakers (F then M)."""
    numbered = [(fold_number(fold, position), fold)
                for position, fold in enumerate(folds, start=1)]
    if wanted is None:
        return numbered
    present = dict(numbered)
    bad = sorted({k for k in wanted if k not in present})
    if bad:
        from emokit.core.errors import ConfigError

        problem = (f"folds: {bad} not available: the corpus gives folds {sorted(present)} (a "
                   "fold's session has no usable utterance, or the protocol has fewer folds); "
                   "choose among those")
        raise ConfigError([problem])
    return [(k, present[k]) for k in sorted(set(wanted))]


def fold_number(fold, position: int) -> int:
    """The number of ``fold``: its session's (``session3`` -> 3), its speaker's place among the
    ten (``Ses03M`` -> 6), else ``position``."""
    import re

    name = getattr(fold, "name", "")
    m = re.fullmatch(r"session(\d+)", name, re.ASCII)
    if m:
        return int(m[1])
    m = re.fullmatch(r"Ses(\d\d)([FM])", name, re.ASCII)
    if m:
        return 2 * (int(m[1]) - 1) + (1 if m[2] == "F" else 2)
    return position


def folds_record(folds: list[tuple[int, object]], utterances=None, lowercase: bool = True) -> str:
    """JSON of every fold's speakers and ids (written next to the runs for auditing); with the
    manifest's ``utterances``, also each fold's transcript overlap
    (:func:`emokit.data.overlap.fold_overlap`: ``seen_transcript``, ``seen_transcript_scripted``,
    ``seen_transcript_improvised``, ``test_scripted``, ``scripted_test_ids``, and the validation
    set's ``val_turns``, ``val_seen_transcript``, ``val_seen_transcript_scripted``, ...),
    tokenized with ``lowercase`` as the text pipeline does."""
    from emokit.data.overlap import fold_overlap

    return json.dumps([{"fold": k, **dataclasses.asdict(f),
                        **(fold_overlap(utterances, f, lowercase) if utterances else {})}
                       for k, f in folds], indent=1)
