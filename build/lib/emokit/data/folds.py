"""Speaker-independent cross-validation folds of IEMOCAP.

- ``"session"``: leave-one-session-out, 5 folds. The test session's two speakers are the test set;
  validation speaker(s) come from the *training* sessions: fold ``k`` (test session ``s``) takes
  them from session ``s + 1`` (wrapping round), alternating female/male from fold to fold, then
  from the sessions after it if more are asked for. The other speakers train.
- ``"speaker"``: leave-one-speaker-out, 10 folds. One speaker is the test set, the other speaker
  of the same session is the validation set, the other 8 speakers train.

Only labelled utterances (``label != ""``) are placed in folds; ids keep manifest order.

>>> folds = make_folds(utterances, "session")   # doctest: +SKIP
>>> folds[0].test_speakers, folds[0].val_speakers   # doctest: +SKIP
(('Ses01F', 'Ses01M'), ('Ses02F',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emokit.config.choices import PROTOCOLS
from emokit.core.errors import ConfigError, DataError
from emokit.data.manifest import Utterance


@dataclass(frozen=True)
class Fold:
    """One train/validation/test split; ids are in manifest order."""

    name: str
    test_speakers: tuple[str, ...]
    val_speakers: tuple[str, ...]
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    test_ids: tuple[str, ...]


def make_folds(utterances: Sequence[Utterance], protocol: str = "session",
               validation_speakers: int = 1) -> list[Fold]:
    """The folds of ``protocol`` ("session": 5 folds, "speaker": 10 folds) over labelled rows.

    ``validation_speakers`` is the number of training-session speakers held out for validation
    under the session protocol; the speaker protocol always validates on the test speaker's
    session partner.
    """
    labelled = [u for u in utterances if u.label]
    _check_unique_ids(utterances)
    if not labelled:
        raise DataError("no labelled utterances: every row has label=''; check the class set")
    sessions = _speakers_by_session(labelled)
    if protocol == "session":
        splits = _session_splits(sessions, validation_speakers)
    elif protocol == "speaker":
        splits = _speaker_splits(sessions)
    else:
        raise ConfigError([(f"protocol: unknown protocol {protocol!r}; choose one of "
                            f"{list(PROTOCOLS)}")])
    return [_fold(name, test, val, labelled) for name, test, val in splits]


def _check_unique_ids(utterances: Sequence[Utterance]) -> None:
    first: dict[str, Utterance] = {}
    for index, u in enumerate(utterances):
        if u.id in first:
            other = first[u.id]
            raise DataError(f"utterance id {u.id} is given twice (row {index + 1}: {u.wav}; "
                            f"earlier: {other.wav}); ids must be unique, or the utterance would "
                            "be trained or tested twice. Rebuild the manifest")
        first[u.id] = u


def _speakers_by_session(utterances: list[Utterance]) -> dict[int, list[str]]:
    sessions: dict[int, set[str]] = {}
    for u in utterances:
        sessions.setdefault(u.session, set()).add(u.speaker)
    return {s: sorted(sessions[s]) for s in sorted(sessions)}


def _session_splits(sessions: dict[int, list[str]], validation_speakers: int):
    order = list(sessions)
    if len(order) < 2:
        raise DataError(f"leave-one-session-out needs 2+ sessions, the manifest has {order}")
    for k, test_session in enumerate(order):
        later = order[k + 1:] + order[:k]  # the training sessions, next one first
        candidates = []
        for j, session in enumerate(later):
            speakers = sessions[session]
            shift = (k + j) % len(speakers)  # alternate female/male from fold to fold
            candidates += speakers[shift:] + speakers[:shift]
        if not 1 <= validation_speakers < len(candidates):
            raise ConfigError([(f"pipeline.validation_speakers: {validation_speakers} is too "
                                f"many; choose 1 to {len(candidates) - 1} (the training "
                                f"sessions have {len(candidates)} speakers)")])
        yield (f"session{test_session}", tuple(sessions[test_session]),
               tuple(candidates[:validation_speakers]))


def _speaker_splits(sessions: dict[int, list[str]]):
    for session, speakers in sessions.items():
        if len(speakers) < 2:
            raise DataError(f"session {session} has one speaker ({speakers}); leave-one-speaker-"
                             "out validates on the session's other speaker")
        for speaker in speakers:
            yield speaker, (speaker,), tuple(s for s in speakers if s != speaker)


def _fold(name: str, test: tuple[str, ...], val: tuple[str, ...],
          utterances: list[Utterance]) -> Fold:
    def ids(keep):
        return tuple(u.id for u in utterances if keep(u.speaker))

    return Fold(name=name, test_speakers=test, val_speakers=val,
                train_ids=ids(lambda s: s not in test and s not in val),
                val_ids=ids(lambda s: s in val), test_ids=ids(lambda s: s in test))
