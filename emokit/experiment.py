"""IEMOCAP-protocol evaluation: every system on every fold and seed, resumable, then the table.

    python -m emokit.experiment --preset quick            # the built-in mini corpus, minutes on CPU
    python -m emokit.experiment --preset full --results /content/drive/MyDrive/emokit
    python -m emokit.experiment --preset paper --config my_overrides.yaml
    python -m emokit.experiment --preset paper --jobs 4     # 4 runs at once (emokit.parallel)

One run = one system (:mod:`emokit.systems`) trained on one fold with one seed; each leaves a
folder of its own (:mod:`emokit.runstore`), ``metrics.json`` last, so a killed experiment started
again redoes only the unfinished runs (a run cut short resumes from its per-epoch checkpoint).

``ExperimentConfig.jobs`` >= 2 (``--jobs N``) trains N runs at once, each in a worker process of
its own (:mod:`emokit.parallel`: GPU memory growth on, each process's share of the CPU threads);
a warm-started run waits for its baseline, this process holds the results lock, prints the lines
and advances the progress bar as runs finish, and builds the ``-selected`` systems and the report
at the end. A run gives exactly the numbers it gives in ``jobs: 1`` made with the same intra-op
thread count. A script that sets ``jobs`` must call :func:`run_experiment` under
``if __name__ == "__main__":`` (workers are spawned; notebooks need nothing).

Runs of one fold and seed are paired: they see the same fold data in the same order (the seed
sets the data order too, :func:`emokit.pipeline.data_order_seed`) and start from the same initial
weights (``build_model`` with the same seed), so "contrastive minus baseline" is measured per
(fold, seed) and :mod:`emokit.report` tests those paired differences. With ``init_from:
baseline``, contrastive systems and the ``baseline-continued`` control start from the trained
baseline of their fold and seed instead (its encoders and, with ``warm_start_classifier:
copy``, its classifier; ``reinit`` keeps the seed's fresh classifier, as the paper's script), and
train for the same budget.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

# TensorFlow's C++ log lines ("Local rendezvous is aborting ... End of sequence" at the end of
# every dataset pass) would bury the progress lines; set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emokit.atomic import storage_error, write_atomic
from emokit.config import WARM_START_CLASSIFIERS, ExperimentConfig
from emokit.overlap import append_mode_section, improvised_only, protocol_note, read_folds
from emokit.pipeline import data_order_seed, prepare_fold
from emokit.protocol import describe_protocol, folds_record, select_folds
from emokit.report import SystemSummary, summarize, write_report
from emokit.runstore import (
    CHECKPOINT,
    RunResult,
    check_same_settings,
    experiment_dir,
    is_finished,
    load_final_weights,
    load_runs,
    run_path,
    run_settings,
    save_run,
    start_run,
)
from emokit.systems import BASELINE, System, describe_objective, expand_systems, system_config

# History values recorded in metrics.json at the kept (best) epoch: what the regularizer did.
_KEPT_EPOCH_MEASURES = ("disc_acc", "disc_chance", "grad_ratio", "pair_scale", "probe_audio_ua",
                        "probe_text_ua")


# --- one run ---------------------------------------------------------------------------------------

def weight_hashes(model) -> list[tuple[str, str]]:
    """``[(variable path, short sha1 of its value)]`` for every weight of ``model``, in order.
    (Paths carry Keras' per-process layer counters, e.g. ``dense_7``: compare by position.)"""
    return [(v.path, hashlib.sha1(np.ascontiguousarray(v.numpy())).hexdigest()[:16])
            for v in model.weights]


def shared_weights(model) -> list:
    """Every weight of ``model`` outside the discriminator, in order: what paired runs share."""
    skip = {id(v) for v in model.discriminator.weights}
    return [v for v in model.weights if id(v) not in skip]


def shared_fingerprint(model) -> str:
    """One hash of the values of every weight outside the discriminator, in order: equal for runs
    that share initial weights (baseline and contrastive runs built with the same seed, or
    warm-started from the same baseline)."""
    digest = hashlib.sha1()
    for v in shared_weights(model):
        digest.update(np.ascontiguousarray(v.numpy()).tobytes())
    return digest.hexdigest()[:16]


def warm_start(model, weights: list[np.ndarray], classifier: str = "copy") -> None:
    """Set ``model``'s shared weights (all but the discriminator's) to a trained baseline's
    ``weights`` (in :func:`shared_weights` order). ``classifier="reinit"``
    (``ExperimentConfig.warm_start_classifier``): set only the encoders' weights; the rest keeps
    the values ``model`` was built with (its seed's initial weights)."""
    targets = shared_weights(model)
    shapes = [tuple(v.shape) for v in targets]
    if [tuple(w.shape) for w in weights] != shapes:
        raise ValueError("the baseline's saved weights do not fit this model (different encoder "
                         "or classifier settings?): delete the baseline runs to retrain them")
    if classifier not in WARM_START_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {WARM_START_CLASSIFIERS}, got {classifier!r}")
    encoders = {id(v) for e in (model.audio_encoder, model.text_encoder) if e is not None
                for v in e.weights}
    for variable, value in zip(targets, weights, strict=True):
        if classifier == "copy" or id(variable) in encoders:
            variable.assign(value)


def _kept_epoch_measures(history: dict) -> dict:
    best = history.get("best_epoch", -1)
    if best < 1:
        return {}
    return {k: float(history[k][best - 1]) for k in _KEPT_EPOCH_MEASURES
            if len(history.get(k, [])) >= best}


def code_measures(model, audio, text, labels, train_audio,
                  train_text) -> tuple[dict, np.ndarray | None]:
    """Cross-modal retrieval of emotion on test-set codes ``(n, d)`` through the same post-hoc
    map for every system, fitted on the run's own training-set codes ``(m, d)``
    (:func:`emokit.probes.mapped_retrieval_accuracy`), with its chance level -> ``(measures,
    audio codes as the discriminator compares them (projected, for infonce and cosine_grid; for
    the t-SNE plot) or None)``."""
    from emokit.probes import mapped_retrieval_accuracy, retrieval_chance

    if audio is None or text is None:
        return {}, None
    aligned = None
    if model.contrastive_weight > 0:
        projected = np.asarray(model.discriminator.project(audio), dtype="float32")
        aligned = projected if projected.shape != audio.shape or not np.array_equal(
            projected, audio) else None
    return ({"retrieval": mapped_retrieval_accuracy(train_audio, train_text, audio, text, labels),
             "retrieval_chance": retrieval_chance(labels)}, aligned)


def train_and_evaluate(config: ExperimentConfig, system: System, fold_data, seed: int,
                       run_dir: Path | None = None, keep_codes: bool = False,
                       init_weights: list | None = None) -> RunResult:
    """Build ``system``'s model with ``seed`` (its shared weights then set to ``init_weights``,
    a trained baseline's, for a warm start: see ``ExperimentConfig.warm_start_classifier``),
    train it on the fold in the data order of ``seed`` (:func:`emokit.pipeline.data_order_seed`),
    and test it. With
    ``run_dir``, training checkpoints every epoch to ``run_dir/checkpoint`` (and resumes from
    it), and TensorBoard logs (when ``train.tensorboard_dir`` is set) go to a folder of their own
    per run; with ``keep_codes``, the result holds the latent codes of the test set."""
    from emokit.model import build_model
    from emokit.training import encode_dataset, fit, predict_dataset, release_run_state

    cfg = system_config(config, system)
    model = build_model(cfg.model, fold_data.feature_dim, len(fold_data.vocab),
                        fold_data.num_classes, embedding_matrix=fold_data.embedding_matrix,
                        seed=seed)
    if init_weights is not None:
        warm_start(model, init_weights, config.warm_start_classifier)
    initial = weight_hashes(model)
    fingerprint = shared_fingerprint(model)
    train = dataclasses.replace(cfg.train, seed=seed, verbose=0)
    if run_dir is not None:
        train.checkpoint_dir = str(run_dir / CHECKPOINT)
        if train.tensorboard_dir:
            train.tensorboard_dir = str(Path(train.tensorboard_dir) / run_dir.parent.name
                                        / run_dir.name)
    train_ds = fold_data.train_dataset(data_order_seed(fold_data.pipeline, seed))
    history = fit(model, train_ds, fold_data.val, train,
                  probe_train_ds=fold_data.train_by_length)
    y_true, probs = predict_dataset(model, fold_data.test)
    audio, text, labels = encode_dataset(model, fold_data.test)
    train_audio = train_text = None
    if audio is not None and text is not None:  # the retrieval map is fitted on training codes
        train_audio, train_text, _ = encode_dataset(model, fold_data.train_in_order)
    measures, aligned = code_measures(model, audio, text, labels, train_audio, train_text)
    measures.update(_kept_epoch_measures(history))
    if getattr(fold_data, "coverage", None) is not None:  # stored beside the scores it explains
        measures["word_vector_type_coverage"] = fold_data.coverage.type_rate
        measures["word_vector_token_coverage"] = fold_data.coverage.token_rate
    # Every run keeps its trained weights (small): warm starts start from the baseline's, and
    # emokit.robustness rebuilds any run's model from them.
    final = [v.numpy() for v in shared_weights(model)]
    del model
    release_run_state()
    return RunResult(history, list(fold_data.test_ids), np.asarray(y_true), np.asarray(probs),
                     audio if keep_codes else None, text if keep_codes else None, initial,
                     fingerprint, measures, aligned if keep_codes else None, final)


# --- the experiment --------------------------------------------------------------------------------

def load_corpus(config: ExperimentConfig, workers: int | None = None, verbose: bool = True):
    """The corpus's labelled utterances and their raw features ``{id: (frames, dims)}``: builds
    the corpus (or parses the release) and the feature cache first if they are not there.

    ``workers``: processes that extract features (default: every core; 1 extracts in this
    process). Worker processes import the calling script again, so a script that calls
    ``load_corpus`` must do so under ``if __name__ == "__main__":`` (notebooks need nothing).
    ``verbose``: say what was loaded (and show the feature-extraction progress)."""
    from data_prep.features import build_cache
    from data_prep.synthetic import ensure_corpus, release_root
    from emokit.features import load_features
    from emokit.manifest import read_manifest

    say = _log if verbose else _quiet
    start = time.perf_counter()
    manifest = ensure_corpus(config.corpus)
    root = Path(config.corpus.root) if config.corpus.root else release_root(manifest)
    say(f"corpus: {manifest} ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    cache = build_cache(manifest, root, config.features, workers=workers, progress=verbose)
    utterances = read_manifest(manifest, labelled_only=True)
    features = load_features(cache, [u.id for u in utterances])
    say(f"features: {len(features)} utterances from {cache} ({time.perf_counter() - start:.1f} s)")
    return utterances, features


def _run_record(config: ExperimentConfig, system: System, fold_number: int, fold,
                seed: int) -> dict:
    """What names one run (``config.json`` and ``metrics.json``)."""
    return {"system": system.name, "fold": fold_number, "fold_name": fold.name, "seed": seed,
            "objective": describe_objective(system, config.model.pair_loss_scaling),
            "warm_start": system.warm_start,
            "test_speakers": list(fold.test_speakers), "val_speakers": list(fold.val_speakers),
            "model": dataclasses.asdict(system_config(config, system).model)}


def absent_classes(utterances, fold, class_names: list[str]) -> dict[str, list[str]]:
    """The classes of ``class_names`` with no utterance in ``fold``'s training set and in its
    test set: ``{"train": [...], "test": [...]}`` (the report names them per fold)."""
    label = {u.id: u.label for u in utterances}
    return {part: [c for c in class_names if c not in {label[i] for i in ids}]
            for part, ids in (("train", fold.train_ids), ("test", fold.test_ids))}


def run_experiment(config: ExperimentConfig, verbose: bool = True) -> list[SystemSummary]:
    """Run every (fold, seed, system) not finished yet, then write the table and the plots.
    ``verbose``: a progress bar, one line per finished run, and the table printed at the end.

    The whole config is checked first (:func:`emokit.validation.validate_config`), and the
    experiment folder is locked (:func:`emokit.lock.results_lock`): a second process on the same
    folder refuses instead of training the same runs.

    Returns the table's rows (:class:`emokit.report.SystemSummary`); the Markdown/CSV table,
    the per-run folders and the plots are under :func:`emokit.runstore.experiment_dir`.
    """
    from emokit.errors import ConfigError
    from emokit.lock import results_lock
    from emokit.validation import validate_config

    validate_config(config)
    try:
        expand_systems(config)
    except ValueError as e:
        raise ConfigError([f"systems: {e}"]) from None
    try:
        with results_lock(experiment_dir(config)):
            return _run_experiment_locked(config, verbose)
    except Exception as e:
        problem = storage_error(e, experiment_dir(config), "results")
        if problem is None:
            raise
        raise problem from None


def _run_experiment_locked(config: ExperimentConfig, verbose: bool) -> list[SystemSummary]:
    from emokit.folds import make_folds

    out = experiment_dir(config)
    systems = expand_systems(config)
    settings = run_settings(config)
    utterances, features = load_corpus(config, verbose=verbose)
    utterances = improvised_only(utterances, config.corpus)
    folds = select_folds(make_folds(utterances, config.protocol,
                                    config.pipeline.validation_speakers), config.folds)
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

    from emokit.optional import progress_bar

    tqdm = progress_bar()  # widget bars in a notebook with ipywidgets, text bars elsewhere
    bar = tqdm(total=total, initial=total - len(pending), desc="runs", disable=not verbose,
               file=sys.stdout)
    first = (folds[0][0], config.seeds[0])  # the run that keeps its codes for the t-SNE plot
    if config.jobs > 1 and pending:
        features = None  # each worker reads its own copy: none is held here meanwhile
        _run_in_workers(config, pending, first, bar, say)
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
                say(_finished_line(record), bar)
                bar.update()
    bar.close()
    rows = finish_report(config, [k for k, _ in folds], systems, verbose)
    if config.robustness:
        from emokit.robustness import evaluate_robustness

        evaluate_robustness(out, verbose)
    return rows


def train_one_run(config: ExperimentConfig, utterances, data, fold_number: int, fold, seed: int,
                  system: System, run_dir: Path, keep_codes: bool) -> dict:
    """Train and test one (system, fold, seed) run on the prepared fold ``data`` and write its
    folder (:func:`emokit.runstore.save_run`): a warm-started system starts from the trained
    baseline of its fold and seed, which must be finished. Returns its ``metrics.json`` record."""
    start = time.perf_counter()
    record = _run_record(config, system, fold_number, fold, seed)
    start_run(run_dir, config, record)
    init = (load_final_weights(run_path(experiment_dir(config), BASELINE, fold_number, seed))
            if system.warm_start else None)
    result = train_and_evaluate(config, system, data, seed, run_dir, keep_codes, init)
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["absent_classes"] = absent_classes(utterances, fold, data.class_names)
    for key in ("test_speakers", "val_speakers", "model"):
        record.pop(key)
    return save_run(run_dir, record, result, data.class_names)


def _finished_line(record: dict) -> str:
    return (f"{record['system']:<28} fold {record['fold']} seed {record['seed']}: "
            f"WA {record['wa']:.3f} UA {record['ua']:.3f} ({record['epochs']} epochs, "
            f"{record['seconds']:.1f} s)")


# --- several runs at once (ExperimentConfig.jobs >= 2) ---------------------------------------------

def _run_in_workers(config: ExperimentConfig, pending: list, first: tuple[int, int], bar,
                    say) -> None:
    """Every pending run in ``config.jobs`` worker processes (:mod:`emokit.parallel`); a
    warm-started run waits for its baseline. Lines and the progress bar advance here, in the
    parent, as runs finish."""
    from emokit.parallel import Task, run_tasks, threads_per_worker, usable_cores

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
        say(_finished_line(record), bar)
        bar.update()

    run_tasks(tasks, config.jobs, done, what="run(s)")


_WORKER_STATE: dict = {}  # in a worker process: the corpus, and the last fold it prepared


def _worker_run(config: ExperimentConfig, fold_number: int, fold, seed: int, system: System,
                run_dir: Path, keep_codes: bool) -> tuple[dict, float | None]:
    """One run in a worker process (:func:`_run_in_workers`): the corpus is read once per
    process, a fold prepared once per process while its runs keep coming. Returns the
    ``metrics.json`` record and the seconds spent preparing the fold (``None``: it was ready)."""
    state = _WORKER_STATE
    if "utterances" not in state:
        utterances, state["features"] = load_corpus(config, workers=1, verbose=False)
        state["utterances"] = improvised_only(utterances, config.corpus)
    prepared = None
    if state.get("fold") != fold_number:
        state.pop("data", None)  # one fold in memory at a time
        start = time.perf_counter()
        state["data"] = prepare_fold(config, state["utterances"], state["features"], fold)
        state["fold"], prepared = fold_number, time.perf_counter() - start
    record = train_one_run(config, state["utterances"], state["data"], fold_number, fold, seed,
                           system, run_dir, keep_codes)
    return record, prepared


def finish_report(config: ExperimentConfig, fold_numbers: list[int], systems: list[System],
                  show: bool = True) -> list[SystemSummary]:
    """Derive the ``-selected`` systems (a weight chosen per fold and seed on validation UA,
    :mod:`emokit.selection`), summarize this experiment's finished runs, write
    ``report.md``/``.csv`` and the plots."""
    from emokit.plots import save_experiment_plots
    from emokit.selection import write_selected_runs
    from emokit.systems import weight_groups

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
    markdown = write_report(rows, out, protocol)
    markdown = append_mode_section(out, runs, names, markdown)
    save_experiment_plots(out, runs, rows)
    if show:
        _show_table(markdown)
    return rows


def _show_table(markdown: str) -> None:
    """The table once: rendered in a notebook, as Markdown text elsewhere."""
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

def load_config(preset: str, config_file: str | None = None, results: str | None = None,
                name: str | None = None) -> ExperimentConfig:
    """The preset's config, with a YAML file's settings and ``--results``/``--name`` on top."""
    from emokit.presets import get_preset

    config = get_preset(preset)
    if config_file:
        from emokit.validation import read_settings

        overrides = read_settings(config_file)
        config = ExperimentConfig.from_dict(_deep_update(config.to_dict(), overrides),
                                            source=config_file)
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
    """The command line; a user error prints ``error: ...`` without a traceback and returns 2
    (usage or config) or 1 (data): see :func:`emokit.cli.run_cli`."""
    from emokit.cli import run_cli

    return run_cli(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    from emokit.presets import PRESETS

    parser = argparse.ArgumentParser(
        prog="emokit-experiment", description="Train and test every system on every fold and "
        "seed (resumable), then print the WA/UA table with paired tests against the baseline.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                        help="starting config (default: quick)")
    parser.add_argument("--config", help="a YAML file whose settings override the preset's")
    parser.add_argument("--results", help="results folder (default: emokit.paths.results_dir())")
    parser.add_argument("--name", help="experiment name: results go to <results>/<name>/")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="runs at once, each in its own process (ExperimentConfig.jobs; "
                        "default: the config's, 1)")
    args = parser.parse_args(argv)
    config = load_config(args.preset, args.config, args.results, args.name)
    if args.jobs is not None:
        config.jobs = args.jobs
    start = time.perf_counter()
    run_experiment(config)
    print(f"results: {experiment_dir(config)} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
