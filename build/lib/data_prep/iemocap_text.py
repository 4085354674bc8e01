"""The text files of an IEMOCAP release, read exactly and checked line by line.

:func:`visible_files` lists a folder's files without hidden ones (macOS ``._*``, ``.DS_Store``);
:func:`read_text_lines` decodes a file without ever replacing a character (UTF-8, a byte-order
mark, or Windows-1252 lines, the last two with an
:class:`~data_prep.iemocap_problems.EncodingNote`); :func:`read_label_file` and
:func:`read_transcript_file` parse an EmoEvaluation or transcription file into
``{utterance id: (line, line number)}``, every bad line becoming a
:class:`~data_prep.iemocap_problems.Problem`.
"""

from __future__ import annotations

import codecs
import os
import re
import warnings
from pathlib import Path

from data_prep.iemocap_format import (
    UTTERANCE_ID,
    LabelLine,
    dialog_of,
    is_unlabelled_turn,
    parse_label_line,
    parse_transcript_line,
)
from data_prep.iemocap_problems import EncodingNote, Problem
from emokit.config import labels as labels_lib

SINGLE_BYTE_ENCODING = "cp1252"  # Windows-1252: what non-UTF-8 transcripts are in practice
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte-order mark"),
         (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little-endian, byte-order mark)"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big-endian, byte-order mark)"))
_RATER_LINE = re.compile(r"^[A-Z]+-[A-Z]+\d*:\s")  # C-E2:<TAB>..., A-F1:<TAB>...


def visible_files(folder: Path, pattern: str, problems: list[Problem] | None = None,
                  root: Path | None = None) -> list[Path]:
    """The files of ``folder`` matching ``pattern``, sorted, without hidden ones (``.*``: macOS
    ``._*`` AppleDouble files, ``.DS_Store``, editors' backups). Other visible entries that are
    not readable files (a broken link, a folder) go to ``problems`` when given."""
    found = []
    for p in sorted(folder.glob(pattern)):
        if p.name.startswith("."):
            continue
        if p.is_file():
            found.append(p)
        elif problems is not None:
            what = ("a broken link (to " f"{os.readlink(p)})" if p.is_symlink() and not p.exists()
                    else "not a file")
            problems.append(Problem(str(p.relative_to(root or folder)), 0, "", f"{what}: its "
                                    "dialog cannot be read; copy the file again from the release"))
    return found


def read_text_lines(path: Path, rel: str, problems: list[Problem]) -> list[str | None] | None:
    """The lines of a text file of the release, decoded exactly; ``None`` for a line that cannot
    be (its problem, naming line, byte and encoding, goes to ``problems``), and ``None`` instead
    of the list for a file that cannot be decoded at all.

    UTF-8 is expected. A byte-order mark (UTF-8, UTF-16) is honoured, and lines that are not UTF-8
    but are Windows-1252 are decoded as such; both are reported by an :class:`EncodingNote`
    warning. Nothing is ever replaced by ``\ufffd``.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(rel, 0, "", f"cannot be read ({e.strerror or e}); check its "
                                "permissions or copy it again from the release"))
        return None
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError as e:
                problems.append(Problem(rel, raw[:e.start].count(b"\n") + 1, "", f"starts with "
                                        f"a {name} mark but byte {e.start} does not decode as "
                                        "that; re-save the file as UTF-8"))
                return None
            warnings.warn(f"{rel}: decoded as {name}; the mark is removed (re-save as plain UTF-8 "
                          "to silence this)", EncodingNote, stacklevel=2)
            return text.splitlines()
    if b"\x00" in raw:
        problems.append(Problem(rel, raw[:raw.index(b"\x00")].count(b"\n") + 1, "",
                                "holds NUL bytes: UTF-16 without a byte-order mark? Re-save the "
                                "file as UTF-8"))
        return None
    lines: list[str | None] = []
    single_byte = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        try:
            lines.append(line.decode("utf-8"))
            continue
        except UnicodeDecodeError as e:
            bad = e.start
        try:
            lines.append(line.decode(SINGLE_BYTE_ENCODING))
            single_byte.append(line_no)
        except UnicodeDecodeError:
            lines.append(None)
            problems.append(Problem(rel, line_no, "", f"byte {line[bad]:#04x} at column {bad + 1} "
                                    f"is neither UTF-8 nor {SINGLE_BYTE_ENCODING}; re-save the "
                                    "file as UTF-8"))
    if single_byte:
        example = lines[single_byte[0] - 1]
        warnings.warn(f"{rel}: line(s) {single_byte[:10]} are not UTF-8; decoded as Windows-1252 "
                      f"({SINGLE_BYTE_ENCODING}), e.g. line {single_byte[0]}: {example[:60]!r}. "
                      "Re-save the file as UTF-8 to silence this", EncodingNote, stacklevel=2)
    return lines


def read_label_file(path: Path, rel: str,
                    problems: list[Problem]) -> dict[str, tuple[LabelLine, int]] | None:
    """``{id: (label line, line number)}`` of one EmoEvaluation file; bad lines go to ``problems``;
    ``None`` when the file cannot be decoded at all."""
    found: dict[str, tuple[LabelLine, int]] = {}
    lines = read_text_lines(path, rel, problems)
    if lines is None:
        return None
    for line_no, text in enumerate(lines, start=1):
        if text is None or not text.strip() or text.startswith("%") or _RATER_LINE.match(text):
            continue
        line = parse_label_line(text)
        if line is None:
            problems.append(Problem(rel, line_no, "", f"not a label line: {text[:80]!r} (expected "
                                    "'[start - end]<TAB>id<TAB>label<TAB>[V, A, D]')"))
        elif line.raw_label not in labels_lib.RAW_LABELS:
            problems.append(Problem(rel, line_no, line.id, f"unknown label {line.raw_label!r}; "
                                    f"the release uses {sorted(labels_lib.RAW_LABELS)}"))
        elif line.id in found:
            problems.append(Problem(rel, line_no, line.id,
                                    f"labelled twice (first on line {found[line.id][1]})"))
        elif UTTERANCE_ID.match(line.id) is None or is_unlabelled_turn(line.id):
            problems.append(Problem(rel, line_no, line.id, "not an utterance id like "
                                    "Ses01F_impro01_F000"))
        elif dialog_of(line.id) != path.stem:
            problems.append(Problem(rel, line_no, line.id, f"belongs to dialog {dialog_of(line.id)}, "
                                    f"not to this file's dialog {path.stem}"))
        elif not 0 <= line.start < line.end:
            problems.append(Problem(rel, line_no, line.id, f"impossible times [{line.start:g} - "
                                    f"{line.end:g}]: a turn starts at 0 or later and ends after "
                                    "it starts"))
        else:
            found[line.id] = (line, line_no)
    return found


def read_transcript_file(path: Path, rel: str,
                         problems: list[Problem]) -> dict[str, tuple[str, int]] | None:
    """``{id: (text, line number)}`` of one transcription file; bad lines go to ``problems``;
    ``None`` when the file cannot be decoded at all."""
    found: dict[str, tuple[str, int]] = {}
    lines = read_text_lines(path, rel, problems)
    if lines is None:
        return None
    for line_no, text in enumerate(lines, start=1):
        if text is None or not text.strip():
            continue
        parsed = parse_transcript_line(text)
        if parsed is None:
            problems.append(Problem(rel, line_no, "", f"not a transcription line: {text[:80]!r} "
                                    "(expected 'Ses01F_impro01_F000 [006.2901-008.2357]: text')"))
        elif UTTERANCE_ID.match(parsed[0]) is None:
            problems.append(Problem(rel, line_no, "", f"{parsed[0][:80]!r} is not an utterance "
                                    "id like Ses01F_impro01_F000 (a comment line?): delete or "
                                    "fix the line"))
        elif parsed[0] in found:
            problems.append(Problem(rel, line_no, parsed[0],
                                    f"transcribed twice (first on line {found[parsed[0]][1]})"))
        else:
            found[parsed[0]] = (parsed[1], line_no)
    return found
