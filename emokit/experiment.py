"""IEMOCAP-protocol evaluation: every system on every fold and seed, resumable, then the table.

    python -m emokit.experiment --preset quick            # the built-in mini corpus, ~4 min on CPU
    python -m emokit.experiment --preset full --results /content/drive/MyDrive/emokit
    python -m emokit.experiment --preset paper --config my_overrides.yaml

One run = one system trained on one fold with one seed. Every run writes its own folder
``<results>/<experiment name>/runs/<system>/fold<k>_seed<s>/``: ``config.json`` (written first),
``history.json`` (per epoch), ``initial_weights.json`` (a hash per initial weight),
``predictions.csv`` (id, true, predicted, class probabilities), ``confusion.csv``, ``codes.npz``
(latent codes of the test set, for the t-SNE plot: runs of the first fold and seed only) and
``metrics.json`` last. A folder with ``metrics.json`` is finished, so a killed experiment started
again redoes only the unfinished runs (a run cut short resumes from its per-epoch checkpoint).

Systems (``ExperimentConfig.systems``):

- ``audio``, ``text``: one encoder and the classifier;
- ``baseline``: both encoders, concatenation, lambda = 0;
- ``contrastive-<mlp|bilinear|cosine>-<lambda>``, e.g. ``contrastive-mlp-0.1``: the baseline plus the pair
  discriminator's loss with weight lambda. Shorthands: ``contrastive`` (``model.discriminator`` at
  every ``contrastive_weights`` value) and ``contrastive-bilinear`` (every weight).

Runs of one fold and seed are paired: they see the same fold data and start from the same initial
weights (``build_model`` with the same seed), so "contrastive minus baseline" is measured per
(fold, seed) and :mod:`emokit.report` tests those paired differences.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# TensorFlow's C++ log lines ("Local rendezvous is aborting ... End of sequence" at the end of
# every dataset pass) would bury the progress lines; set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emokit.atomic import write_atomic
from emokit.config import ExperimentConfig
from emokit.layers import DISCRIMINATORS
from emokit.pipeline import prepare_fold
from emokit.report import SystemSummary, load_runs, run_path, summarize, write_report

CHECKPOINT = "checkpoint"  # a run's training checkpoint folder, removed when the run finishes
PROTOCOL_NAMES = {"session": "leave-one-session-out", "speaker": "leave-one-speaker-out"}
# Settings that choose *which* runs an experiment has, not what one run computes.
_SELECTION_KEYS = ("name", "results_dir", "folds", "seeds", "systems", "contrastive_weights")


# --- systems ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class System:
    """One trainable configuration: which modalities, and the contrastive term's weight."""

    name: str
    modalities: str  # "both", "audio" or "text"
    contrastive_weight: float = 0.0
    discriminator: str | None = None  # one of emokit.layers.DISCRIMINATORS when weight > 0


def contrastive_name(discriminator: str, weight: float) -> str:
    """``contrastive-<discriminator>-<weight>``, the weight written with ``:g`` (0.1, 1, 1e-05)."""
    return f"contrastive-{discriminator}-{weight:g}"


def parse_system(name: str) -> System:
    """The :class:`System` a fully written name stands for (``audio``, ``text``, ``baseline`` or
    ``contrastive-<discriminator>-<weight>``)."""
    if name in ("audio", "text"):
        return System(name, name)
    if name == "baseline":
        return System(name, "both")
    parts = name.split("-", 2)
    if len(parts) == 3 and parts[0] == "contrastive" and parts[1] in DISCRIMINATORS:
        try:
            weight = float(parts[2])
        except ValueError:
            weight = -1.0
        if weight > 0:
            return System(contrastive_name(parts[1], weight), "both", weight, parts[1])
    raise ValueError(
        f"unknown system {name!r}: use 'audio', 'text', 'baseline', 'contrastive', "
        f"'contrastive-<{'|'.join(DISCRIMINATORS)}>' or 'contrastive-<{'|'.join(DISCRIMINATORS)}>-"
        "<weight > 0>' (e.g. 'contrastive-mlp-0.1')"
    )


def expand_systems(config: ExperimentConfig) -> list[System]:
    """``config.systems`` with the shorthands expanded over ``config.contrastive_weights``."""
    systems: dict[str, System] = {}
    for entry in config.systems:
        if entry == "contrastive":
            entry = f"contrastive-{config.model.discriminator}"
        if entry in (f"contrastive-{d}" for d in DISCRIMINATORS):
            if not config.contrastive_weights:
                raise ValueError(f"system {entry!r} needs ExperimentConfig.contrastive_weights")
            names = [f"{entry}-{w:g}" for w in config.contrastive_weights]
        else:
            names = [entry]
        for name in names:
            system = parse_system(name)
            systems.setdefault(system.name, system)
    if not systems:
        raise ValueError("ExperimentConfig.systems is empty")
    return list(systems.values())


def system_config(config: ExperimentConfig, system: System) -> ExperimentConfig:
    """A copy of ``config`` whose ``model`` settings are those of ``system``."""
    model = dataclasses.replace(
        config.model, modalities=system.modalities, contrastive_weight=system.contrastive_weight,
        discriminator=system.discriminator or config.model.discriminator)
    return dataclasses.replace(config, model=model)


# --- one run ---------------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What training and testing one system on one fold with one seed produced."""

    history: dict
    test_ids: list[str]
    y_true: np.ndarray  # (test,) int
    probs: np.ndarray  # (test, classes) float
    audio_codes: np.ndarray | None  # (test, latent_dim), None without an audio encoder
    text_codes: np.ndarray | None  # (test, latent_dim), None without a text encoder
    initial_weights: list[tuple[str, str]]  # (variable path, hash of its initial value)
    shared_fingerprint: str  # hash of the initial weights outside the discriminator


def weight_hashes(model) -> list[tuple[str, str]]:
    """``[(variable path, short sha1 of its value)]`` for every weight of ``model``, in order.
    (Paths carry Keras' per-process layer counters, e.g. ``dense_7``: compare by position.)"""
    return [(v.path, hashlib.sha1(np.ascontiguousarray(v.numpy())).hexdigest()[:16])
            for v in model.weights]


def shared_fingerprint(model) -> str:
    """One hash of the values of every weight outside the discriminator, in order: equal for runs
    that share initial weights (baseline and contrastive runs built with the same seed)."""
    skip = {id(v) for v in model.discriminator.weights}
    shared = [v for v in model.weights if id(v) not in skip]
    digest = hashlib.sha1()
    for v in shared:
        digest.update(np.ascontiguousarray(v.numpy()).tobytes())
    return digest.hexdigest()[:16]


def encode_dataset(model, dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The model's ``(audio_codes, text_codes)`` for a whole dataset, ``(n, latent_dim)`` each
    (None for a modality the model does not have)."""
    import tensorflow as tf

    from emokit.training import general_signature

    encode = tf.function(lambda inputs: model.encode(inputs, training=False),
                         input_signature=general_signature((dataset.element_spec[0],)))
    audio, text = [], []
    for inputs, _ in dataset:
        a, t = encode(inputs)
        if a is not None:
            audio.append(np.asarray(a, dtype="float32"))
        if t is not None:
            text.append(np.asarray(t, dtype="float32"))
    return (np.concatenate(audio) if audio else None, np.concatenate(text) if text else None)


def train_and_evaluate(config: ExperimentConfig, system: System, fold_data, seed: int,
                       run_dir: Path | None = None, keep_codes: bool = False) -> RunResult:
    """Build ``system``'s model with ``seed``, train it on the fold, and test it. With
    ``run_dir``, training checkpoints every epoch to ``run_dir/checkpoint`` (and resumes from
    it), and TensorBoard logs (when ``train.tensorboard_dir`` is set) go to a folder of their own
    per run; with ``keep_codes``, the result holds the latent codes of the test set."""
    from emokit.model import build_model
    from emokit.training import fit, predict_dataset

    cfg = system_config(config, system)
    model = build_model(cfg.model, fold_data.feature_dim, len(fold_data.vocab),
                        fold_data.num_classes, embedding_matrix=fold_data.embedding_matrix,
                        seed=seed)
    initial = weight_hashes(model)
    fingerprint = shared_fingerprint(model)
    train = dataclasses.replace(cfg.train, seed=seed, verbose=0)
    if run_dir is not None:
        train.checkpoint_dir = str(run_dir / CHECKPOINT)
        if train.tensorboard_dir:
            train.tensorboard_dir = str(Path(train.tensorboard_dir) / run_dir.parent.name
                                        / run_dir.name)
    history = fit(model, fold_data.train, fold_data.val, train)
    y_true, probs = predict_dataset(model, fold_data.test)
    audio, text = encode_dataset(model, fold_data.test) if keep_codes else (None, None)
    return RunResult(history, list(fold_data.test_ids), np.asarray(y_true), np.asarray(probs),
                     audio, text, initial, fingerprint)


def is_finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").exists()


def run_settings(config: ExperimentConfig) -> dict:
    """The settings that decide what one run computes (everything but the run selection)."""
    settings = config.to_dict()
    for key in _SELECTION_KEYS:
        settings.pop(key)
    settings["train"].pop("verbose")
    return settings


def check_same_settings(run_dir: Path, settings: dict) -> None:
    """Refuse to reuse a finished run made with other settings (a resumed experiment must not mix
    old and new results)."""
    saved = json.loads((run_dir / "config.json").read_text())["settings"]
    if saved != settings:
        changed = _changed_keys(saved, settings)
        raise ValueError(
            f"{run_dir} was made with different settings ({', '.join(changed)}); give this "
            "experiment another name (ExperimentConfig.name) or --results folder, or delete "
            f"{run_dir.parent.parent.parent} to start over"
        )


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    changed = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            changed.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changed


def start_run(run_dir: Path, config: ExperimentConfig, system: System, fold_number: int, fold,
              seed: int) -> None:
    """Write the run's ``config.json``. Leftovers of a killed run with the same config (its
    training checkpoint) are kept so training resumes; anything else there is removed."""
    run_config = json.dumps({
        "system": system.name, "fold": fold_number, "fold_name": fold.name, "seed": seed,
        "test_speakers": list(fold.test_speakers), "val_speakers": list(fold.val_speakers),
        "settings": run_settings(config),
        "model": dataclasses.asdict(system_config(config, system).model),
    }, indent=2)
    config_path = run_dir / "config.json"
    if run_dir.exists() and not (config_path.exists() and config_path.read_text() == run_config):
        shutil.rmtree(run_dir)
    write_atomic(config_path, run_config)


def save_run(run_dir: Path, system: System, fold_number: int, fold, seed: int, result: RunResult,
             class_names: list[str], seconds: float) -> dict:
    """Write one run's results atomically, ``metrics.json`` last (the completion marker), and
    remove its training checkpoint."""
    from emokit.metrics import classification_metrics

    y_pred = result.probs.argmax(axis=1)
    metrics = classification_metrics(result.y_true, y_pred, len(class_names))
    write_atomic(run_dir / "history.json", json.dumps(_jsonable(result.history), indent=2))
    write_atomic(run_dir / "initial_weights.json", json.dumps(result.initial_weights, indent=2))
    write_atomic(run_dir / "predictions.csv", _predictions_csv(result, y_pred, class_names))
    write_atomic(run_dir / "confusion.csv", _confusion_csv(metrics["confusion"], class_names))
    if result.audio_codes is not None or result.text_codes is not None:
        write_atomic(run_dir / "codes.npz", _codes_npz(result))
    record = {
        "system": system.name, "fold": fold_number, "fold_name": fold.name, "seed": seed,
        "wa": float(metrics["wa"]), "ua": float(metrics["ua"]),
        "recall": [float(r) for r in metrics["recall"]],
        "confusion": [[int(c) for c in row] for row in metrics["confusion"]],
        "class_names": list(class_names), "epochs": int(result.history.get("epochs_run", 0)),
        "seconds": round(seconds, 2), "shared_fingerprint": result.shared_fingerprint,
    }
    write_atomic(run_dir / "metrics.json", json.dumps(record, indent=2))
    shutil.rmtree(run_dir / CHECKPOINT, ignore_errors=True)
    return record


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _predictions_csv(result: RunResult, y_pred: np.ndarray, class_names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "true", "predicted", *(f"p_{c}" for c in class_names)])
    for uid, t, p, probs in zip(result.test_ids, result.y_true, y_pred, result.probs, strict=True):
        writer.writerow([uid, class_names[int(t)], class_names[int(p)],
                         *(f"{x:.6f}" for x in probs)])
    return out.getvalue()


def _confusion_csv(confusion, class_names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["true \\ predicted", *class_names])
    for name, row in zip(class_names, confusion, strict=True):
        writer.writerow([name, *row])
    return out.getvalue()


def _codes_npz(result: RunResult) -> bytes:
    arrays = {"ids": np.array(result.test_ids), "labels": result.y_true}
    if result.audio_codes is not None:
        arrays["audio"] = result.audio_codes
    if result.text_codes is not None:
        arrays["text"] = result.text_codes
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- protocol checks -------------------------------------------------------------------------------

def random_split(utterances, test_fraction: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """A random utterance-level split of the labelled rows -> ``(train_ids, test_ids)``: the
    optimistic protocol of many published numbers, for comparison only (see :func:`leakage`)."""
    ids = np.array([u.id for u in utterances if u.label])
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = round(test_fraction * len(ids))
    return list(ids[order[n_test:]]), list(ids[order[:n_test]])


def leakage(utterances, train_ids, test_ids) -> dict[str, float]:
    """What a test set shares with its training set: the fraction of test utterances whose
    speaker is among the training speakers, and whose transcript (tokenized) occurs verbatim in
    training, overall and for scripted turns."""
    from emokit.text import tokenize

    by_id = {u.id: u for u in utterances}
    speakers = {by_id[i].speaker for i in train_ids}
    texts = {" ".join(tokenize(by_id[i].transcript)) for i in train_ids}
    test = [by_id[i] for i in test_ids]
    seen = [" ".join(tokenize(u.transcript)) in texts for u in test]
    scripted = [s for s, u in zip(seen, test, strict=True) if u.mode == "script"]
    return {"seen_speaker": float(np.mean([u.speaker in speakers for u in test])),
            "seen_transcript": float(np.mean(seen)),
            "seen_transcript_scripted": float(np.mean(scripted)) if scripted else float("nan")}


# --- the experiment --------------------------------------------------------------------------------

def experiment_dir(config: ExperimentConfig) -> Path:
    """``<results_dir>/<name>/`` (results_dir None = ``emokit.paths.results_dir()``)."""
    from emokit.paths import results_dir

    base = Path(config.results_dir) if config.results_dir else results_dir()
    return base / config.name


def describe_protocol(config: ExperimentConfig, fold_numbers: list[int]) -> str:
    """E.g. ``leave-one-session-out, 5 folds x 1 seed, built-in corpus mini (seed 0, ...)``;
    a subset of folds is named (``folds 1, 3 x 1 seed``)."""
    corpus = config.corpus
    source = (f"IEMOCAP release {corpus.root}" if corpus.root
              else f"built-in corpus {corpus.synthetic_size} (seed {corpus.synthetic_seed}, "
                   f"text_disagreement {corpus.text_disagreement:g}, audio_ambiguity "
                   f"{corpus.audio_ambiguity:g}, snr {corpus.snr_db:g} dB)")
    folds = (f"folds {', '.join(map(str, fold_numbers))}" if config.folds
             else f"{len(fold_numbers)} folds")
    seeds = len(config.seeds)
    return (f"{PROTOCOL_NAMES[config.protocol]}, {folds} x {seeds} seed"
            f"{'s' if seeds != 1 else ''}, {source}")


def load_corpus(config: ExperimentConfig):
    """The corpus's labelled utterances and their raw features ``{id: (frames, dims)}``: builds
    the corpus (or parses the release) and the feature cache first if they are not there."""
    from data_prep.features import build_cache
    from data_prep.synthetic import ensure_corpus, release_root
    from emokit.features import load_features
    from emokit.manifest import read_manifest

    start = time.perf_counter()
    manifest = ensure_corpus(config.corpus)
    root = Path(config.corpus.root) if config.corpus.root else release_root(manifest)
    _log(f"corpus: {manifest} ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    cache = build_cache(manifest, root, config.features)
    utterances = read_manifest(manifest, labelled_only=True)
    features = load_features(cache, [u.id for u in utterances])
    _log(f"features: {len(features)} utterances from {cache} ({time.perf_counter() - start:.1f} s)")
    return utterances, features


def select_folds(folds: list, wanted: list[int] | None) -> list[tuple[int, object]]:
    """``[(fold number, fold)]``, fold numbers counting from 1; ``wanted`` None = all."""
    numbered = list(enumerate(folds, start=1))
    if wanted is None:
        return numbered
    bad = [k for k in wanted if not 1 <= k <= len(folds)]
    if bad:
        raise ValueError(f"ExperimentConfig.folds {bad} out of range: this protocol has folds "
                         f"1..{len(folds)}")
    return [numbered[k - 1] for k in sorted(set(wanted))]


def folds_record(folds: list[tuple[int, object]]) -> str:
    """JSON of every fold's speakers and ids (written next to the runs for auditing)."""
    return json.dumps([{"fold": k, **dataclasses.asdict(f)} for k, f in folds], indent=1)


def run_experiment(config: ExperimentConfig, verbose: bool = True) -> list[SystemSummary]:
    """Run every (fold, seed, system) not finished yet, then write the table and the plots.
    ``verbose``: a progress bar, one line per finished run, and the table printed at the end.

    Returns the table's rows (:class:`emokit.report.SystemSummary`); the Markdown/CSV table,
    the per-run folders and the plots are under :func:`experiment_dir`.
    """
    from emokit.folds import make_folds

    out = experiment_dir(config)
    systems = expand_systems(config)
    settings = run_settings(config)
    utterances, features = load_corpus(config)
    folds = select_folds(make_folds(utterances, config.protocol,
                                    config.pipeline.validation_speakers), config.folds)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / "config.yaml")
    write_atomic(out / "folds.json", folds_record(folds))

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

    from emokit.optional import progress_bar

    tqdm = progress_bar()  # widget bars in a notebook with ipywidgets, text bars elsewhere
    bar = tqdm(total=total, initial=total - len(pending), desc="runs", disable=not verbose,
               file=sys.stdout)
    for k, fold in folds:
        mine = [p for p in pending if p[0] == k]
        if not mine:
            continue
        start = time.perf_counter()
        data = prepare_fold(config, utterances, features, fold)
        say(f"fold {k} ({fold.name}): prepared in {time.perf_counter() - start:.1f} s", bar)
        for _, _, seed, system, run_dir in mine:
            start = time.perf_counter()
            start_run(run_dir, config, system, k, fold, seed)
            keep_codes = (k, seed) == (folds[0][0], config.seeds[0])  # for the t-SNE plot
            result = train_and_evaluate(config, system, data, seed, run_dir, keep_codes)
            record = save_run(run_dir, system, k, fold, seed, result, data.class_names,
                              time.perf_counter() - start)
            say(f"{system.name:<24} fold {k} seed {seed}: WA {record['wa']:.3f} "
                 f"UA {record['ua']:.3f} ({record['epochs']} epochs, {record['seconds']:.1f} s)",
                 bar)
            bar.update()
    bar.close()
    return finish_report(config, [k for k, _ in folds], systems, verbose)


def finish_report(config: ExperimentConfig, fold_numbers: list[int], systems: list[System],
                  show: bool = True) -> list[SystemSummary]:
    """Summarize this experiment's finished runs, write ``report.md``/``.csv`` and the plots."""
    from emokit.plots import save_experiment_plots

    out = experiment_dir(config)
    names = [s.name for s in systems]
    runs = [r for r in load_runs(out) if r["system"] in names and r["fold"] in fold_numbers
            and r["seed"] in config.seeds]
    rows = summarize(runs, names)
    markdown = write_report(rows, out, describe_protocol(config, fold_numbers))
    save_experiment_plots(out, runs, rows)
    if show:
        print("\n" + markdown)
    return rows


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

def load_config(preset: str, config_file: str | None = None, results: str | None = None,
                name: str | None = None) -> ExperimentConfig:
    """The preset's config, with a YAML file's settings and ``--results``/``--name`` on top."""
    from emokit.presets import get_preset

    config = get_preset(preset)
    if config_file:
        import yaml

        with open(config_file) as f:
            overrides = yaml.safe_load(f) or {}
        config = ExperimentConfig.from_dict(_deep_update(config.to_dict(), overrides))
        if "name" not in overrides and name is None:
            config.name = Path(config_file).stem
    if results:
        config.results_dir = results
    if name:
        config.name = name
    return config


def _deep_update(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


def main(argv: list[str] | None = None) -> int:
    from emokit.presets import PRESETS

    parser = argparse.ArgumentParser(
        prog="emokit-experiment", description="Train and test every system on every fold and "
        "seed (resumable), then print the WA/UA table with paired tests against the baseline.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                        help="starting config (default: quick)")
    parser.add_argument("--config", help="a YAML file whose settings override the preset's")
    parser.add_argument("--results", help="results folder (default: emokit.paths.results_dir())")
    parser.add_argument("--name", help="experiment name: results go to <results>/<name>/")
    args = parser.parse_args(argv)
    config = load_config(args.preset, args.config, args.results, args.name)
    start = time.perf_counter()
    run_experiment(config)
    print(f"results: {experiment_dir(config)} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
