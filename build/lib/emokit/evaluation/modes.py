"""What the scripted overlap does to the numbers: each system's UA on improvised vs scripted test
turns, for the report.

- :func:`protocol_note`: the overlap measured per fold (``folds.json``, written by
  :func:`emokit.experiment.protocol.folds_record` from :func:`emokit.data.overlap.fold_overlap`)
  on the report's protocol line;
- :func:`ua_by_mode`: a run's UA on its improvised and its scripted test turns, from its
  ``predictions.csv``; :func:`mode_split_markdown` averages it per system (seeds within a fold,
  then folds) for the report's section :func:`append_mode_section`, and compares each fused
  system with the baseline within each mode (:func:`mode_difference`: the paired t-interval over
  folds of the headline table, :mod:`emokit.evaluation.fold_statistics`).

>>> rows = [{"id": "a", "true": "sad", "predicted": "sad"},
...         {"id": "b", "true": "angry", "predicted": "sad"},
...         {"id": "c", "true": "angry", "predicted": "angry"}]
>>> ua_by_mode(rows, scripted_ids={"a"})
{'impro': 0.5, 'script': 1.0}
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from emokit.config.systems import BASELINE, UNIMODAL
from emokit.core.atomic import write_atomic
from emokit.data.overlap import FOLDS_FILE, MODE_NAMES, MODES
from emokit.evaluation.fold_statistics import PairedTestResult, fold_differences, paired_t_test
from emokit.evaluation.runstore import run_path


def read_folds(experiment_dir: str | Path) -> list[dict]:
    """The experiment's ``folds.json`` records (``[]`` when there is none)."""
    path = Path(experiment_dir) / FOLDS_FILE
    return json.loads(path.read_text()) if path.exists() else []


def _pct(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.0f}%"


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def protocol_note(folds: list[dict], fold_numbers: Sequence[int] | None = None) -> str:
    """The overlap for the report's protocol line, mean over the folds' records (``folds.json``):
    ``"; test transcripts seen verbatim in training: 29% (scripted turns 97%, improvised 0%)"``;
    ``""`` when the records do not hold it."""
    folds = [f for f in folds if fold_numbers is None or f["fold"] in fold_numbers]
    validation = _validation_note([f for f in folds if "val_turns" in f])
    folds = [f for f in folds if "seen_transcript" in f]
    if not folds:
        return validation
    parts = []
    for mode in ("script", "impro"):
        share = _mean(f[f"seen_transcript_{MODE_NAMES[mode]}"] for f in folds)
        parts.append(f"{MODE_NAMES[mode]} {_pct(share)}" if share is not None
                     else f"no {MODE_NAMES[mode]} test turns")
    return (f"; test transcripts seen verbatim in training: "
            f"{_pct(_mean(f['seen_transcript'] for f in folds))} ({', '.join(parts)}; mean over "
            f"folds, {FOLDS_FILE})") + validation


def _span(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _validation_note(folds: list[dict]) -> str:
    """``"; validation (early stopping): 1 speaker, 35 turns per fold, transcripts seen verbatim
    in training 29% (scripted 80%, improvised 0%)"``, or ``""`` without the records."""
    if not folds:
        return ""
    counts = [len(f.get("val_speakers", [])) for f in folds]
    speakers = f"{_span(counts)} speaker{'' if max(counts) == 1 else 's'}"
    seen = [f"{name} {_pct(_mean(f[f'val_seen_transcript_{name}'] for f in folds))}"
            for name in (MODE_NAMES["script"], MODE_NAMES["impro"])]
    return (f"; validation (early stopping): {speakers}, "
            f"{_span([f['val_turns'] for f in folds])} turns per fold, transcripts seen verbatim "
            f"in training {_pct(_mean(f['val_seen_transcript'] for f in folds))} "
            f"({', '.join(seen)})")


def subset_ua(rows: list[dict]) -> float | None:
    """UA (mean recall) of prediction rows (``true``, ``predicted`` class names) over the classes
    present among their true labels; None for no rows."""
    if not rows:
        return None
    recalls = []
    for c in sorted({r["true"] for r in rows}):
        mine = [r for r in rows if r["true"] == c]
        recalls.append(np.mean([r["predicted"] == c for r in mine]))
    return float(np.mean(recalls))


def ua_by_mode(rows: list[dict], scripted_ids: Iterable[str]) -> dict[str, float | None]:
    """``{"impro": UA, "script": UA}`` of one run's prediction rows (``predictions.csv``: ``id``,
    ``true``, ``predicted``), split by whether the id is scripted; each UA over the classes
    present in its subset (:func:`subset_ua`), None for an empty subset."""
    scripted = set(scripted_ids)
    return {m: subset_ua([r for r in rows if (r["id"] in scripted) == (m == "script")])
            for m in MODES}


def read_predictions(run_dir: str | Path) -> list[dict]:
    with open(Path(run_dir) / "predictions.csv", newline="") as f:
        return list(csv.DictReader(f))


def run_mode_uas(experiment_dir: str | Path, runs: list[dict],
                 systems: Sequence[str]) -> list[dict]:
    """One record per run of ``systems`` on a fold with scripted ids in ``folds.json``:
    ``{"system", "fold", "seed", "impro": UA, "script": UA}`` (:func:`ua_by_mode` of its
    ``predictions.csv``; None for an empty subset)."""
    scripted = {f["fold"]: f["scripted_test_ids"] for f in read_folds(experiment_dir)
                if "scripted_test_ids" in f}
    records = []
    for r in runs:
        if r["system"] in systems and r["fold"] in scripted:
            rows = read_predictions(run_path(experiment_dir, r["system"], r["fold"], r["seed"]))
            records.append({"system": r["system"], "fold": r["fold"], "seed": r["seed"],
                            **ua_by_mode(rows, scripted[r["fold"]])})
    return records


def mode_split(experiment_dir: str | Path, runs: list[dict],
               systems: Sequence[str]) -> dict[str, dict]:
    """Per system: ``{"impro", "script", "gap"}`` UA (gap = scripted - improvised, per fold), each
    the mean over folds of the mean over that fold's seeds, and ``folds``, how many folds have
    both subsets. Reads each run's ``predictions.csv`` and the scripted ids of ``folds.json``."""
    records = run_mode_uas(experiment_dir, runs, systems)
    out = {}
    for system in systems:
        per_fold: dict[int, list[dict]] = defaultdict(list)
        for r in records:
            if r["system"] == system:
                per_fold[r["fold"]].append(r)
        fold_means = {k: {m: _mean(s[m] for s in seeds) for m in MODES}
                      for k, seeds in per_fold.items()}
        both = [f for f in fold_means.values() if None not in f.values()]
        if per_fold:
            out[system] = {"impro": _mean(f["impro"] for f in fold_means.values()),
                           "script": _mean(f["script"] for f in fold_means.values()),
                           "gap": _mean(f["script"] - f["impro"] for f in both),
                           "folds": len(both)}
    return out


def mode_difference(records: list[dict], system: str, mode: str,
                    baseline: str = BASELINE) -> tuple[np.ndarray, PairedTestResult]:
    """``system - baseline`` UA on one ``mode``'s test turns (records of :func:`run_mode_uas`),
    paired as the headline table pairs: per fold the mean over the seeds both have, then the 95%
    t-interval over folds -> ``(fold differences (folds,), paired t-test)``."""
    usable = [r for r in records if r[mode] is not None]
    diffs = fold_differences(usable, system, baseline, mode)[1]
    return diffs, paired_t_test(diffs)


def _difference_cell(diffs: np.ndarray, test: PairedTestResult) -> str:
    if not len(diffs):
        return "n/a"
    mean = f"{100 * diffs.mean():+.1f}"
    if math.isnan(test.ci_low):
        return f"{mean} ({len(diffs)} fold{'s' if len(diffs) > 1 else ''}, no interval)"
    return f"{mean} [{100 * test.ci_low:+.1f}, {100 * test.ci_high:+.1f}]"


def mode_split_markdown(experiment_dir: str | Path, runs: list[dict],
                        systems: Sequence[str]) -> str:
    """The report's section on improvised vs scripted test turns (Markdown), or ``""`` when no
    fold's test set holds both kinds."""
    split = mode_split(experiment_dir, runs, systems)
    records = run_mode_uas(experiment_dir, runs, systems)
    if not any(s["folds"] for s in split.values()):
        return ""
    folds = read_folds(experiment_dir)
    seen = _mean(f.get("seen_transcript_scripted") for f in folds)
    seen_impro = _mean(f.get("seen_transcript_improvised") for f in folds)
    intro = (
        "Improvised vs scripted test turns. Scripted dialogs are the same plays in every "
        f"session: {_pct(seen)} of scripted test turns occur verbatim in the training set "
        f"({_pct(seen_impro)} of improvised ones; {FOLDS_FILE}), so text and fused models can "
        "recall a scripted line instead of reading it. UA % over the classes present in each "
        "subset, mean over seeds within a fold, then over folds; gap = scripted - improvised "
        "per fold. The audio model never reads the transcript: its gap is what the two "
        "subsets' other differences give. dUA: each fused system minus the baseline within the "
        "subset, paired as in the table above (seeds averaged within a fold; mean over folds "
        "[95% t-interval]). `corpus.improvised_only: true` removes the scripted dialogs.")
    lines = [
        intro,
        "",
        ("| system | UA improvised % | UA scripted % | gap (points) | folds | "
         "dUA improvised [95% CI] | dUA scripted [95% CI] |"),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for system, s in split.items():
        cells = [f"{100 * s[m]:.1f}" if s[m] is not None else "n/a" for m in MODES]
        gap = f"{100 * s['gap']:+.1f}" if s["gap"] is not None else "n/a"
        paired = system != BASELINE and system not in UNIMODAL and BASELINE in split
        versus = [_difference_cell(*mode_difference(records, system, m)) if paired else ""
                  for m in MODES]
        lines.append(f"| {system} | {cells[0]} | {cells[1]} | {gap} | {s['folds']} | "
                     f"{versus[0]} | {versus[1]} |")
    return "\n".join(lines) + "\n"


def append_mode_section(experiment_dir: str | Path, runs: list[dict], systems: Sequence[str],
                        markdown: str) -> str:
    """``markdown`` (the report) with :func:`mode_split_markdown` appended, written back to
    ``report.md``; returns the new Markdown (unchanged when the section is empty)."""
    section = mode_split_markdown(experiment_dir, runs, systems)
    if not section:
        return markdown
    markdown = markdown.rstrip("\n") + "\n\n" + section
    write_atomic(Path(experiment_dir) / "report.md", markdown)
    return markdown
