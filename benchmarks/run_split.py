"""Where a run's time goes: tracing, training steps, validation, probes, test pass and codes,
checkpoints, building the model, and the rest (Python around them), per run and per system.

    python benchmarks/run_split.py                        # the quick command: 4 systems x 5 folds
    python benchmarks/run_split.py --preset quick --folds 1 2 --json split.json
    python benchmarks/run_split.py --config my.yaml       # any experiment (e.g. notebook 06's)

It runs the experiment as ``python -m emokit.experiment`` does (``run_experiment``, one process,
results in a temporary folder unless ``--results``) and times, inside every run:

- **tracing**: each compiled function's calls that traced it (``tf.function``'s own trace
  count went up during the call), less that function's median untraced call: the seconds spent
  tracing and compiling, whatever part of the run asked for the function;
- **steps**: the passes over the training set (``Trainer.run_epoch``), tracing taken out;
- **validation**: WA/UA on the validation set after each epoch;
- **probes**: the linear probes of ``TrainConfig.monitor`` and the gradient ratio;
- **test and codes**: after training, the test set's probabilities and codes and the training
  codes for the retrieval map;
- **checkpoint**: the per-epoch checkpoint;
- **build**: building the run's model (and, with compile-once, loading it into the kept one);
- **other**: the rest of the run (saving its folder, the Python around the epochs).

Works on trees before and after compile-once (issue 30): it patches what exists. Prints one line
per run and a table per system; ``--json`` keeps every number.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PARTS = ("tracing", "steps", "validation", "probes", "test and codes", "checkpoint", "build",
         "other")


class Clock:
    """Seconds per part of the current run; a part's time excludes the parts timed inside it."""

    def __init__(self):
        self.parts = defaultdict(float)
        self.stack: list[list] = []  # [part, start, seconds given to inner parts]
        self.untraced: dict[int, list[float]] = defaultdict(list)  # per function: call seconds
        self.traced: list[tuple[int, float, str]] = []  # (function, call seconds, enclosing part)

    def time(self, part: str, function, nested: bool = True):
        """``function`` timed as ``part``; with ``nested=False``, only when no part encloses the
        call (a test pass is one, a validation pass calling the same function is not)."""
        def timed(*args, **kwargs):
            if not nested and self.stack:
                return function(*args, **kwargs)
            self.stack.append([part, time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                name, start, inner = self.stack.pop()
                spent = time.perf_counter() - start
                self.parts[name] += spent - inner
                if self.stack:
                    self.stack[-1][2] += spent
        return timed

    def compiled(self, tf_function):
        """``tf_function`` whose calls are sorted into traced and untraced ones."""
        def call(*args, **kwargs):
            before = tf_function.experimental_get_tracing_count()
            start = time.perf_counter()
            try:
                return tf_function(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                if tf_function.experimental_get_tracing_count() > before:
                    self.traced.append((id(tf_function), spent,
                                        self.stack[-1][0] if self.stack else "other"))
                else:
                    self.untraced[id(tf_function)].append(spent)
        call.experimental_get_tracing_count = tf_function.experimental_get_tracing_count
        call.get_concrete_function = tf_function.get_concrete_function
        return call

    def close_run(self, total: float) -> dict[str, float]:
        """The run's split (seconds): tracing moved out of the parts it happened in."""
        parts = dict(self.parts)
        tracing = 0.0
        for key, spent, part in self.traced:
            typical = statistics.median(self.untraced[key]) if self.untraced.get(key) else 0.0
            extra = max(spent - typical, 0.0)
            tracing += extra
            parts[part] = parts.get(part, 0.0) - extra
        split = {p: parts.get(p, 0.0) for p in PARTS if p not in ("tracing", "other")}
        split["tracing"] = tracing
        split["other"] = total - sum(split.values())
        self.parts.clear()
        self.traced.clear()
        return {p: round(split[p], 3) for p in PARTS}


def _patch(module_name: str, attribute: str, wrap) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return
    if hasattr(module, attribute):
        setattr(module, attribute, wrap(getattr(module, attribute)))


def instrument(clock: Clock, runs: list[dict]) -> None:
    """Patch emokit's training pieces (where they are looked up) to report to ``clock``."""
    def own_function(original):
        return lambda *a, **k: clock.compiled(original(*a, **k))

    for module in ("emokit.training.trainer", "emokit.training.forward",
                   "emokit.training.tracing"):
        _patch(module, "own_function", own_function)
    from emokit.training import trainer as trainer_module

    trainer_class = trainer_module.Trainer
    trainer_class.run_epoch = clock.time("steps", trainer_class.run_epoch)
    # the loop calls monitored_gradients (gradient_ratio in trees before issue 25)
    name = "monitored_gradients" if hasattr(trainer_class, "monitored_gradients") else (
        "gradient_ratio")
    setattr(trainer_class, name, clock.time("probes", getattr(trainer_class, name)))
    for name in ("evaluate", "evaluate_and_encode"):
        _patch("emokit.training.loop", name, lambda f: clock.time("validation", f))
    _patch("emokit.training.loop", "probe_codes", lambda f: clock.time("probes", f))
    checkpoints = importlib.import_module("emokit.training.checkpoints").Checkpoints
    checkpoints.save = clock.time("checkpoint", checkpoints.save)
    for name in ("predict_dataset", "encode_dataset"):
        _patch("emokit.training.forward", name,
               lambda f: clock.time("test and codes", f, nested=False))
    _patch("emokit.experiment.runs", "code_measures", lambda f: clock.time("test and codes", f))
    _patch("emokit.training.reuse", "build_run_model", lambda f: clock.time("build", f))
    _patch("emokit.model.emotion_model", "build_model", lambda f: clock.time("build", f))

    def one_run(original):
        def run(config, utterances, data, fold_number, fold, seed, system, *args, **kwargs):
            clock.parts.clear()
            clock.traced.clear()
            start = time.perf_counter()
            record = original(config, utterances, data, fold_number, fold, seed, system,
                              *args, **kwargs)
            total = time.perf_counter() - start
            split = clock.close_run(total)
            runs.append({"system": system.name, "fold": fold_number, "seed": seed,
                         "epochs": record["epochs"], "seconds": round(total, 3), **split})
            print(f"{system.name:<26} fold {fold_number}: {total:5.1f} s  "
                  + "  ".join(f"{p} {split[p]:.1f}" for p in PARTS), flush=True)
            return record
        return run

    _patch("emokit.experiment.runner", "train_one_run", one_run)


def table(runs: list[dict]) -> str:
    """Markdown: per system, seconds summed over its runs, and the share of each part."""
    systems = list(dict.fromkeys(r["system"] for r in runs))
    lines = ["| system | runs | seconds | " + " | ".join(PARTS) + " |",
             "|---|---:|---:|" + "---:|" * len(PARTS)]
    for name in [*systems, "all"]:
        mine = [r for r in runs if name in ("all", r["system"])]
        total = sum(r["seconds"] for r in mine)
        cells = [f"{sum(r[p] for r in mine):.1f}" for p in PARTS]
        lines.append(f"| {name} | {len(mine)} | {total:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--config", help="a YAML file over the preset, as --config of the CLI")
    parser.add_argument("--folds", type=int, nargs="*", help="1-based folds (default: all)")
    parser.add_argument("--results", help="results folder (default: a temporary one)")
    parser.add_argument("--json", help="write every run's split to this file")
    args = parser.parse_args(argv)

    from emokit.experiment.cli import load_config
    from emokit.experiment.runner import run_experiment

    runs: list[dict] = []
    instrument(Clock(), runs)
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(args.preset, args.config, args.results or scratch, "run_split")
        if args.folds:
            config.folds = args.folds
        start = time.perf_counter()
        run_experiment(config, verbose=False)
        wall = time.perf_counter() - start
    print(f"\n{len(runs)} runs, {wall:.0f} s in all ({sum(r['seconds'] for r in runs):.0f} s "
          f"in runs); {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print(table(runs))
    if args.json:
        Path(args.json).write_text(json.dumps({"wall_seconds": round(wall, 1), "runs": runs,
                                               "preset": args.preset, "config": args.config},
                                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
