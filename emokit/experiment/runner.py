"""IEMOCAP-protocol evaluation: every system on every fold and seed, resumable, then the table.

One run = one system (:mod:`emokit.config.systems`) trained on one fold with one seed; each leaves a
folder of its own (:mod:`emokit.evaluation.runstore`), ``metrics.json`` last, so a killed experiment started
again redoes only the unfinished runs (a run cut short resumes from its per-epoch checkpoint).

``ExperimentConfig.jobs`` >= 2 (``--jobs N``) trains N runs at once, each in a worker process of
its own (:mod:`emokit.experiment.parallel`: GPU memory growth on, each process's share of the CPU threads);
a warm-started run waits for its baseline, this process holds the results lock, prints the lines
and advances the progress bar as runs finish, and builds the ``-selected`` systems and the report
at the end. A run gives exactly the numbers it gives in ``jobs: 1`` made with the same intra-op
thread count. A script that sets ``jobs`` must call :func:`run_experiment` under
``if __name__ == "__main__":`` (workers are spawned; notebooks need nothing).

Runs of one fold and seed are paired: they see the same fold data in the same order (the seed
sets the data order too, :func:`emokit.data.pipeline.data_order_seed`) and start from the same initial
weights (``build_model`` with the same seed), so "contrastive minus baseline" is measured per
(fold, seed) and :mod:`emokit.evaluation.fold_statistics` tests those paired differences. With
``init_from: baseline``, contrastive systems and the ``baseline-continued`` control start from the
trained baseline of their fold and seed instead (its encoders and, with ``warm_start_classifier:
copy``, its classifier; ``reinit`` keeps the seed's fresh classifier, as the paper's script), and
train for the same budget.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import time
from pathlib import Path

from emokit.config import ExperimentConfig
from emokit.config.systems import System, expand_systems
from emokit.core.atomic import storage_error, write_atomic
from emokit.data.pipeline import prepare_fold
from emokit.evaluation.modes import append_mode_section, protocol_note, read_folds
from emokit.evaluation.report import SystemSummary, summarize, write_report
from emokit.evaluation.runstore import (
    check_same_settings,
    experiment_dir,
    is_finished,
    load_runs,
    run_path,
    run_settings,
)
from emokit.experiment.corpus import experiment_folds, load_corpus
from emokit.experiment.dispatch import run_in_workers
from emokit.experiment.protocol import describe_protocol, folds_record
from emokit.experiment.runs import finished_line, train_one_run

# --- one run ---------------------------------------------------------------------------------------


# --- the experiment --------------------------------------------------------------------------------


def run_experiment(config: ExperimentConfig, verbose: bool = True) -> list[SystemSummary]:
    """Run every (fold, seed, system) not finished yet, then write the table and the plots.
    ``verbose``: a progress bar, one line per finished run, and the table printed at the end.

    The whole config is checked first (:func:`emokit.config.validation.validate_config`), and the
    experiment folder is locked (:func:`emokit.core.lock.results_lock`): a second process on the same
    folder refuses instead of training the same runs.

    Returns the table's rows (:class:`emokit.evaluation.report.SystemSummary`); the Markdown/CSV table,
    the per-run folders and the plots are under :func:`emokit.evaluation.runstore.experiment_dir`.
    """
    from emokit.config.validation import validate_config
    from emokit.core.errors import ConfigError
    from emokit.core.lock import results_lock

    validate_config(config)
    try:
        expand_systems(config)
    except ValueError as e:
        raise ConfigError([f"systems: {e}"]) from None
    refuse_a_file_in_the_way(experiment_dir(config))
    try:
        with results_lock(experiment_dir(config)):
            return _run_experiment_locked(config, verbose)
    except Exception as e:
        problem = storage_error(e, experiment_dir(config), "results")
        if problem is None:
            raise
        raise problem from None


def refuse_a_file_in_the_way(folder: Path) -> None:
    """A ``UsageError`` when ``folder`` or a folder above it is a file: the experiment's results
    could not be written there."""
    from emokit.core.errors import UsageError

    for path in (folder, *folder.parents):
        if path.is_dir():
            return
        if path.exists():
            raise UsageError(f"{path} is a file, not a folder: the experiment's results go in "
                             f"{folder}; choose another name (--name, or `name:` in the config) "
                             "or --results folder, or move that file away")


def _run_experiment_locked(config: ExperimentConfig, verbose: bool) -> list[SystemSummary]:
    out = experiment_dir(config)
    systems = expand_systems(config)
    settings = run_settings(config)
    utterances, features = load_corpus(config, verbose=verbose)
    utterances, folds = experiment_folds(config, utterances)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / "config.yaml")
    write_atomic(out / "folds.json", folds_record(folds, utterances, config.text.lowercase))

    pending = []
    for k, fold in folds:
        for seed in config.seeds:
            for system in systems:
                run_dir = run_path(out, system.name, k, seed)
                if is_finished(run_dir):
                    check_same_settings(run_dir, settings)
                else:
                    pending.append((k, fold, seed, system, run_dir))
    total = len(folds) * len(config.seeds) * len(systems)
    say = _log if verbose else _quiet
    say(f"{out}: {total} runs, {total - len(pending)} already finished")

    from emokit.core.optional import progress_bar

    tqdm = progress_bar()  # widget bars in a notebook with ipywidgets, text bars elsewhere
    bar = tqdm(total=total, initial=total - len(pending), desc="runs", disable=not verbose,
               file=sys.stdout)
    first = (folds[0][0], config.seeds[0])  # the run that keeps its codes for the t-SNE plot
    if config.jobs > 1 and pending:
        features = None  # each worker reads its own copy: none is held here meanwhile
        run_in_workers(config, pending, first, bar, say)
    else:
        for k, fold in folds:
            mine = [p for p in pending if p[0] == k]
            if not mine:
                continue
            start = time.perf_counter()
            data = prepare_fold(config, utterances, features, fold)
            say(f"fold {k} ({fold.name}): prepared in {time.perf_counter() - start:.1f} s", bar)
            for _, _, seed, system, run_dir in mine:  # the baseline comes before warm starts
                record = train_one_run(config, utterances, data, k, fold, seed, system, run_dir,
                                       (k, seed) == first)
                say(finished_line(record), bar)
                bar.update()
    bar.close()
    rows = finish_report(config, [k for k, _ in folds], systems, verbose)
    if config.robustness:
        from emokit.experiment.robustness import evaluate_robustness

        evaluate_robustness(out, verbose)
    return rows


# --- several runs at once (ExperimentConfig.jobs >= 2) ---------------------------------------------


def finish_report(config: ExperimentConfig, fold_numbers: list[int], systems: list[System],
                  show: bool = True) -> list[SystemSummary]:
    """Derive the ``-selected`` systems (a weight chosen per fold and seed on validation UA,
    :mod:`emokit.evaluation.selection`), summarize this experiment's finished runs, write
    ``report.md``/``.csv`` and the plots."""
    from emokit.config.systems import weight_groups
    from emokit.evaluation.plots import save_experiment_plots
    from emokit.evaluation.selection import write_selected_runs

    out = experiment_dir(config)
    names = [s.name for s in systems]
    groups = weight_groups(systems)
    for selected in write_selected_runs(out, systems, fold_numbers, config.seeds):
        last = max(names.index(s.name) for s in groups[selected])
        names.insert(last + 1, selected)  # shown right after its candidates
    runs = [r for r in load_runs(out) if r["system"] in names and r["fold"] in fold_numbers
            and r["seed"] in config.seeds]
    rows = summarize(runs, names)
    protocol = describe_protocol(config, fold_numbers) + protocol_note(read_folds(out),
                                                                       fold_numbers)
    markdown = write_report(rows, out, protocol, runs)
    markdown = append_mode_section(out, runs, names, markdown)
    save_experiment_plots(out, runs, rows)
    if show:
        _show_table(markdown)
    return rows


def _show_table(markdown: str) -> None:
    """The table once (stamped "quick mode" in quick mode): rendered in a notebook, as Markdown
    text elsewhere."""
    from emokit.evaluation.presentation import quick_table

    markdown = quick_table(markdown)
    if "ipykernel.zmqshell" in sys.modules:
        from IPython.display import Markdown, display

        display(Markdown(markdown))
    else:
        print("\n" + markdown)


def with_setting(config: ExperimentConfig, setting: str, value) -> ExperimentConfig:
    """A copy of ``config`` with the dotted ``setting`` (e.g. ``"corpus.text_disagreement"``)
    set to ``value``."""
    config = copy.deepcopy(config)
    *parents, leaf = setting.split(".")
    target = config
    for part in parents:
        target = getattr(target, part)
    if not dataclasses.is_dataclass(target) or leaf not in {f.name for f in
                                                            dataclasses.fields(target)}:
        raise ValueError(f"unknown setting {setting!r}")
    setattr(target, leaf, value)
    return config


def run_sweep(config: ExperimentConfig, setting: str, values: list,
              verbose: bool = True) -> list[tuple[object, list[SystemSummary]]]:
    """One experiment per value of the dotted ``setting``, each under
    ``<results>/<name>/<leaf>=<value>/``: returns ``[(value, table rows)]``."""
    leaf = setting.split(".")[-1]
    results = []
    for value in values:
        cfg = with_setting(config, setting, value)
        cfg.name = f"{config.name}/{leaf}={value:g}" if isinstance(value, float) else \
            f"{config.name}/{leaf}={value}"
        results.append((value, run_experiment(cfg, verbose)))
    return results


def _quiet(message: str, bar=None) -> None:
    pass


def _log(message: str, bar=None) -> None:
    if bar is not None:
        bar.write(message, file=sys.stdout)
    else:
        print(message, flush=True)


# --- command line ----------------------------------------------------------------------------------

