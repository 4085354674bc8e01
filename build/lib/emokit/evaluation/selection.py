"""Weights chosen on validation: the ``-selected`` systems, derived after the runs.

When an experiment runs one pair loss at several weights (the ``paper`` preset's alpha 0.1 ...
0.9, the ``full`` preset's 3 weights per kind), picking the weight whose *test* numbers are best
is optimistic: the choice has seen the test folds. ``contrastive-<kind>-selected`` is the honest
version, and costs no training: for each fold and seed it takes the candidate run with the best
validation UA at its kept epoch (``history.json``: ``val_ua`` at ``best_epoch``, the number early
stopping kept it for; ties go to the first candidate) and reports that run's test numbers.

Its record is written where the run store keeps runs,
``runs/contrastive-<kind>-selected/fold<k>_seed<s>/``: ``metrics.json`` (the chosen run's, with
``selected_system``, ``selected_weight`` and every candidate's validation UA) and copies of the
chosen run's ``history.json`` and ``predictions.csv``. It is derived again from the candidates each time the report is
made (and rewritten only when the choice or its numbers changed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emokit.config.systems import System, weight_groups, weight_label
from emokit.core.atomic import write_atomic
from emokit.evaluation.runstore import is_finished, load_history, run_path


def kept_val_ua(history: dict) -> float:
    """The validation UA of the epoch whose weights a run kept (its ``best_epoch``)."""
    best = int(history.get("best_epoch", -1))
    if best >= 1 and len(history.get("val_ua", [])) >= best:
        return float(history["val_ua"][best - 1])
    return float(history.get("best_val_ua", float("-inf")))


def select_on_validation(experiment_dir: str | Path, name: str, candidates: list[System],
                         fold: int, seed: int) -> dict | None:
    """Write the ``name`` record of one fold and seed from its ``candidates``' finished runs ->
    its ``metrics.json`` record, or None (and no record) when a candidate has not finished."""
    experiment_dir = Path(experiment_dir)
    target = run_path(experiment_dir, name, fold, seed)
    dirs = [run_path(experiment_dir, s.name, fold, seed) for s in candidates]
    if not all(is_finished(d) for d in dirs):
        shutil.rmtree(target, ignore_errors=True)  # no stale choice among other candidates
        return None
    val_ua = {s.name: kept_val_ua(load_history(experiment_dir, s.name, fold, seed))
              for s in candidates}
    chosen = max(candidates, key=lambda s: val_ua[s.name])  # the first of equals
    source = run_path(experiment_dir, chosen.name, fold, seed)
    record = json.loads((source / "metrics.json").read_text())
    weights = ", ".join(weight_label(s.contrastive_weight, s.objective) for s in candidates)
    record.update(
        system=name, selected_system=chosen.name, selected_weight=chosen.contrastive_weight,
        selected_objective=chosen.objective, n_candidates=len(candidates),
        candidates_val_ua=val_ua,
        objective=(f"{chosen.discriminator} at the weight of best validation UA among "
                   f"{weights}" + (", from the trained baseline" if chosen.warm_start else "")))
    for name_ in ("history.json", "predictions.csv"):  # the chosen run's, as they are
        if (source / name_).exists():
            _write_if_changed(target / name_, (source / name_).read_text())
    _write_if_changed(target / "metrics.json", json.dumps(record, indent=2))  # last: finished
    return record


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)


def write_selected_runs(experiment_dir: str | Path, systems: list[System], folds: list[int],
                        seeds: list[int]) -> list[str]:
    """Derive every ``-selected`` system of ``systems`` (one per pair-loss kind run at two or
    more weights) for every fold and seed -> their names, in the order the table shows them."""
    groups = weight_groups(systems)
    for name, candidates in groups.items():
        for fold in folds:
            for seed in seeds:
                select_on_validation(experiment_dir, name, candidates, fold, seed)
    return list(groups)
