"""Parse an IEMOCAP release (the real one or the built-in corpus) into a manifest.

    python -m data_prep.iemocap --root PATH/IEMOCAP_full_release --out manifest.csv \
        [--class-set 4class] [--sessions 1 2 3 4 5] [--skip-missing]

The release keeps, per session and dialog:

- ``SessionN/dialog/EmoEvaluation/<dialog>.txt``: a ``%`` header, then blank-line separated blocks,
  each starting with ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000,
  2.5000]`` followed by rater lines (``C-E2:<TAB>Neutral;<TAB>()``, ``A-E3:<TAB>val 3; ...``);
- ``SessionN/dialog/transcriptions/<dialog>.txt``: ``Ses01F_impro01_F000 [006.2901-008.2357]:
  Excuse me.`` (turns whose id holds ``XX`` are never labelled);
- ``SessionN/sentences/wav/<dialog>/<utterance id>.wav``.

Every labelled turn becomes one :class:`emokit.data.manifest.Utterance` (labels outside the class set
too, with ``label=""``). Nothing is dropped silently: every problem (a line that does not parse, a
label without a transcript or the reverse, a missing or truncated wav, a wav far shorter than its
label's ``end - start``, an empty transcript, impossible times, an id found in two places, bytes
that are neither UTF-8 nor Windows-1252, ...) is collected and reported at once, naming the file
and line. ``skip_missing=True`` (``--skip-missing``) skips the
utterances with problems instead, and the command line writes what it skipped to a report file.

All five sessions are expected unless ``sessions`` limits them (e.g. ``--sessions 1 2`` for a
partial copy): a missing session is an error either way, because a silently missing session changes
every leave-one-session-out result.

Text files are read as UTF-8. A file with a byte-order mark (UTF-8 or UTF-16), or lines in
Windows-1252 (``won\x92t``, typical of files edited on Windows), are decoded correctly and a
:class:`~data_prep.iemocap_problems.EncodingNote` warning says so, naming the file, lines and
encoding; a character is never replaced. Hidden files (names starting with ``.``, e.g. macOS
``._*`` AppleDouble files) are ignored.

This module joins each dialog's labels, transcripts and wavs into utterances
(:func:`scan_release`, :func:`parse_release`) and runs the command line. Its pieces:
:mod:`data_prep.iemocap_format` (ids and line formats), :mod:`data_prep.iemocap_text` (reading
and checking the text files), :mod:`data_prep.iemocap_problems` (problems, the error listing them,
the skip report) and :mod:`data_prep.manifest_source` (which release a manifest came from).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import soundfile

from data_prep.iemocap_format import (
    ALL_SESSIONS,
    RELEASE_DIR,
    UTTERANCE_ID,
    LabelLine,
    dialog_of,
    is_speech_free,
    is_unlabelled_turn,
)
from data_prep.iemocap_problems import (
    EncodingNote,
    IgnoredNote,
    Problem,
    ReleaseError,
    write_skip_report,
)
from data_prep.iemocap_text import read_label_file, read_transcript_file, visible_files
from data_prep.manifest_source import write_source
from emokit.config import labels as labels_lib
from emokit.core.cli import run_cli
from emokit.core.errors import UsageError
from emokit.data.audio import MAX_RATE, MIN_RATE, wav_header_problem, wav_truncation
from emokit.data.manifest import Utterance, write_manifest

MIN_WAV_SHARE = 0.5  # a wav shorter than this share of its label's end - start is flagged
MAX_WAV_SHARE, WAV_SLACK_S = 3.0, 2.0  # a wav longer than 3 x the label's span + 2 s is flagged
MAX_NAME_BYTES = 255  # a longer file name cannot exist on common file systems


def _check_root(root: Path, sessions: Sequence[int]) -> None:
    """Fail early, with what was expected, when ``root`` is not a release or lacks a session."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; pass the IEMOCAP_full_release folder")
    present = sorted(int(p.name[7:]) for p in root.glob("Session[0-9]") if p.is_dir())
    if not present:
        hint = f" (found {root / RELEASE_DIR}: pass that folder)" if (root / RELEASE_DIR).is_dir() else ""
        raise UsageError(
            f"{root} is not an IEMOCAP release{hint}: expected the IEMOCAP_full_release folder "
            "holding Session1..Session5, each with dialog/EmoEvaluation/, dialog/transcriptions/ "
            "and sentences/wav/"
        )
    missing = [s for s in sessions if s not in present]
    if missing:
        raise UsageError(
            f"{root} lacks session(s) {missing} (found {present}). A missing session changes every "
            "leave-one-session-out result; restore it, or name the sessions to use "
            f"(sessions={present} / --sessions {' '.join(map(str, present))})"
        )
    for s in sessions:
        for sub in ("dialog/EmoEvaluation", "dialog/transcriptions", "sentences/wav"):
            if not (root / f"Session{s}" / sub).is_dir():
                raise UsageError(f"{root / f'Session{s}'} has no {sub}/ folder: is the copy "
                                 "complete?")
    known = {f"Session{s}" for s in ALL_SESSIONS}
    extra = sorted(p.name for p in root.glob("Session*") if p.is_dir() and p.name not in known)
    if extra:
        warnings.warn(IgnoredNote(
            f"{root}: folder(s) {', '.join(extra)} ignored: an IEMOCAP release has "
            "Session1..Session5 only (move the folder out of the release to silence this note)"),
            stacklevel=3)


def scan_release(root: str | Path, class_set: str = "4class",
                 sessions: Sequence[int] = ALL_SESSIONS) -> tuple[list[Utterance], list[Problem]]:
    """Every labelled utterance without a problem, and the problems found (all of them).

    Structural faults (``root`` not a release, a session missing) raise at once.
    """
    root = Path(root)
    labels_lib.class_mapping(class_set)  # a clear error for an unknown class set
    _check_root(root, sessions)
    rows: list[Utterance] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}  # id -> where it was first labelled ("file:line")
    for session in sessions:
        session_dir = root / f"Session{session}"
        label_files = visible_files(session_dir / "dialog" / "EmoEvaluation", "*.txt",
                                    problems, root)
        transcript_files = visible_files(session_dir / "dialog" / "transcriptions", "*.txt",
                                         problems, root)
        if not label_files:
            problems.append(Problem(str(session_dir.relative_to(root)), 0, "",
                                    "no EmoEvaluation/*.txt label files"))
        label_stems = {p.stem for p in label_files}
        for path in transcript_files:
            if path.stem not in label_stems:
                problems.append(Problem(str(path.relative_to(root)), 0, "", "a transcription "
                                        f"file without EmoEvaluation/{path.name} label file"))
        before = len(rows)
        for label_path in label_files:
            m = UTTERANCE_ID.match(f"{label_path.stem}_F000")
            if m is not None and int(m["session"]) != session:
                problems.append(Problem(str(label_path.relative_to(root)), 0, "", f"dialog "
                                        f"{label_path.stem} belongs to Session{int(m['session'])}, "
                                        f"not to Session{session}: a copied dialog? Its "
                                        "utterances would be counted twice"))
                continue
            rows += _scan_dialog(root, label_path, class_set, problems, seen)
        if len(rows) == before:
            problems.append(Problem(str(session_dir.relative_to(root)), 0, "", "no usable "
                                    "utterance in this session (see the problems above): "
                                    "leave-one-session-out needs every session"))
    return rows, problems


def _scan_dialog(root: Path, label_path: Path, class_set: str, problems: list[Problem],
                 seen: dict[str, str]) -> list[Utterance]:
    """The utterances of one dialog (label file + transcription file + wavs)."""
    dialog = label_path.stem
    session_dir = label_path.parent.parent.parent
    label_rel = str(label_path.relative_to(root))
    labelled = read_label_file(label_path, label_rel, problems)
    if labelled is None:  # undecodable: one problem for the file, not one per utterance
        return []
    transcript_path = session_dir / "dialog" / "transcriptions" / label_path.name
    transcript_rel = str(transcript_path.relative_to(root))
    if not transcript_path.exists():
        problems.append(Problem(transcript_rel, 0, "", f"missing: the {len(labelled)} labelled "
                                f"utterances of {label_rel} have no transcription file"))
        return []
    transcribed = read_transcript_file(transcript_path, transcript_rel, problems)
    if transcribed is None:  # undecodable: one problem for the file, not one per utterance
        return []
    for uid, (_, line_no) in transcribed.items():
        if uid not in labelled and not is_unlabelled_turn(uid):
            problems.append(Problem(transcript_rel, line_no, uid, f"transcribed but not labelled "
                                    f"in {label_rel}"))
    rows = []
    for uid, (line, line_no) in labelled.items():
        if uid in seen:
            problems.append(Problem(label_rel, line_no, uid, f"also labelled at {seen[uid]}: an "
                                    "id must be unique in the release"))
            continue
        seen[uid] = f"{label_rel}:{line_no}"
        if uid not in transcribed:
            problems.append(Problem(label_rel, line_no, uid, f"labelled but not transcribed in "
                                    f"{transcript_rel}"))
            continue
        text, text_line = transcribed[uid]
        if is_speech_free(text):
            problems.append(Problem(transcript_rel, text_line, uid, f"transcript {text!r} has no "
                                    "words (empty, or only non-speech tokens like [LAUGHTER])"))
            continue
        wav_rel = f"{session_dir.name}/sentences/wav/{dialog}/{uid}.wav"
        if len(f"{uid}.wav".encode()) > MAX_NAME_BYTES:
            problems.append(Problem(label_rel, line_no, uid[:80], f"the id is too long for a "
                                    f"file name ({len(uid)} characters): fix the line"))
            continue
        try:
            info = soundfile.info(str(root / wav_rel))
        except Exception as e:  # noqa: BLE001 -- soundfile raises several types for bad files
            try:
                reason = "missing" if not (root / wav_rel).exists() else f"unreadable ({e})"
            except OSError as why:
                reason = f"unreadable ({why.strerror or why})"
            problems.append(Problem(wav_rel, 0, uid, f"wav file {reason}"))
            continue
        try:
            problem = _wav_problem(root / wav_rel, info, line)
        except OSError as e:
            problem = f"wav file unreadable ({e.strerror or e})"
        if problem:
            problems.append(Problem(wav_rel, 0, uid, problem))
            continue
        rows.append(_utterance(line, text, wav_rel, info, class_set))
    return rows


def _wav_problem(path: Path, info, line: LabelLine) -> str | None:
    """Why a wav disagrees with its header or its label, or ``None``."""
    truncated = wav_truncation(path) or wav_header_problem(path)
    if truncated:
        return f"wav file {truncated}; copy it again from the release"
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        return (f"wav file claims {info.samplerate} samples per second ({MIN_RATE}..{MAX_RATE} "
                "expected): a damaged header; copy it again from the release")
    seconds, spans = info.frames / info.samplerate, line.end - line.start
    if seconds > MAX_WAV_SHARE * spans + WAV_SLACK_S:
        return (f"wav file holds {seconds:.2f} s but its label spans {spans:.2f} s "
                f"([{line.start:g} - {line.end:g}]): the wrong file, or a damaged header? Copy "
                "it again from the release")
    if seconds < MIN_WAV_SHARE * spans:
        return (f"wav file holds {seconds:.2f} s but its label spans {spans:.2f} s "
                f"([{line.start:g} - {line.end:g}]): a truncated or wrong file? Copy it again "
                "from the release")
    return None


def _utterance(line: LabelLine, transcript: str, wav_rel: str, info, class_set: str) -> Utterance:
    m = UTTERANCE_ID.match(line.id)
    session = int(m["session"])
    return Utterance(
        id=line.id, session=session, dialog=dialog_of(line.id),
        speaker=f"Ses{session:02d}{m['gender']}", gender=m["gender"],
        mode="impro" if m["rest"].startswith("impro") else "script",
        raw_label=line.raw_label, label=labels_lib.to_class(line.raw_label, class_set) or "",
        start=line.start, end=line.end,
        valence=line.valence, arousal=line.arousal, dominance=line.dominance,
        transcript=transcript, wav=wav_rel,
        duration=info.frames / info.samplerate, sample_rate=int(info.samplerate),
    )


def parse_release(root: str | Path, class_set: str = "4class", skip_missing: bool = False,
                  sessions: Sequence[int] = ALL_SESSIONS) -> list[Utterance]:
    """Every labelled utterance of the release at ``root``, in session/dialog/time order.

    Raises :class:`ReleaseError` listing every problem unless ``skip_missing``, which skips the
    utterances concerned (use :func:`scan_release` to get the problems as well).
    """
    rows, problems = scan_release(root, class_set, sessions)
    if problems and not skip_missing:
        raise ReleaseError(Path(root), problems)
    refuse_unusable(Path(root), rows, problems, sessions)
    return rows


def refuse_unusable(root: Path, rows: Sequence[Utterance], problems: list[Problem],
                    sessions: Sequence[int]) -> None:
    """Raise :class:`ReleaseError` for a release that cannot be used even when utterances with
    problems are skipped: no labelled utterance at all, or a session without any."""
    labelled = {u.session for u in rows if u.label}
    empty = [s for s in sessions if s not in labelled]
    if not empty:
        return
    what = ("no utterance with a label of the class set" if not labelled else
            f"session(s) {empty} have no usable utterance with a label of the class set")
    refusal = Problem(str(root), 0, "", f"{what}: leave-one-session-out needs every session; "
                      "fix the files listed below or name the sessions to use (--sessions)")
    raise ReleaseError(root, [refusal, *problems])


# --------------------------------------------------------------------------------------- reports


def count_table(utterances: Sequence[Utterance], class_set: str = "4class") -> str:
    """The per-session, per-class count table that papers print (labelled utterances only)."""
    names = labels_lib.class_names(class_set)
    counts = Counter((u.session, u.label) for u in utterances if u.label)
    sessions = sorted({u.session for u in utterances})
    width = max(8, *(len(n) + 1 for n in names))
    header = "session".ljust(9) + "".join(n.rjust(width) for n in names) + "total".rjust(width)
    lines = [header, "-" * len(header)]
    for s in sessions:
        row = [counts[(s, n)] for n in names]
        lines.append(f"Session{s}".ljust(9) + "".join(f"{c:>{width}}" for c in row)
                     + f"{sum(row):>{width}}")
    totals = [sum(counts[(s, n)] for s in sessions) for n in names]
    lines.append("-" * len(header))
    lines.append("total".ljust(9) + "".join(f"{c:>{width}}" for c in totals)
                 + f"{sum(totals):>{width}}")
    outside = sum(1 for u in utterances if not u.label)
    lines.append(f"(+ {outside} labelled utterances outside the {class_set} set)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (0 done, 1 problems in the release, 2 usage)."""
    return run_cli(_main, argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the IEMOCAP_full_release folder")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--class-set", default="4class", choices=sorted(labels_lib.CLASS_SETS))
    parser.add_argument("--sessions", type=int, nargs="+", default=list(ALL_SESSIONS),
                        help="sessions to read (default: all five)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="skip utterances with problems and write OUT.skipped.csv")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", EncodingNote)
        warnings.simplefilter("always", IgnoredNote)
        try:
            rows, problems = scan_release(args.root, args.class_set, args.sessions)
        except FileNotFoundError as e:
            raise UsageError(str(e)) from None
    for note in notes:
        print(f"note: {note.message}", file=sys.stderr)
    if problems and not args.skip_missing:
        raise ReleaseError(Path(args.root), problems)
    refuse_unusable(Path(args.root), rows, problems, args.sessions)
    out = write_manifest(rows, args.out)
    write_source(out, args.root, args.class_set)
    print(count_table(rows, args.class_set))
    print(f"wrote {len(rows)} utterances to {out} in {time.perf_counter() - began:.1f} s")
    if problems:
        report = write_skip_report(problems, Path(args.out).with_suffix(".skipped.csv"))
        print(f"skipped {len(problems)} problem(s): see {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
