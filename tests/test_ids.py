"""Ids are unique in the manifest and in the folds: a duplicate names both places."""

import dataclasses

import pytest

from emokit.data.folds import make_folds
from emokit.data.manifest import Utterance, read_manifest, write_manifest


def _rows(count=8):
    rows = []
    for i in range(count):
        session, gender = 1 + i % 2, "FM"[i // 2 % 2]
        uid = f"Ses0{session}{gender}_impro01_{gender}{i:03d}"
        rows.append(Utterance(uid, session, uid.rsplit("_", 1)[0], f"Ses0{session}{gender}",
                              gender, "impro", "neu", "neutral", 0.0, 1.0, 3.0, 3.0, 3.0,
                              "hello", f"Session{session}/sentences/wav/x/{uid}.wav", 1.0, 16000))
    return rows


def test_a_manifest_row_copied_twice_names_both_lines(tmp_path):
    path = write_manifest(_rows(), tmp_path / "manifest.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[3]]) + "\n")  # row of line 4 again, as line 10
    with pytest.raises(ValueError, match=r"manifest\.csv, line 10: utterance id \S+ is also on "
                                         r"line 4"):
        read_manifest(path)


def test_writing_a_manifest_with_a_duplicate_id_is_refused(tmp_path):
    rows = _rows()
    with pytest.raises(ValueError, match=f"{rows[2].id} is in rows 3 and 9"):
        write_manifest(rows + [rows[2]], tmp_path / "manifest.csv")
    assert not (tmp_path / "manifest.csv").exists()


def test_folds_refuse_an_id_given_twice():
    rows = _rows()
    copy = dataclasses.replace(rows[1], wav="Session2/sentences/wav/copy/elsewhere.wav")
    with pytest.raises(ValueError, match=rf"{rows[1].id} is given twice \(row 9: .*elsewhere"
                                         rf"\.wav; earlier: .*{rows[1].id}\.wav\)"):
        make_folds(rows + [copy], "session")
