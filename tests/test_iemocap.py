"""The release parser: against the generator's ground truth, on damaged copies, and line by line."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import iemocap, synthetic, synthetic_writer
from data_prep.iemocap_format import (
    RELEASE_DIR,
    LabelLine,
    dialog_of,
    format_label_line,
    format_transcript_line,
    parse_label_line,
    parse_transcript_line,
)
from data_prep.iemocap_problems import MAX_LISTED_PROBLEMS, EncodingNote, Problem, ReleaseError
from emokit.config import CorpusConfig, labels
from emokit.data.manifest import FIELDS, read_manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One mini corpus for the whole file: (release root, ground-truth rows)."""
    out = tmp_path_factory.mktemp("mini")
    root = synthetic_writer.generate(out, CorpusConfig(synthetic_seed=3))
    with open(out / "ground_truth.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    return root, truth


@pytest.fixture
def damaged(corpus, tmp_path):
    """A fresh copy of the mini release to damage."""
    return Path(shutil.copytree(corpus[0], tmp_path / RELEASE_DIR))


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
    with pytest.raises(ReleaseError, match=f"{u.wav}.*wav file missing"):
        iemocap.parse_release(damaged)


def test_unreadable_wav_is_reported(damaged):
    u = _first_utterance(damaged)
    (damaged / u.wav).write_bytes(b"not a wav file")
    with pytest.raises(ReleaseError, match="unreadable"):
        iemocap.parse_release(damaged)


def test_label_line_that_does_not_parse_names_file_and_line(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/EmoEvaluation/{u.dialog}.txt"
    line_no = _edit(path, u.id, f"[1.0 - ]\t{u.id}\tneu")
    rel = f"Session1/dialog/EmoEvaluation/{u.dialog}.txt:{line_no}"
    with pytest.raises(ReleaseError, match=f"{rel}: not a label line"):
        iemocap.parse_release(damaged)


def test_unknown_label_is_reported(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/EmoEvaluation/{u.dialog}.txt"
    line = next(x for x in path.read_text().splitlines() if u.id in x)
    _edit(path, u.id, line.replace(f"\t{u.raw_label}\t", "\thappy\t"))
    with pytest.raises(ReleaseError, match="unknown label 'happy'"):
        iemocap.parse_release(damaged)


def test_label_without_transcript_and_transcript_without_label(damaged):
    rows = [u for u in iemocap.parse_release(damaged, sessions=[2])]
    first, second = rows[0], rows[1]
    transcripts = damaged / f"Session2/dialog/transcriptions/{first.dialog}.txt"
    _edit(transcripts, first.id + " ", "")
    label_file = damaged / f"Session2/dialog/EmoEvaluation/{second.dialog}.txt"
    _edit(label_file, f"\t{second.id}\t", "")
    with pytest.raises(ReleaseError) as err:
        iemocap.parse_release(damaged)
    message = str(err.value)
    assert f"[{first.id}]: labelled but not transcribed" in message
    assert f"[{second.id}]: transcribed but not labelled" in message


@pytest.mark.parametrize("text", ["", "[LAUGHTER]", "[BREATHING] [LAUGHTER]"])
def test_transcript_without_words_is_reported(damaged, text):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/transcriptions/{u.dialog}.txt"
    line_no = _edit(path, u.id + " ", format_transcript_line(u.id, u.start, u.end, text))
    with pytest.raises(ReleaseError, match=f":{line_no} \\[{u.id}\\]: transcript .* no words"):
        iemocap.parse_release(damaged)


def test_non_speech_tokens_are_kept_in_the_transcript(damaged):
    u = _first_utterance(damaged)
    path = damaged / f"Session1/dialog/transcriptions/{u.dialog}.txt"
    text = "[LAUGHTER] Oh well, [BREATHING] fine."
    _edit(path, u.id + " ", format_transcript_line(u.id, u.start, u.end, text))
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
    with pytest.raises(ReleaseError) as err:
        iemocap.parse_release(damaged)
    assert len(err.value.problems) == 25
    assert str(err.value).count("wav file missing") == MAX_LISTED_PROBLEMS
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
    line = parse_label_line(
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]")
    assert line == LabelLine(6.2901, 8.2357, "Ses01F_impro01_F000", "neu", 2.5, 2.5, 2.5)
    assert parse_label_line("C-E2:\tNeutral;\t()") is None
    assert parse_transcript_line(
        "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.") == ("Ses01F_impro01_F000", "Excuse me.")
    assert dialog_of("Ses05M_script01_1b_M012") == "Ses05M_script01_1b"


_ids = st.from_regex(r"Ses0[1-5][FM]_(impro0[1-8]|script0[1-3]_[1-3]b?)_[FM][0-9]{3}",
                     fullmatch=True)
_times = st.integers(0, 99_999_999).map(lambda n: n / 10_000)
_scores = st.integers(10_000, 50_000).map(lambda n: n / 10_000)


@given(start=_times, length=_times, uid=_ids, raw=st.sampled_from(sorted(labels.RAW_LABELS)),
       v=_scores, a=_scores, d=_scores)
def test_label_line_round_trip(start, length, uid, raw, v, a, d):
    line = LabelLine(start, round(start + length, 4), uid, raw, v, a, d)
    assert parse_label_line(format_label_line(line)) == line


@given(uid=_ids, text=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                              min_size=1).map(str.strip).filter(bool))
def test_transcript_line_round_trip(uid, text):
    line = format_transcript_line(uid, 6.2901, 8.2357, text)
    assert parse_transcript_line(line) == (uid, text)


# ------------------------------------------------------------------------------- issue 10: bad input


def _transcript_path(root: Path, u) -> Path:
    return root / f"Session{u.session}/dialog/transcriptions/{u.dialog}.txt"


def _label_path(root: Path, u) -> Path:
    return root / f"Session{u.session}/dialog/EmoEvaluation/{u.dialog}.txt"


def test_wav_whose_data_chunk_is_cut_short_is_flagged_and_skippable(damaged, tmp_path):
    u = _first_utterance(damaged)
    data = (damaged / u.wav).read_bytes()
    (damaged / u.wav).write_bytes(data[:len(data) * 2 // 3])  # header still claims all of it
    with pytest.raises(ReleaseError, match=f"{u.wav} \\[{u.id}\\]: wav file is truncated"):
        iemocap.parse_release(damaged)
    rows = iemocap.parse_release(damaged, skip_missing=True)
    assert u.id not in {r.id for r in rows} and len(rows) > 300
    out = tmp_path / "m.csv"
    assert iemocap.main(["--root", str(damaged), "--out", str(out), "--skip-missing"]) == 0
    assert "truncated" in (tmp_path / "m.skipped.csv").read_text()


def test_wav_far_shorter_than_its_label_is_flagged(damaged):
    import soundfile

    u = _first_utterance(damaged)
    wave, rate = soundfile.read(damaged / u.wav)
    soundfile.write(damaged / u.wav, wave[: len(wave) // 5], rate)  # a whole, valid, short file
    with pytest.raises(ReleaseError, match=f"\\[{u.id}\\]: wav file holds .* but its "
                                           "label spans"):
        iemocap.parse_release(damaged)


def test_windows_1252_transcript_is_decoded_and_said(damaged):
    u = _first_utterance(damaged)
    path = _transcript_path(damaged, u)
    line_no = _edit(path, u.id + " ", format_transcript_line(u.id, u.start, u.end,
                                                             "I won\u2019t go."))
    path.write_bytes(path.read_bytes().replace("\u2019".encode(), b"\x92"))  # cp1252 byte
    with pytest.warns(EncodingNote, match=f"{u.dialog}.txt: line\\(s\\) \\[{line_no}\\] "
                                          "are not UTF-8; decoded as Windows-1252"):
        rows = {r.id: r for r in iemocap.parse_release(damaged)}
    assert rows[u.id].transcript == "I won\u2019t go."  # never "won\ufffdt"
    from emokit.data.text import tokenize

    assert tokenize(rows[u.id].transcript) == ["i", "won't", "go"]


def test_byte_order_marks_are_honoured_and_said(damaged):
    u = _first_utterance(damaged)
    label, transcript = _label_path(damaged, u), _transcript_path(damaged, u)
    label.write_bytes(b"\xef\xbb\xbf" + label.read_bytes())  # UTF-8 BOM
    transcript.write_bytes(transcript.read_text().encode("utf-16"))  # UTF-16 with BOM
    with pytest.warns(EncodingNote) as notes:
        rows = {r.id: r for r in iemocap.parse_release(damaged)}
    said = " ".join(str(n.message) for n in notes)
    assert "UTF-8 with a byte-order mark" in said and "UTF-16" in said
    assert u.id in rows and rows[u.id].transcript == u.transcript


def test_bytes_of_no_known_encoding_name_file_line_and_byte(damaged):
    u = _first_utterance(damaged)
    path = _transcript_path(damaged, u)
    line_no = _edit(path, u.id + " ", format_transcript_line(u.id, u.start, u.end, "ab"))
    path.write_bytes(path.read_bytes().replace(b": ab", b": a\x81\xc3b"))  # 0x81: not cp1252
    rel = f"Session1/dialog/transcriptions/{u.dialog}.txt:{line_no}"
    with pytest.raises(ReleaseError, match=f"{rel}: byte 0x81 at column .* neither "
                                           "UTF-8 nor cp1252"):
        iemocap.parse_release(damaged)


def test_utf16_without_a_mark_is_named(damaged):
    u = _first_utterance(damaged)
    path = _transcript_path(damaged, u)
    path.write_bytes(path.read_text().encode("utf-16-le"))
    with pytest.raises(ReleaseError) as err:
        iemocap.parse_release(damaged)
    assert "UTF-16 without a byte-order mark" in str(err.value)
    assert len(err.value.problems) < 5  # one clear problem, not a flood of garbled lines


def test_dialog_copied_into_another_session_is_an_error_naming_both(damaged):
    u = _first_utterance(damaged)
    for sub in ("EmoEvaluation", "transcriptions"):
        shutil.copy(damaged / f"Session1/dialog/{sub}/{u.dialog}.txt",
                    damaged / f"Session2/dialog/{sub}/{u.dialog}.txt")
    shutil.copytree(damaged / f"Session1/sentences/wav/{u.dialog}",
                    damaged / f"Session2/sentences/wav/{u.dialog}")
    with pytest.raises(ReleaseError, match=f"Session2/dialog/EmoEvaluation/{u.dialog}.txt: "
                                           f"dialog {u.dialog} belongs to Session1"):
        iemocap.parse_release(damaged)
    rows = iemocap.parse_release(damaged, skip_missing=True)
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))


def test_an_id_labelled_in_two_files_names_both(damaged):
    """Within one session (where the dialog check cannot see it), a dialog's label file read a
    second time reports each id with the place it was first labelled."""
    first = _first_utterance(damaged)
    label = _label_path(damaged, first)
    seen: dict[str, str] = {}
    problems: list = []
    assert iemocap._scan_dialog(damaged, label, "4class", problems, seen)
    assert iemocap._scan_dialog(damaged, label, "4class", problems, seen) == []
    assert any(p.utterance == first.id and "also labelled at" in p.message and
               f"{label.relative_to(damaged)}:" in p.message for p in problems)


@pytest.mark.parametrize("start, end", [(5.0, 3.0), (2.0, 2.0), (-1.0, 2.0)])
def test_impossible_label_times_are_reported(damaged, start, end):
    u = _first_utterance(damaged)
    path = _label_path(damaged, u)
    line = LabelLine(start, end, u.id, u.raw_label, 2.5, 2.5, 2.5)
    line_no = _edit(path, f"\t{u.id}\t", format_label_line(line))
    with pytest.raises(ReleaseError, match=f":{line_no} \\[{u.id}\\]: impossible times"):
        iemocap.parse_release(damaged)


def test_macos_appledouble_and_hidden_files_are_ignored(damaged, corpus):
    junk = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "  # an AppleDouble header
    for folder in ("Session1/dialog/EmoEvaluation", "Session1/dialog/transcriptions"):
        for path in list((damaged / folder).glob("*.txt")):
            (path.parent / f"._{path.name}").write_bytes(junk)
        (damaged / folder / ".DS_Store").write_bytes(junk)
    for wav in list((damaged / "Session1/sentences/wav").glob("*/*.wav"))[:5]:
        (wav.parent / f"._{wav.name}").write_bytes(junk)
    assert [r.id for r in iemocap.parse_release(damaged)] == [t["id"] for t in corpus[1]]


# ------------------------------------------------------------------------ issue 16: every shape


def _problems(root: Path, sessions=(1, 2, 3, 4, 5)) -> str:
    _, problems = iemocap.scan_release(root, sessions=sessions)
    return "\n".join(map(str, problems))


def test_a_transcript_line_whose_id_has_no_underscore_is_a_listed_problem(damaged):
    u = _first_utterance(damaged)
    path = _transcript_path(damaged, u)
    path.write_text(path.read_text() + "Comment [0.0000-1.0000]: recording restarted\n")
    assert "'Comment' is not an utterance id" in _problems(damaged, [1])


def test_dangling_label_and_transcript_links_are_listed(damaged):
    u = _first_utterance(damaged)
    for path in (_label_path(damaged, u), _transcript_path(damaged, u)):
        path.unlink()
        path.symlink_to(damaged / "nowhere" / path.name)
    problems = _problems(damaged, [1])
    assert f"EmoEvaluation/{u.dialog}.txt: a broken link" in problems
    assert f"transcriptions/{u.dialog}.txt: a broken link" in problems


def test_a_session_left_without_a_usable_utterance_is_refused_even_when_skipping(damaged):
    for path in (damaged / "Session3/sentences/wav").rglob("*.wav"):
        path.unlink()
    assert "Session3: no usable utterance" in _problems(damaged)
    with pytest.raises(ReleaseError, match=r"session\(s\) \[3\] have no usable"):
        iemocap.parse_release(damaged, skip_missing=True)


def test_an_all_unlabelled_release_is_refused_not_written_empty(damaged, tmp_path, capsys):
    for path in damaged.glob("Session*/dialog/EmoEvaluation/*.txt"):
        text = path.read_text()
        for raw in labels.RAW_LABELS:
            text = text.replace(f"\t{raw}\t", "\txxx\t")
        path.write_text(text)
    out = tmp_path / "m.csv"
    assert iemocap.main(["--root", str(damaged), "--out", str(out), "--skip-missing"]) == 1
    assert "no utterance with a label of the class set" in capsys.readouterr().err
    assert not out.exists()


def test_non_ascii_digits_in_an_id_are_not_a_second_copy(damaged):
    u = _first_utterance(damaged)
    path = _label_path(damaged, u)
    line = next(x for x in path.read_text().splitlines() if f"\t{u.id}\t" in x)
    arabic = u.id[:-3] + "".join(chr(0x0660 + int(c)) for c in u.id[-3:])
    path.write_text(path.read_text() + line.replace(u.id, arabic) + "\n")
    rows, problems = iemocap.scan_release(damaged, sessions=[1])
    assert arabic not in {r.id for r in rows}
    assert any(p.utterance == arabic and "not an utterance id" in p.message for p in problems)


def test_an_id_too_long_for_a_file_name_is_listed(damaged):
    dialog = "Ses01F_impro" + "9" * 236  # a 248-byte file name: its wav's would be 257
    uid = f"{dialog}_F000"
    (damaged / f"Session1/dialog/EmoEvaluation/{dialog}.txt").write_text(
        f"[1.0000 - 2.0000]\t{uid}\tneu\t[2.5000, 2.5000, 2.5000]\n")
    (damaged / f"Session1/dialog/transcriptions/{dialog}.txt").write_text(
        f"{uid} [001.0000-002.0000]: hello there\n")
    assert "too long for a file name" in _problems(damaged, [1])


def _set_header(path: Path, rate: int | None = None, bits: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    fmt = data.index(b"fmt ") + 8
    if rate is not None:
        data[fmt + 4:fmt + 8] = rate.to_bytes(4, "little")
    if bits is not None:
        data[fmt + 14:fmt + 16] = bits.to_bytes(2, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate, bits, said", [
    (8, None, "claiming 8 samples per second"), (1, None, "claiming 1 samples per second"),
    (None, 7, "claiming 7 bits per sample"),
])
def test_wav_headers_that_lie_are_listed(damaged, rate, bits, said):
    from emokit.data.audio import AudioError, load_audio

    u = _first_utterance(damaged)
    _set_header(damaged / u.wav, rate, bits)
    assert f"[{u.id}]: wav file has a header {said}" in _problems(damaged, [1])
    with pytest.raises(AudioError, match=said):
        load_audio(damaged / u.wav)


def test_a_wav_far_longer_than_its_label_is_listed(damaged):
    import soundfile

    u = _first_utterance(damaged)
    wave, rate = soundfile.read(damaged / u.wav)
    soundfile.write(damaged / u.wav, np.tile(wave, int(60 / (len(wave) / rate)) + 1), rate)
    assert f"[{u.id}]: wav file holds" in _problems(damaged, [1])


_line = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60) | st.builds(
    lambda uid, a, b, rest: f"{uid} [{a}-{b}]:{rest}",
    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), max_size=30) | _ids,
    st.text("0123456789.-+e٣", max_size=8), st.text("0123456789.-+e", max_size=8),
    st.text(max_size=20)) | st.builds(
    lambda a, b, uid, raw, rest: f"[{a} - {b}]\t{uid}\t{raw}\t[{rest}]",
    st.text("0123456789.-+e", max_size=8), st.text("0123456789.-+e", max_size=8),
    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), max_size=30) | _ids,
    st.sampled_from(["neu", "xxx", "ang", "happy", ""]), st.text(max_size=20))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels_=st.lists(_line, max_size=6), transcripts=st.lists(_line, max_size=6),
       raw_bytes=st.binary(max_size=40))
def test_arbitrary_label_and_transcript_lines_never_raise(tmp_path_factory, labels_, transcripts,
                                                          raw_bytes):
    """Whatever the lines of a dialog's two files, scanning ends in rows and a problem list."""
    root = tmp_path_factory.mktemp("any") / RELEASE_DIR
    for sub in ("dialog/EmoEvaluation", "dialog/transcriptions", "sentences/wav"):
        (root / "Session1" / sub).mkdir(parents=True)
    dialog = "Ses01F_impro01"
    (root / f"Session1/dialog/EmoEvaluation/{dialog}.txt").write_bytes(
        "\n".join(labels_).encode("utf-8", "surrogatepass") + raw_bytes)
    (root / f"Session1/dialog/transcriptions/{dialog}.txt").write_text(
        "\n".join(transcripts), encoding="utf-8")
    rows, problems = iemocap.scan_release(root, sessions=[1])
    assert all(isinstance(p, Problem) for p in problems)
    assert problems or rows == []


def test_an_extra_session_folder_is_read_around_with_a_note_naming_it(damaged, tmp_path,
                                                                        capsys):
    from data_prep.iemocap_problems import IgnoredNote

    shutil.copytree(damaged / "Session5", damaged / "Session6")
    with pytest.warns(IgnoredNote, match=r"Session6 ignored: an IEMOCAP release has "
                                         r"Session1..Session5"):
        rows, problems = iemocap.scan_release(damaged)
    assert problems == [] and {u.session for u in rows} == {1, 2, 3, 4, 5}
    assert iemocap.main(["--root", str(damaged), "--out", str(tmp_path / "m.csv")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "Session6 ignored" in notes[0]
