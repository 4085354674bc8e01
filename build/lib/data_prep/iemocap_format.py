"""The IEMOCAP release's folder name, utterance ids and line formats.

What both sides of the release agree on: the parser (:mod:`data_prep.iemocap`) reads these lines,
the built-in corpus (:mod:`data_prep.synthetic_writer`) writes them. Examples::

    [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]  (EmoEvaluation)
    Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.                           (transcriptions)

An utterance id is ``Ses<session><F|M>_<dialog>_<F|M><turn>``; turns numbered ``XX...`` are never
labelled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RELEASE_DIR = "IEMOCAP_full_release"
ALL_SESSIONS = (1, 2, 3, 4, 5)
NON_SPEECH = re.compile(r"\[[A-Za-z_ ]+\]")  # [LAUGHTER], [BREATHING], [GARBAGE], ...

_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_LABEL_LINE = re.compile(
    rf"^\[\s*(?P<start>{_NUM})\s*-\s*(?P<end>{_NUM})\s*\]\t(?P<id>\S+)\t(?P<label>\S+)\t"
    rf"\[\s*(?P<v>{_NUM}),\s*(?P<a>{_NUM}),\s*(?P<d>{_NUM})\s*\]\s*$", re.ASCII
)  # re.ASCII: \d is 0-9 only (float() would read other scripts' digits too)
_TRANSCRIPT_LINE = re.compile(
    rf"^(?P<id>\S+)\s+\[\s*(?P<start>{_NUM})\s*-\s*(?P<end>{_NUM})\s*\]:\s?(?P<text>.*)$", re.ASCII
)
UTTERANCE_ID = re.compile(
    r"^Ses(?P<session>\d\d)[FM]_(?P<rest>\w+)_(?P<gender>[FM])(?:\d{3}|XX\w*)$", re.ASCII)


@dataclass(frozen=True)
class LabelLine:
    """One utterance's line of an EmoEvaluation file."""

    start: float
    end: float
    id: str
    raw_label: str
    valence: float
    arousal: float
    dominance: float


def format_label_line(line: LabelLine) -> str:
    """The EmoEvaluation text of a label line (the release's own number format)."""
    return (
        f"[{line.start:.4f} - {line.end:.4f}]\t{line.id}\t{line.raw_label}\t"
        f"[{line.valence:.4f}, {line.arousal:.4f}, {line.dominance:.4f}]"
    )


def parse_label_line(text: str) -> LabelLine | None:
    """Parse ``[start - end]<TAB>id<TAB>label<TAB>[V, A, D]``; ``None`` if the line is not one."""
    m = _LABEL_LINE.match(text)
    if m is None:
        return None
    return LabelLine(float(m["start"]), float(m["end"]), m["id"], m["label"],
                     float(m["v"]), float(m["a"]), float(m["d"]))


def format_transcript_line(utterance_id: str, start: float, end: float, text: str) -> str:
    """The transcription text of a turn: ``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``"""
    return f"{utterance_id} [{start:08.4f}-{end:08.4f}]: {text}"


def parse_transcript_line(text: str) -> tuple[str, str] | None:
    """``(id, text)`` of a transcription line, or ``None`` if the line is not one."""
    m = _TRANSCRIPT_LINE.match(text)
    return None if m is None else (m["id"], m["text"].strip())


def is_speech_free(transcript: str) -> bool:
    """True when a transcript holds no words once non-speech tokens (``[LAUGHTER]``) are removed."""
    return not re.search(r"\w", NON_SPEECH.sub(" ", transcript))


def dialog_of(utterance_id: str) -> str:
    """``Ses05M_script01_1b_M012`` -> ``Ses05M_script01_1b``."""
    return utterance_id.rsplit("_", 1)[0]


def turn_of(utterance_id: str) -> str:
    """``Ses05M_script01_1b_M012`` -> ``M012``; ``""`` for an id without ``_``."""
    return utterance_id.rsplit("_", 1)[1] if "_" in utterance_id else ""


def is_unlabelled_turn(utterance_id: str) -> bool:
    """True for the turns the release never labels (``..._MXX0``)."""
    return "XX" in turn_of(utterance_id)
