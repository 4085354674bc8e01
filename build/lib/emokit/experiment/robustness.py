"""Robustness over a finished experiment: every run's test fold with a modality missing or
degraded, no retraining (the conditions and each run's evaluation:
:mod:`emokit.evaluation.robustness`; the statistics, table and plot:
:mod:`emokit.evaluation.robustness_report`).

    python -m emokit.experiment.robustness results/quick

or ``robustness: true`` in an experiment's config (it then runs after the table). A rerun
evaluates only the rows ``robustness.csv`` does not hold yet, and again the rows of a run retrained
since (each row records its run's weights digest). A pass holds the experiment folder's lock.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emokit.config.systems import expand_systems
from emokit.core.atomic import write_atomic
from emokit.core.errors import UsageError
from emokit.evaluation.degraded_folds import DegradedFold
from emokit.evaluation.robustness import (
    CONDITIONS,
    CSV_NAME,
    TABLE_NAME,
    Run,
    evaluate_run,
    experiment_runs,
    read_rows,
    weights_digest,
    write_rows,
)
from emokit.evaluation.robustness_report import save_robustness_plot, to_markdown
from emokit.experiment.corpus import experiment_folds, load_corpus


def _key(row: dict) -> tuple:
    return (row["system"], row["fold"], row["seed"], row["condition"], row["level"])


def evaluate_robustness(experiment: str | Path, verbose: bool = True) -> list[dict]:
    """Evaluate every run of a finished experiment under every condition (only what
    ``robustness.csv`` does not hold yet, and again the rows of a run retrained since), then write
    the CSV, the Markdown table and the plot. Returns every row of ``robustness.csv``.

    Holds the experiment folder's lock (:func:`emokit.core.lock.results_lock`): while an
    experiment or another robustness pass works on the folder, it refuses, naming the holder."""
    from emokit.core.lock import holds, results_lock

    experiment = Path(experiment)
    if holds(experiment) or not experiment.is_dir():  # asked for by the experiment; or refused
        return _evaluate_robustness(experiment, verbose)
    with results_lock(experiment):
        return _evaluate_robustness(experiment, verbose)


def _evaluate_robustness(experiment: Path, verbose: bool) -> list[dict]:
    from data_prep.synthetic import ensure_corpus, release_root
    from emokit.data.pipeline import prepare_fold

    say = print if verbose else (lambda *a, **k: None)
    config, runs = experiment_runs(experiment)
    rows = read_rows(experiment)
    digests = {(r.system.name, r.fold, r.seed): weights_digest(r) for r in runs}
    current = [r for r in rows if digests.get((r["system"], r["fold"], r["seed"]),
                                              r["weights"]) == r["weights"]]
    if len(current) < len(rows):
        say(f"{len(rows) - len(current)} rows of runs retrained since they were evaluated "
            "(or evaluated before the weights were recorded) are evaluated again")
        rows = current
    done = {_key(r) for r in rows}
    todo = {}
    for run in runs:
        missing = [(c, lv) for c, lv in CONDITIONS
                   if (run.system.name, run.fold, run.seed, c, "" if lv is None else lv)
                   not in done]
        if missing:
            todo[run] = missing
    say(f"{experiment}: {len(runs)} runs x {len(CONDITIONS)} conditions, "
        f"{sum(map(len, todo.values()))} to evaluate")
    if todo:
        start = time.perf_counter()
        utterances, features = load_corpus(config)
        root = Path(config.corpus.root) if config.corpus.root else release_root(
            ensure_corpus(config.corpus))
        utterances, folds = experiment_folds(config, utterances)
        folds = dict(folds)
        for k in sorted({run.fold for run in todo}):
            data = prepare_fold(config, utterances, features, folds[k])
            fold = DegradedFold(config, k, data, utterances, root,
                                experiment / "robustness" / "features")
            for run in [r for r in todo if r.fold == k]:
                rows += evaluate_run(config, run, fold, todo[run])
                write_rows(experiment, _sorted(rows, runs))  # a killed run keeps what is done
                say(f"  {run.system.name} fold {k} seed {run.seed}: "
                    f"{len(todo[run])} conditions ({time.perf_counter() - start:.0f} s)")
    write_rows(experiment, _sorted(rows, runs))
    rows = read_rows(experiment)  # as stored (6 decimals): a rerun gives the same table
    markdown = to_markdown(rows, [s for s in expand_systems(config)])
    write_atomic(experiment / TABLE_NAME, markdown)
    save_robustness_plot(experiment, rows, [s.name for s in expand_systems(config)])
    say("\n" + markdown)
    return rows


def _sorted(rows: list[dict], runs: list[Run]) -> list[dict]:
    order = {(r.system.name, r.fold, r.seed): i for i, r in enumerate(runs)}
    conditions = {c: i for i, c in enumerate(CONDITIONS)}
    return sorted(rows, key=lambda r: (order.get((r["system"], r["fold"], r["seed"]), 1e9),
                                       conditions[(r["condition"], None if r["level"] == "" else r["level"])]))


def main(argv: list[str] | None = None) -> int:
    from emokit.core.cli import run_cli

    return run_cli(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="emokit-robustness", description="Evaluate every run of a finished experiment "
        "with a modality missing, noisy audio or word errors (no retraining); writes "
        "robustness.csv, robustness.md and plots/robustness.png in the experiment folder.")
    parser.add_argument("experiment", help="the experiment folder, e.g. results/quick")
    args = parser.parse_args(argv)
    path = Path(args.experiment)
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: give an experiment folder, e.g. results/quick")
    start = time.perf_counter()
    evaluate_robustness(path)
    print(f"robustness: {path / CSV_NAME} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
