"""The release parser: against the generator's ground truth, on damaged copies, and line by line."""

import csv
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data_prep import iemocap, synthetic
from emokit import labels
from emokit.manifest import FIELDS, read_manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One mini corpus for the whole file: (release root, ground-truth rows)."""
    out = tmp_path_factory.mktemp("mini")
    root = synthetic.generate(out, size="mini", seed=3)
    with open(out / "ground_truth.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    return root, truth


@pytest.fixture
def damaged(corpus, tmp_path):
    """A fresh copy of the mini release to damage."""
    return Path(shutil.copytree(corpus[0], tmp_path / iemocap.RELEASE_DIR))


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first line containing ``old`` by ``new``; returns its 1-based line number."""
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if old in line)
    lines[index] = new
    path.write_text("\n".join(lines) + "\n")
    return index + 1


def _first_utterance(root: Path, session: int = 1):
    dialog = min((root / f"Session{session}/dialog/EmoEvaluation").glob("*.txt")).stem
    rows = [u for u in iemocap.parse_release(root, sessions=[session]) if u.dialog == dialog]
    return rows[0]


def test_parser_reproduces_every_field_of_the_ground_truth(corpus):
    root, truth = corpus
    rows = iemocap.parse_release(root)
    assert [u.id for u in rows] == [t["id"] for t in truth]
    casts = {"session": int, "sample_rate": int, "start": float, "end": float, "valence": float,
             "arousal": float, "dominance": float, "duration": float}
    for u, t in zip(rows, truth):
        for name in FIELDS:
            expected = casts.get(name, str)(t[name])
            assert getattr(u, name) == pytest.approx(expected, abs=1e-9), (u.id, name)


def test_labels_outside_the_class_set_are_kept_with_an_empty_label(corpus):
    rows = iemocap.parse_release(corpus[0])
    outside = {u.raw_label for u in rows if not u.label}
    assert outside == {"fru", "xxx", "sur", "fea", "oth", "dis"}
    assert all(u.label == labels.to_class(u.raw_label) for u in rows if u.label)
    six = iemocap.parse_release(corpus[0], class_set="6class")
    assert {u.label for u in six if u.raw_label == "exc"} == {"excited"}


def test_unlabelled_xx_turns_are_transcribed_but_not_in_the_manifest(corpus):
    root = corpus[0]
    transcribed = [line.split()[0] for p in root.glob("Session*/dialog/transcriptions/*.txt")
                   for line in p.read_text().splitlines()]
    xx = [uid for uid in transcribed if "XX" in uid.rsplit("_", 1)[1]]
    assert xx, "the mini corpus should exercise unlabelled XX turns"
    ids = {u.id for u in iemocap.parse_release(root)}
    assert not ids & set(xx)
    assert ids | set(xx) == set(transcribed)


def test_count_table_matches_the_manifest(corpus):
    rows = iemocap.parse_release(corpus[0])
    table = iemocap.count_table(rows).splitlines()
    names = labels.class_names("4class")
    assert table[0].split() == ["session", *names, "total"]
    for s in range(1, 6):
        expected = [sum(u.session == s and u.label == n for u in rows) for n in names]
        line = next(line for line in table if line.startswith(f"Session{s}"))
        assert line.split()[1:] == [str(c) for c in expected + [sum(expected)]]
    total = next(line for line in table if line.startswith("total"))
    assert total.split()[-1] == str(sum(bool(u.label) for u in rows))


def test_cli_writes_the_manifest_and_prints_the_table(corpus, tmp_path, capsys):
    out = tmp_path / "manifest.csv"
    assert iemocap.main(["--root", str(corpus[0]), "--out", str(out)]) == 0
    assert [u.id for u in read_manifest(out)] == [t["id"] for t in corpus[1]]
    assert "Session5" in capsys.readouterr().out
    assert synthetic.release_root(out) == corpus[0].resolve()


# ------------------------------------------------------------------------------- bad input


def test_missing_wav_is_reported_with_its_path(damaged):
    u = _first_utterance(damaged)
    (damaged / u.wav).unlink()
    with pytest.raises(iemocap.ReleaseError, match=f"{u.wav}.*wav file missing"):
        iemocap.parse_release(damaged)


def test_unreadable_wav_is_reported(damaged):
    u = _first_utterance(damaged)
    (damaged / u.wav).write_bytes(b"not a wav file")
    with pytest.raises(iemocap.ReleaseError, match="unreadable"):
        iemocap.parse_release(damaged)


def test_label_line_that_does_not_parse_names_file_and_line(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/EmoEvaluation/{u.dialog}.txt"
    line_no = _edit(path, u.id, f"[1.0 - ]\t{u.id}\tneu")
    rel = f"Session1/dialog/EmoEvaluation/{u.dialog}.txt:{line_no}"
    with pytest.raises(iemocap.ReleaseError, match=f"{rel}: not a label line"):
        iemocap.parse_release(damaged)


def test_unknown_label_is_reported(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/EmoEvaluation/{u.dialog}.txt"
    line = next(x for x in path.read_text().splitlines() if u.id in x)
    _edit(path, u.id, line.replace(f"\t{u.raw_label}\t", "\thappy\t"))
    with pytest.raises(iemocap.ReleaseError, match="unknown label 'happy'"):
        iemocap.parse_release(damaged)


def test_label_without_transcript_and_transcript_without_label(damaged):
    rows = [u for u in iemocap.parse_release(damaged, sessions=[2])]
    first, second = rows[0], rows[1]
    transcripts = damaged / f"Session2/dialog/transcriptions/{first.dialog}.txt"
    _edit(transcripts, first.id + " ", "")
    label_file = damaged / f"Session2/dialog/EmoEvaluation/{second.dialog}.txt"
    _edit(label_file, f"\t{second.id}\t", "")
    with pytest.raises(iemocap.ReleaseError) as err:
        iemocap.parse_release(damaged)
    message = str(err.value)
    assert f"[{first.id}]: labelled but not transcribed" in message
    assert f"[{second.id}]: transcribed but not labelled" in message


@pytest.mark.parametrize("text", ["", "[LAUGHTER]", "[BREATHING] [LAUGHTER]"])
def test_transcript_without_words_is_reported(damaged, text):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/transcriptions/{u.dialog}.txt"
    line_no = _edit(path, u.id + " ", iemocap.format_transcript_line(u.id, u.start, u.end, text))
    with pytest.raises(iemocap.ReleaseError, match=f":{line_no} \\[{u.id}\\]: transcript .* no words"):
        iemocap.parse_release(damaged)


def test_non_speech_tokens_are_kept_in_the_transcript(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/transcriptions/{u.dialog}.txt"
    text = "[LAUGHTER] Oh well, [BREATHING] fine."
    _edit(path, u.id + " ", iemocap.format_transcript_line(u.id, u.start, u.end, text))
    parsed = {r.id: r for r in iemocap.parse_release(damaged)}
    assert parsed[u.id].transcript == text


def test_missing_session_is_an_error_unless_sessions_are_limited(damaged):
    shutil.rmtree(damaged / "Session5")
    with pytest.raises(ValueError, match=r"lacks session\(s\) \[5\].*--sessions 1 2 3 4"):
        iemocap.parse_release(damaged)
    rows = iemocap.parse_release(damaged, sessions=[1, 2, 3, 4])
    assert {u.session for u in rows} == {1, 2, 3, 4}


def test_root_that_is_not_a_release_says_what_was_expected(damaged, tmp_path):
    with pytest.raises(ValueError, match="pass that folder"):
        iemocap.parse_release(damaged.parent)  # the folder above the release
    with pytest.raises(ValueError, match="expected the IEMOCAP_full_release folder"):
        iemocap.parse_release(damaged / "Session1")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        iemocap.parse_release(tmp_path / "nowhere")


def test_many_problems_are_listed_in_one_error(damaged):
    wavs = sorted(damaged.glob("Session3/sentences/wav/*/*.wav"))[:25]
    for wav in wavs:
        wav.unlink()
    with pytest.raises(iemocap.ReleaseError) as err:
        iemocap.parse_release(damaged)
    assert len(err.value.problems) == 25
    assert str(err.value).count("wav file missing") == iemocap.MAX_LISTED_PROBLEMS
    assert "... and 5 more" in str(err.value)


def test_skip_missing_skips_only_the_problems_and_reports_them(damaged, tmp_path, capsys):
    u = _first_utterance(damaged)
    (damaged / u.wav).unlink()
    everything = len(iemocap.scan_release(damaged)[0]) + 1
    rows = iemocap.parse_release(damaged, skip_missing=True)
    assert len(rows) == everything - 1 and u.id not in {r.id for r in rows}
    out = tmp_path / "manifest.csv"
    assert iemocap.main(["--root", str(damaged), "--out", str(out)]) == 1
    assert "wav file missing" in capsys.readouterr().err and not out.exists()
    assert iemocap.main(["--root", str(damaged), "--out", str(out), "--skip-missing"]) == 0
    with open(tmp_path / "manifest.skipped.csv", newline="") as f:
        skipped = list(csv.DictReader(f))
    assert [(s["utterance"], s["file"]) for s in skipped] == [(u.id, u.wav)]


# ------------------------------------------------------------------------------- line formats


def test_label_and_transcript_lines_as_the_release_writes_them():
    line = iemocap.parse_label_line(
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]")
    assert line == iemocap.LabelLine(6.2901, 8.2357, "Ses01F_impro01_F000", "neu", 2.5, 2.5, 2.5)
    assert iemocap.parse_label_line("C-E2:\tNeutral;\t()") is None
    assert iemocap.parse_transcript_line(
        "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.") == ("Ses01F_impro01_F000", "Excuse me.")
    assert iemocap.dialog_of("Ses05M_script01_1b_M012") == "Ses05M_script01_1b"


_ids = st.from_regex(r"Ses0[1-5][FM]_(impro0[1-8]|script0[1-3]_[1-3]b?)_[FM][0-9]{3}",
                     fullmatch=True)
_times = st.integers(0, 99_999_999).map(lambda n: n / 10_000)
_scores = st.integers(10_000, 50_000).map(lambda n: n / 10_000)


@given(start=_times, length=_times, uid=_ids, raw=st.sampled_from(sorted(labels.RAW_LABELS)),
       v=_scores, a=_scores, d=_scores)
def test_label_line_round_trip(start, length, uid, raw, v, a, d):
    line = iemocap.LabelLine(start, round(start + length, 4), uid, raw, v, a, d)
    assert iemocap.parse_label_line(iemocap.format_label_line(line)) == line


@given(uid=_ids, text=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                              min_size=1).map(str.strip).filter(bool))
def test_transcript_line_round_trip(uid, text):
    line = iemocap.format_transcript_line(uid, 6.2901, 8.2357, text)
    assert iemocap.parse_transcript_line(line) == (uid, text)
