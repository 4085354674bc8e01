"""Leave-one-session-out and leave-one-speaker-out folds are speaker independent."""

import itertools

import pytest

from emokit.data.folds import make_folds
from emokit.data.manifest import Utterance


def utterance(session, gender, n, label="neutral"):
    uid = f"Ses0{session}F_impro01_{gender}{n:03d}"
    return Utterance(id=uid, session=session, dialog=uid.rsplit("_", 1)[0],
                     speaker=f"Ses0{session}{gender}", gender=gender, mode="impro",
                     raw_label="neu" if label else "fru", label=label, start=0.0, end=1.0,
                     valence=3.0, arousal=3.0, dominance=3.0, transcript="hello", wav="x.wav",
                     duration=1.0, sample_rate=16000)


CORPUS = [utterance(s, g, n, label="" if n == 3 else "neutral")
          for s in range(1, 6) for g in "FM" for n in range(4)]
LABELLED = {u.id for u in CORPUS if u.label}
SPEAKER = {u.id: u.speaker for u in CORPUS}


def speakers(ids):
    return {SPEAKER[i] for i in ids}


@pytest.mark.parametrize("protocol, count", [("session", 5), ("speaker", 10)])
def test_folds_are_speaker_disjoint_and_cover_every_labelled_utterance_once(protocol, count):
    folds = make_folds(CORPUS, protocol)
    assert len(folds) == count
    for fold in folds:
        parts = [speakers(fold.train_ids), speakers(fold.val_ids), speakers(fold.test_ids)]
        for a, b in itertools.combinations(parts, 2):
            assert not a & b, fold
        assert speakers(fold.test_ids) == set(fold.test_speakers)
        assert speakers(fold.val_ids) == set(fold.val_speakers)
        assert set(fold.train_ids) | set(fold.val_ids) | set(fold.test_ids) == LABELLED
    test_ids = [i for fold in folds for i in fold.test_ids]
    assert sorted(test_ids) == sorted(LABELLED)  # each labelled utterance in one test fold


def test_session_folds_validate_on_another_session_rotating_gender():
    folds = make_folds(CORPUS, "session")
    assert [f.name for f in folds] == [f"session{s}" for s in range(1, 6)]
    assert folds[0].test_speakers == ("Ses01F", "Ses01M")
    assert [f.val_speakers for f in folds] == [("Ses02F",), ("Ses03M",), ("Ses04F",),
                                               ("Ses05M",), ("Ses01F",)]
    assert len(speakers(folds[0].train_ids)) == 7


def test_more_validation_speakers_come_from_training_sessions():
    for fold in make_folds(CORPUS, "session", validation_speakers=3):
        assert len(fold.val_speakers) == 3
        assert not set(fold.val_speakers) & set(fold.test_speakers)
    with pytest.raises(ValueError, match="pipeline.validation_speakers: 8 is too many"):
        make_folds(CORPUS, "session", validation_speakers=8)


def test_speaker_folds_validate_on_the_session_partner():
    folds = make_folds(CORPUS, "speaker")
    assert folds[0].name == "Ses01F"
    assert folds[0].val_speakers == ("Ses01M",)
    assert folds[1].test_speakers == ("Ses01M",) and folds[1].val_speakers == ("Ses01F",)


def test_ids_keep_manifest_order():
    fold = make_folds(CORPUS, "session")[2]
    order = [u.id for u in CORPUS]
    for ids in (fold.train_ids, fold.val_ids, fold.test_ids):
        assert list(ids) == sorted(ids, key=order.index)


def test_bad_protocol_and_corpus_are_refused():
    with pytest.raises(ValueError, match="protocol"):
        make_folds(CORPUS, "random")
    with pytest.raises(ValueError, match="2\\+ sessions"):
        make_folds([u for u in CORPUS if u.session == 1], "session")
    with pytest.raises(ValueError, match="no labelled"):
        make_folds([u for u in CORPUS if not u.label], "session")


def test_folds_keep_their_session_numbers_when_a_session_is_missing():
    """Session 3 absent: fold 4 still tests Session 4, fold 3 is refused naming what is there."""
    from emokit.core.errors import ConfigError
    from emokit.experiment.protocol import select_folds

    rows = [utterance(s, g, n) for s in (1, 2, 4, 5) for g in "FM" for n in range(3)]
    numbered = select_folds(make_folds(rows, "session"), [4])
    assert [(k, f.test_speakers) for k, f in numbered] == [(4, ("Ses04F", "Ses04M"))]
    with pytest.raises(ConfigError, match=r"folds: \[3\] not available.*\[1, 2, 4, 5\]"):
        select_folds(make_folds(rows, "session"), [3])
    by_speaker = dict(select_folds(make_folds(rows, "speaker"), None))
    assert by_speaker[8].test_speakers == ("Ses04M",) and 5 not in by_speaker
