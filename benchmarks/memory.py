"""Resident memory of one process across many training runs (issue #20): it must stay flat.

    python benchmarks/memory.py [--runs 20] [--epochs N] [--fold 1]

Trains ``--runs`` runs of the quick preset's systems in turn (audio, text, baseline,
contrastive, ...) on one fold of the built-in mini corpus, in one process, through
``emokit.experiment.runs.train_and_evaluate`` (what ``run_experiment`` and the notebooks call), and
prints the resident memory (RSS) after each run and the growth per run between the first and the
last run of one system. ``--epochs`` overrides the preset's 12 epochs (fewer epochs: the same
objects per run, less time). Target: growth per run well under 10 MB.

Measured with ``--runs 20 --epochs 2`` (pinned stack, 2-core machine loaded by other jobs), RSS
after 1, 5, 10, 20 runs: before the fix of issue #20, 721, 1224, 1584, 2507 MB (about 94 MB per
run); with it, 711, 793, 752, 807 MB (runs 4 to 20, all contrastive: 881 -> 807 MB, -4.6 MB per
run; RSS moves 750-890 MB with the system that ran last).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rss_mb() -> float:
    """This process's resident memory in MB (VmRSS from /proc, else psutil)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()

    from emokit.config.presets import get_preset
    from emokit.config.systems import expand_systems
    from emokit.data.pipeline import prepare_fold
    from emokit.experiment.corpus import experiment_folds, load_corpus
    from emokit.experiment.runs import train_and_evaluate

    config = get_preset(args.preset)
    if args.epochs:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                       epochs=args.epochs))
    utterances, features = load_corpus(config)
    utterances, [(_, fold)] = experiment_folds(dataclasses.replace(config, folds=[args.fold]),
                                               utterances)
    data = prepare_fold(config, utterances, features, fold)
    systems = [s for s in expand_systems(config) if not s.warm_start]
    print(f"data loaded: RSS {rss_mb():.0f} MB; systems {[s.name for s in systems]}, "
          f"{config.train.epochs} epochs each", flush=True)
    after = []
    for run in range(1, args.runs + 1):
        system = systems[(run - 1) % len(systems)]
        start = time.perf_counter()
        result = train_and_evaluate(config, system, data, config.seeds[0])
        del result
        after.append(rss_mb())
        print(f"run {run:2d} {system.name:<28} {time.perf_counter() - start:5.1f} s  "
              f"RSS {after[-1]:6.0f} MB", flush=True)
    first = (len(after) - 1) % len(systems)  # the first run of the last run's system
    if first < len(after) - 1:  # same system, same model: RSS differs by what runs left behind
        print(f"growth per run from run {first + 1} to run {len(after)} (both "
              f"{systems[first].name}): {(after[-1] - after[first]) / (len(after) - 1 - first):.1f}"
              " MB")
    marks = [n for n in (1, 5, 10, 20) if n <= len(after)]
    print("RSS after " + ", ".join(f"{n} runs: {after[n - 1]:.0f} MB" for n in marks))


if __name__ == "__main__":
    main()
