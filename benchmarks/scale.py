"""One epoch at IEMOCAP size, split by where its time goes, and the presets' projected wall time.

    python benchmarks/scale.py --preset paper [--epochs 3] [--fold 1] [--system NAME]
    python benchmarks/scale.py --preset quick --converge     # + every system of fold 1 to the end
    python benchmarks/scale.py --project quick=Q.json full=F.json paper=P.json  # the table only

On the built-in corpus at IEMOCAP size (5,531 utterances; built with its feature cache on the
first call) it trains one run of ``--system`` (default: the preset's first regularized system) on
fold ``--fold`` through ``emokit.training.loop.fit``, with monitoring on and a checkpoint every epoch,
and times each part of each epoch inside ``fit``:

- **training steps**: the pass over the training set minus the time it waited for a batch;
- **input wait**: the time the training loop waited for the next batch (host-side input work on
  the critical path); ``input alone`` is one epoch of batches produced with no training;
- **validation**: WA/UA on the validation set;
- **monitoring**: the linear probes (``probe_codes``) and the gradient ratio;
- **checkpoint**: model, optimizer, best weights and loop state written after the epoch;
- **other**: the rest of the epoch's wall time.

The first epoch includes tracing; the split is the mean of the later ones. "Steps share" is
steps / epoch with monitoring on, and steps / (epoch - monitoring) with it off. Peak memory is the
process's peak resident set (``ru_maxrss``). ``--json FILE`` keeps the numbers;
``--converge`` also trains every system of the fold as the experiment does (warm starts from the
baseline), to early stopping, and records each run's epochs and seconds: the basis of the
projection. ``--project`` combines saved files into the Markdown table of projected wall times
(runs x epochs x seconds per epoch, per system, plus preparing the folds and the per-run tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PARTS = ("steps", "input wait", "validation", "probes", "gradient ratio", "checkpoint", "other")
MONITORING = ("probes", "gradient ratio")


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedDataset:
    """A dataset whose iteration records the seconds spent waiting for each batch.

    Passes ``element_spec`` and ``cardinality`` through, so ``emokit.training.loop.fit`` takes it as
    it takes the ``tf.data.Dataset`` it wraps."""

    def __init__(self, dataset, clock: EpochClock):
        self.dataset, self.clock = dataset, clock

    @property
    def element_spec(self):
        return self.dataset.element_spec

    def cardinality(self):
        return self.dataset.cardinality()

    def __iter__(self):
        iterator = iter(self.dataset)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                self.clock.add("input wait", time.perf_counter() - start)
            yield batch


class EpochClock:
    """Seconds per part of each epoch of ``fit``, gathered by wrapping the functions it calls."""

    def __init__(self):
        self.epochs: list[dict[str, float]] = []
        self.epoch_starts: list[float] = []
        self.cpu: list[dict[str, float]] = []  # the same parts in CPU seconds of this process
        self.cpu_starts: list[float] = []

    def add(self, part: str, seconds: float, cpu_seconds: float = 0.0) -> None:
        if self.epochs:
            self.epochs[-1][part] = self.epochs[-1].get(part, 0.0) + seconds
            self.cpu[-1][part] = self.cpu[-1].get(part, 0.0) + cpu_seconds

    def timed(self, part: str, function, starts_epoch: bool = False):
        def wrapper(*args, **kwargs):
            if starts_epoch:
                if self.epoch_starts:
                    print(f"  epoch {len(self.epochs)}: {time.perf_counter() - self.epoch_starts[-1]:.1f} s "
                          f"{ {k: round(v, 1) for k, v in self.epochs[-1].items()} }", flush=True)
                self.epochs.append({})
                self.epoch_starts.append(time.perf_counter())
                self.cpu.append({})
                self.cpu_starts.append(time.process_time())
            start, cpu_start = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(part, time.perf_counter() - start, time.process_time() - cpu_start)
        return wrapper

    def split(self, fit_end: float, cpu: bool = False) -> list[dict[str, float]]:
        """Per epoch: the seconds of every part of ``PARTS`` and ``epoch`` (its wall time), or
        with ``cpu`` the CPU seconds this process spent in each."""
        epochs, starts = (self.cpu, self.cpu_starts) if cpu else (self.epochs, self.epoch_starts)
        ends = starts[1:] + [fit_end]
        out = []
        for parts, start, end in zip(epochs, starts, ends):
            row = {p: parts.get(p, 0.0) for p in PARTS}
            row["steps"] = parts.get("train pass", 0.0) - row["input wait"]
            row["epoch"] = end - start
            row["other"] = row["epoch"] - sum(row[p] for p in PARTS if p != "other")
            out.append(row)
        return out


def instrumented_fit(model, train_ds, val_ds, train_config, probe_train_ds):
    """``emokit.training.loop.fit`` with every part of each epoch timed -> (history, per-epoch split
    in wall seconds, the same in CPU seconds)."""
    from emokit.training import loop

    clock = EpochClock()
    saved = {(owner, name): getattr(owner, name)
             for owner, name in ((loop, "evaluate"), (loop, "evaluate_and_encode"),
                                 (loop, "probe_codes"), (loop.Trainer, "run_epoch"),
                                 (loop.Trainer, "gradient_ratio"),
                                 (loop.Trainer, "monitored_gradients"),
                                 (loop.Checkpoints, "save"))
             if hasattr(owner, name)}  # (evaluate_and_encode: not in trees before issue 19)
    parts = {"evaluate": "validation", "evaluate_and_encode": "validation",
             "probe_codes": "probes", "run_epoch": "train pass",
             "gradient_ratio": "gradient ratio", "monitored_gradients": "gradient ratio",
             "save": "checkpoint"}
    try:
        for (owner, name), function in saved.items():
            setattr(owner, name, clock.timed(parts[name], function, name == "run_epoch"))
        history = loop.fit(model, TimedDataset(train_ds, clock), val_ds, train_config,
                               probe_train_ds=probe_train_ds)
        fit_end, cpu_end = time.perf_counter(), time.process_time()
    finally:
        for (owner, name), function in saved.items():
            setattr(owner, name, function)
    return history, clock.split(fit_end), clock.split(cpu_end, cpu=True)


def input_alone(dataset) -> float:
    """Seconds to produce one epoch of ``dataset``'s batches with nothing else running."""
    start = time.perf_counter()
    for _ in dataset:
        pass
    return time.perf_counter() - start


def mean_split(epochs: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each part over the epochs after the first (tracing), or the first alone."""
    later = epochs[1:] or epochs
    return {k: sum(e[k] for e in later) / len(later) for k in later[0]}


def shares(split: dict[str, float], probe_every: int = 1) -> dict[str, float]:
    """Steps / epoch: monitoring off, on with probes every epoch, and on with probes every
    ``probe_every``-th epoch (their cost spread over the epochs; the kept epoch's extra probe
    after training is left out: one per run)."""
    monitoring = sum(split[p] for p in MONITORING)
    off = split["epoch"] - monitoring
    return {"steps share, monitoring off": split["steps"] / off,
            "steps share, monitoring on": split["steps"] / split["epoch"],
            "steps share, monitoring on, probes every k": split["steps"] / (
                off + split["gradient ratio"] + split["probes"] / probe_every),
            "probe_every": probe_every}


def scale_config(preset: str):
    """The preset at IEMOCAP size, monitoring on with probes every epoch (to time them), quiet."""
    from emokit.config.presets import PRESETS

    config = PRESETS[preset]()
    return dataclasses.replace(
        config, corpus=dataclasses.replace(config.corpus, synthetic_size="iemocap"),
        train=dataclasses.replace(config.train, monitor=True, verbose=0, probe_every=1))


def after_training_seconds(model, data) -> float:
    """What a finished run does besides training: test predictions, test and training codes."""
    from emokit.training.forward import encode_dataset, predict_dataset

    start = time.perf_counter()
    predict_dataset(model, data.test)
    encode_dataset(model, data.test)
    encode_dataset(model, data.train_in_order)
    return time.perf_counter() - start


def time_epochs(config, system, data, epochs: int, seed: int = 0) -> dict:
    """Train ``system`` for ``epochs`` epochs (no early stopping) -> its per-epoch split."""
    from emokit.config.systems import system_config
    from emokit.data.pipeline import data_order_seed
    from emokit.model.emotion_model import build_model
    from emokit.training.loop import release_run_state

    cfg = system_config(config, system)
    model = build_model(cfg.model, data.feature_dim, len(data.vocab), data.num_classes,
                        embedding_matrix=data.embedding_matrix, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        train = dataclasses.replace(cfg.train, seed=seed, epochs=epochs, patience=epochs,
                                    checkpoint_dir=folder)
        train_ds = data.train_dataset(data_order_seed(data.pipeline, seed))
        probe_train = getattr(data, "train_by_length", None) or data.train_in_order  # (old trees)
        _, split, cpu_split = instrumented_fit(model, train_ds, data.val, train, probe_train)
    after = after_training_seconds(model, data)
    del model
    release_run_state()
    return {"system": system.name, "epochs": split, "mean": mean_split(split),
            "cpu epochs": cpu_split, "cpu mean": mean_split(cpu_split),
            "after training s": after,
            "input alone s": input_alone(data.train_dataset(data_order_seed(data.pipeline, 1)))}


def converge(config, data, fold_number: int) -> list[dict]:
    """Every system of the preset on this fold, as the experiment trains them, to early stopping
    -> ``[{system, epochs, best_epoch, seconds}]``."""
    from emokit.config.presets import PRESETS
    from emokit.config.systems import BASELINE, expand_systems
    from emokit.experiment.runs import train_and_evaluate

    preset = PRESETS[config.name]().train  # monitoring as the preset has it
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, monitor=preset.monitor, probe_every=preset.probe_every))
    runs, baseline_weights = [], None
    for system in expand_systems(config):
        start = time.perf_counter()
        result = train_and_evaluate(config, system, data, config.seeds[0],
                                    init_weights=baseline_weights if system.warm_start else None)
        seconds = time.perf_counter() - start
        if system.name == BASELINE:
            baseline_weights = result.final_weights
        runs.append({"system": system.name, "epochs": result.history["epochs_run"],
                     "best_epoch": result.history["best_epoch"], "seconds": seconds})
        print(f"  {system.name:<30} {runs[-1]['epochs']:3d} epochs (best {runs[-1]['best_epoch']})"
              f" {seconds:7.1f} s", flush=True)
    return runs


def measure(args) -> dict:
    from emokit.config.presets import PRESETS
    from emokit.config.systems import expand_systems
    from emokit.data.pipeline import prepare_fold
    from emokit.experiment.corpus import experiment_folds, load_corpus

    config = scale_config(args.preset)
    start = time.perf_counter()
    utterances, features = load_corpus(config, workers=1)
    load_s = time.perf_counter() - start
    utterances, folds = experiment_folds(dataclasses.replace(config, folds=[args.fold]),
                                         utterances)
    start = time.perf_counter()
    data = prepare_fold(config, utterances, features, folds[0][1])
    prepare_s = time.perf_counter() - start
    systems = expand_systems(config)
    system = next(s for s in systems if s.name == args.system) if args.system else next(
        s for s in systems if s.contrastive_weight > 0)
    print(f"{args.preset}: {len(utterances)} utterances, fold {args.fold}: "
          f"{len(data.train_ids)} train / {len(data.val_ids)} val / {len(data.test_ids)} test; "
          f"corpus + features loaded in {load_s:.1f} s, fold prepared in {prepare_s:.1f} s; "
          f"timing {system.name} for {args.epochs} epochs", flush=True)
    timed = time_epochs(config, system, data, args.epochs)
    record = {"preset": args.preset, "fold": args.fold, "prepare fold s": prepare_s,
              "load s": load_s, "train": len(data.train_ids), "val": len(data.val_ids),
              "test": len(data.test_ids), **timed,
              "shares": shares(timed["mean"], PRESETS[args.preset]().train.probe_every),
              "cpu shares": shares(timed["cpu mean"], PRESETS[args.preset]().train.probe_every),
              "runs per fold": len(systems) * len(config.seeds), "folds": len(folds),
              "max epochs": config.train.epochs, "patience": config.train.patience,
              "monitor in preset": PRESETS[args.preset]().train.monitor,
              "systems": [s.name for s in systems],
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"}
    print(split_table({args.preset: record}), flush=True)
    if args.converge:
        print(f"fold {args.fold}, every system to early stopping:", flush=True)
        record["converge"] = converge(config, data, args.fold)
    record["peak rss MB"] = peak_rss_mb()
    print(f"peak memory (RSS): {record['peak rss MB']:.0f} MB")
    return record


def split_table(records: dict[str, dict]) -> str:
    """Markdown: one row per preset's model, the mean epoch after the first, in seconds."""
    head = ("| model (system) | epoch s | " + " | ".join(PARTS) + " | input alone | steps share: "
            "monitoring off / on / on, probes every k (k) |")
    lines = [head, "|" + "---|" * (len(PARTS) + 4)]
    for name, r in records.items():
        for unit, m, s in (("wall", r["mean"], r["shares"]),
                           ("CPU", r.get("cpu mean"), r.get("cpu shares"))):
            if m is None:
                continue
            lines.append(f"| {name} ({r['system']}), {unit} s | {m['epoch']:.1f} | "
                         + " | ".join(f"{m[p]:.2f}" for p in PARTS)
                         + f" | {r['input alone s']:.2f} | "
                           f"{s['steps share, monitoring off']:.0%} / "
                           f"{s['steps share, monitoring on']:.0%} / "
                           f"{s.get('steps share, monitoring on, probes every k', 0):.0%} "
                           f"({s.get('probe_every', 1)}) |")
    return "\n".join(lines)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def preset_epoch(record: dict, mean: str = "mean") -> float:
    """Seconds of one epoch as the preset runs it (``mean``: wall, or ``"cpu mean"``: CPU
    seconds): monitoring as the preset has it, probes every ``probe_every``-th epoch."""
    m = record[mean]
    epoch = m["epoch"] - sum(m[p] for p in MONITORING)
    if record["monitor in preset"]:
        epoch += m["gradient ratio"] + m["probes"] / record["shares"].get("probe_every", 1)
    return epoch


def projection(record: dict) -> dict:
    """Projected time of the whole preset on this machine: runs x (epochs x epoch + the per-run
    tests) + preparing every fold, in wall seconds as measured (``seconds``) and scaled by the
    epoch's CPU / wall seconds (``idle``: on an idle machine a run takes at most the CPU time it
    used). Epochs per run: measured (``--converge``: the fold's runs), else the bounds the
    stopping rule allows (patience + 1, max epochs)."""
    runs = record["runs per fold"] * record["folds"]
    epoch, prepare = preset_epoch(record), record["folds"] * record["prepare fold s"]
    cpu_ratio = preset_epoch(record, "cpu mean") / epoch
    if record.get("converge"):
        fold_seconds = sum(r["seconds"] for r in record["converge"])
        epochs = [r["epochs"] for r in record["converge"]]
        seconds = (record["folds"] * fold_seconds + prepare,)
        return {"runs": runs, "epoch s": epoch, "seconds": seconds,
                "idle": tuple(x * cpu_ratio for x in seconds),
                "epochs": f"{min(epochs)}-{max(epochs)}, measured",
                "basis": f"fold {record['fold']}'s {len(epochs)} runs trained to early stopping "
                         f"({fold_seconds:.0f} s) x {record['folds']} folds"}
    low, high = record["patience"] + 1, record["max epochs"]
    seconds = tuple(runs * (e * epoch + record["after training s"]) + prepare for e in (low, high))
    return {"runs": runs, "epoch s": epoch, "seconds": seconds,
            "idle": tuple(x * cpu_ratio for x in seconds),
            "epochs": f"{low}-{high}: the stopping rule's bounds, not measured",
            "basis": f"{runs} runs x {low}-{high} epochs x {epoch:.0f} s + tests"}


def projection_table(records: dict[str, dict]) -> str:
    head = ("| preset | runs | epoch as the preset runs it (wall / CPU) | epochs per run | "
            "projected wall time, loaded machine | idle machine, at most | basis |")
    lines = [head, "|---|---:|---:|---|---|---|---|"]
    for name, r in records.items():
        p = projection(r)
        wall = " - ".join(hours(x) for x in p["seconds"])
        idle = " - ".join(hours(x) for x in p["idle"])
        lines.append(f"| `{name}` | {p['runs']} | {p['epoch s']:.0f} s / "
                     f"{preset_epoch(r, 'cpu mean'):.0f} s | {p['epochs']} | {wall} | {idle} | "
                     f"{p['basis']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="paper", choices=("quick", "full", "paper"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--system", default=None, help="default: the first regularized system")
    parser.add_argument("--converge", action="store_true")
    parser.add_argument("--json", default=None, help="write the numbers to this file")
    parser.add_argument("--project", nargs="+", metavar="PRESET=FILE",
                        help="print the tables of saved runs instead of measuring")
    args = parser.parse_args()
    if args.project:
        records = {}
        for item in args.project:
            name, path = item.split("=", 1)
            records[name] = json.loads(Path(path).read_text())
        print(split_table(records))
        print()
        print(projection_table(records))
        return
    record = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
