"""Several runs at once (``ExperimentConfig.jobs`` >= 2, ``--jobs N``): each run in a worker
process of its own (:mod:`emokit.experiment.parallel`), a warm-started run after its baseline.

The parent process holds the results lock, prints the lines and advances the progress bar as runs
finish. A run gives exactly the numbers it gives with ``jobs: 1`` made with the same intra-op thread
count. A script that sets ``jobs`` must call the experiment under ``if __name__ == "__main__":``
(workers are spawned; notebooks need nothing).
"""

from __future__ import annotations

import time
from pathlib import Path

from emokit.config import ExperimentConfig
from emokit.config.systems import BASELINE, System
from emokit.data.pipeline import prepare_fold
from emokit.experiment.corpus import experiment_folds, load_corpus
from emokit.experiment.runs import finished_line, train_one_run


def run_in_workers(config: ExperimentConfig, pending: list, first: tuple[int, int], bar,
                    say) -> None:
    """Every pending run in ``config.jobs`` worker processes (:mod:`emokit.experiment.parallel`); a
    warm-started run waits for its baseline. Lines and the progress bar advance here, in the
    parent, as runs finish."""
    from emokit.experiment.parallel import Task, run_tasks, threads_per_worker, usable_cores

    tasks = [Task(key=(system.name, k, seed), label=f"{system.name} fold {k} seed {seed}",
                  function=_worker_run,
                  args=(config, k, fold, seed, system, run_dir, (k, seed) == first),
                  after=((BASELINE, k, seed),) if system.warm_start else (), group=k)
             for k, fold, seed, system, run_dir in pending]
    workers = min(config.jobs, len(tasks))
    threads = threads_per_worker(config.jobs)
    say(f"{len(tasks)} run{'s' if len(tasks) > 1 else ''} in {workers} worker "
        f"process{'es' if workers > 1 else ''}, each with {threads} intra-op "
        f"thread{'s' if threads > 1 else ''} (each process's share of {usable_cores()} cores; "
        "TF_NUM_INTRAOP_THREADS sets it) and GPU memory growth on", bar)

    def done(task, reply) -> None:
        record, prepared = reply
        if prepared is not None:
            say(f"fold {record['fold']} ({record['fold_name']}): prepared in {prepared:.1f} s "
                "(in a worker)", bar)
        say(finished_line(record), bar)
        bar.update()

    run_tasks(tasks, config.jobs, done, what="run(s)")


_WORKER_STATE: dict = {}  # in a worker process: the corpus, and the last fold it prepared


def _worker_run(config: ExperimentConfig, fold_number: int, fold, seed: int, system: System,
                run_dir: Path, keep_codes: bool) -> tuple[dict, float | None]:
    """One run in a worker process (:func:`run_in_workers`): the corpus is read once per
    process, a fold prepared once per process while its runs keep coming. Returns the
    ``metrics.json`` record and the seconds spent preparing the fold (``None``: it was ready)."""
    state = _WORKER_STATE
    if "utterances" not in state:
        utterances, state["features"] = load_corpus(config, workers=1, verbose=False)
        state["utterances"], _ = experiment_folds(config, utterances)  # as the parent made them
    prepared = None
    if state.get("fold") != fold_number:
        state.pop("data", None)  # one fold in memory at a time
        start = time.perf_counter()
        state["data"] = prepare_fold(config, state["utterances"], state["features"], fold)
        state["fold"], prepared = fold_number, time.perf_counter() - start
    record = train_one_run(config, state["utterances"], state["data"], fold_number, fold, seed,
                           system, run_dir, keep_codes)
    return record, prepared
