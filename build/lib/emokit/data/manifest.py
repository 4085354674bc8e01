"""The manifest: one row per utterance, the table every later step reads.

``data_prep.iemocap`` writes it from an IEMOCAP release (real or built-in); the feature cache, the
text vocabulary, the folds and the input pipeline read it. Columns, in file order, are the fields of
:class:`Utterance`. ``label`` is the class name under the manifest's class set, or empty when the raw
label is outside it (frustration, surprise, ``xxx`` ... in the 4-class task).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

from emokit.core.atomic import write_atomic
from emokit.core.errors import DataError


@dataclass(frozen=True)
class Utterance:
    id: str  # e.g. Ses01F_impro01_F000
    session: int  # 1..5
    dialog: str  # the id without its last part, e.g. Ses01F_impro01
    speaker: str  # session + gender of the utterance's speaker, e.g. Ses01F
    gender: str  # "F" or "M"
    mode: str  # "impro" or "script"
    raw_label: str  # neu, hap, exc, ang, sad, fru, sur, fea, dis, oth, xxx
    label: str  # class name, or "" when outside the class set
    start: float  # seconds in the dialog
    end: float
    valence: float
    arousal: float
    dominance: float
    transcript: str
    wav: str  # path relative to the release root
    duration: float  # seconds
    sample_rate: int


FIELDS = [f.name for f in dataclasses.fields(Utterance)]
_TYPES = {f.name: f.type for f in dataclasses.fields(Utterance)}
_CASTS = {"int": int, "float": float, "str": str}


def write_manifest(rows: list[Utterance], path: str | Path) -> Path:
    """Write rows to ``path`` atomically (a killed write never leaves a half file). Ids must be
    unique (:class:`emokit.core.errors.DataError` naming both rows otherwise)."""
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.id in first:
            raise DataError(f"utterance id {row.id} is in rows {first[row.id] + 1} and "
                            f"{index + 1} of the manifest to write to {path}; ids must be unique")
        first[row.id] = index
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(dataclasses.asdict(row) for row in rows)
    return write_atomic(path, text.getvalue())


def read_manifest(path: str | Path, labelled_only: bool = False) -> list[Utterance]:
    """Read a manifest; ``labelled_only`` keeps the rows inside the class set.

    An id on two lines is a :class:`emokit.core.errors.DataError` naming both (its utterance would be
    trained or scored twice)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no manifest at {path}; build one with `python -m data_prep.iemocap --root ROOT "
            f"--out {path}` (or `python -m data_prep.synthetic` for the built-in corpus)"
        )
    if path.is_dir():
        raise DataError(f"{path} is a folder; pass the manifest CSV file in it (e.g. "
                        f"{path / 'manifest.csv'})")
    rows = []
    first_line: dict[str, int] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != FIELDS:
            raise ValueError(f"{path}: columns {reader.fieldnames} are not a manifest's {FIELDS}")
        for line_no, raw in enumerate(reader, start=2):
            try:
                row = Utterance(**{k: _CASTS[_TYPES[k]](v) for k, v in raw.items()})
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}, line {line_no}: {e}") from None
            if row.id in first_line:
                raise DataError(f"{path}, line {line_no}: utterance id {row.id} is also on line "
                                f"{first_line[row.id]}; ids must be unique (a row copied twice "
                                "would be trained or scored twice). Remove one and rebuild the "
                                "feature cache")
            first_line[row.id] = line_no
            if row.label or not labelled_only:
                rows.append(row)
    return rows
