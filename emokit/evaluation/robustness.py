"""Test-time robustness of a finished experiment: every run's test fold with a modality missing or
degraded, no retraining.

    python -m emokit.experiment.robustness results/quick

or ``robustness: true`` in an experiment's config (it then runs after the table); this module is
the evaluation core (which runs, each run's model rebuilt and evaluated, the rows of
``robustness.csv``), :mod:`emokit.evaluation.degraded_folds` builds the degraded test folds,
:mod:`emokit.evaluation.robustness_report` holds the statistics, the table and the plot, and
:mod:`emokit.experiment.robustness` is the pass over an experiment. Conditions
(:data:`CONDITIONS`), applied to the test fold of every finished run:

- ``intact``: the test fold as the run saw it (its predictions must reproduce the run's stored
  ``predictions.csv``: the check that the model was rebuilt right);
- ``audio_missing``: no audio frames (every frame padding, :func:`emokit.data.degrade.drop_audio`);
- ``text_missing``: the empty transcript (one ``<unk>``, as the pipeline encodes it);
- ``audio_noise_white`` / ``audio_noise_babble`` at SNR 20, 10 and 0 dB: noise added to the
  waveform (babble: :data:`emokit.data.degrade.BABBLE_TALKERS` other test-fold utterances), features
  recomputed with the experiment's feature settings and normalized by the run's own normalizer
  (the statistics it was fitted with on clean features, as at training time: under
  ``features.normalization: speaker`` each test speaker's own clean statistics, under
  ``global`` the training fold's);
- ``text_errors`` at WER 10, 30 and 50%: :func:`emokit.data.degrade.word_errors` on the tokenized
  transcript, substitutions and insertions drawn from the fold's training vocabulary.

Every system of a fold sees the *same* degraded test set (the degradations are seeded by fold,
condition, level and utterance), so system differences stay paired. Each run's model is rebuilt
(``build_model`` with its config and seed) and its saved ``final_weights.npz`` loaded. Noisy
features are cached in ``<experiment>/robustness/features/`` (one file per fold, condition and
level, shared by the fold's runs); nothing under ``runs/`` is written.

Writes, in the experiment folder: ``robustness.csv`` (one row per system, fold, seed, condition
and level: ``wa``, ``ua``; ``level`` is the SNR in dB or the WER in percent, empty for ``intact``
and ``*_missing``; a rerun evaluates only the rows not there yet), ``robustness.md`` (UA per
condition with each fused system's difference from the baseline paired over folds, and
retention) and ``plots/robustness.png``.

Statistics: the fold is the unit. A system's UA in a fold is the mean over its seeds; differences
from the baseline are taken per fold, and their mean gets a t-interval and a paired t-test over
the folds (:func:`emokit.evaluation.robustness_report.paired_over_folds`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig
from emokit.config.systems import System, expand_systems, system_config
from emokit.core.atomic import write_atomic
from emokit.core.errors import DataError, UsageError
from emokit.evaluation.degraded_folds import DegradedFold
from emokit.evaluation.runstore import (
    FINAL_WEIGHTS,
    check_same_settings,
    is_finished,
    load_final_weights,
    run_path,
    run_settings,
)

SNR_DB = (20, 10, 0)
WER_PERCENT = (10, 30, 50)
#: ``(condition, level)`` in the order of the table; level None: no level.
CONDITIONS: tuple[tuple[str, int | None], ...] = (
    ("intact", None), ("audio_missing", None), ("text_missing", None),
    *(("audio_noise_white", snr) for snr in SNR_DB),
    *(("audio_noise_babble", snr) for snr in SNR_DB),
    *(("text_errors", wer) for wer in WER_PERCENT),
)
#: ``weights``: the digest of the run's final_weights.npz the row was evaluated with (a retrained
#: run's rows are evaluated again); files written before it lack that column.
COLUMNS = ("system", "fold", "seed", "condition", "level", "wa", "ua", "weights")
PREDICTION_TOLERANCE = 1e-5  # stored probabilities have 6 decimals
CSV_NAME, TABLE_NAME, PLOT_NAME = "robustness.csv", "robustness.md", "robustness.png"


# --- which runs, and are they all there -----------------------------------------------------------

@dataclass(frozen=True)
class Run:
    system: System
    fold: int
    seed: int
    path: Path


def experiment_runs(experiment: Path) -> tuple[ExperimentConfig, list[Run]]:
    """The experiment's config and every run it should have; refuses (naming what is missing and
    the fix) a folder that is not an experiment, unfinished runs, runs without saved weights and
    runs made with other settings."""
    config_path = experiment / "config.yaml"
    if not config_path.exists():
        raise UsageError(f"{experiment} is not an experiment folder (no config.yaml): give the "
                         "folder `python -m emokit.experiment` wrote, e.g. results/quick")
    config = ExperimentConfig.load(config_path)
    if not (experiment / "folds.json").exists():
        raise DataError(f"{experiment / 'folds.json'} is missing: the experiment never started its "
                        "runs; run `python -m emokit.experiment` on it first")
    folds = json.loads((experiment / "folds.json").read_text())
    runs = [Run(system, fold["fold"], seed, run_path(experiment, system.name, fold["fold"], seed))
            for fold in folds for seed in config.seeds for system in expand_systems(config)]
    unfinished = [r.path for r in runs if not is_finished(r.path)]
    if unfinished:
        raise DataError(f"{len(unfinished)} of {len(runs)} runs of {experiment} are not finished, "
                        f"e.g. {_listed(unfinished)}: finish them first (run the same "
                        "`python -m emokit.experiment` command again; it resumes)")
    no_weights = [r.path for r in runs if not (r.path / FINAL_WEIGHTS).exists()]
    if no_weights:
        raise DataError(f"{len(no_weights)} runs of {experiment} have no {FINAL_WEIGHTS}, e.g. "
                        f"{_listed(no_weights)}: they were trained before every run kept its "
                        "weights. Delete those run folders and run the experiment again to "
                        "retrain them")
    settings = run_settings(config)
    for run in runs:
        try:
            check_same_settings(run.path, settings)
        except UsageError as e:
            raise UsageError(f"runs from another config in {experiment}: {e}") from None
    return config, runs


def _listed(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


# --- one run ---------------------------------------------------------------------------------------

def rebuild_model(config: ExperimentConfig, run: Run, data):
    """The run's trained model: built as the run was (its config and seed, the kept model of its
    architecture: :func:`emokit.training.reuse.build_run_model`), then its saved weights (all but
    the discriminator's, which no prediction reads). A run trained before the vocabulary was
    padded (its embedding has one row per word) is rebuilt at its own size."""
    from emokit.model.emotion_model import build_model
    from emokit.training.reuse import build_run_model
    from emokit.training.warm_start import shared_weights, warm_start

    cfg = system_config(config, run.system)
    weights = load_final_weights(run.path)
    model = build_run_model(cfg.model, data, run.seed)
    if _embedding_rows(weights, model) == len(data.vocab) != model.vocab_size:
        model = build_model(cfg.model, data.feature_dim, len(data.vocab), data.num_classes,
                            embedding_matrix=data.embedding_matrix, seed=run.seed,
                            feature_layers=getattr(data, "feature_layers", 1))
    if [w.shape for w in weights] != [tuple(v.shape) for v in shared_weights(model)]:
        raise DataError(f"{run.path / FINAL_WEIGHTS} does not fit the model of its run's config "
                        "(other encoder or classifier sizes, or another corpus): the run must be "
                        f"retrained; remove its folder {run.path} and run the experiment again")
    warm_start(model, weights)
    return model


def _embedding_rows(weights: list[np.ndarray], model) -> int | None:
    """The rows of the word embedding among a run's saved ``weights`` (in
    :func:`emokit.training.warm_start.shared_weights` order), or None for a model without text."""
    from emokit.training.warm_start import shared_weights

    if model.text_encoder is None:
        return None
    embedding = model.text_encoder.embedding.embeddings
    position = [id(v) for v in shared_weights(model)].index(id(embedding))
    return len(weights[position]) if position < len(weights) else None


def stored_probabilities(run_dir: Path) -> tuple[list[str], np.ndarray]:
    """The run's test ids and class probabilities ``(n, classes)`` from ``predictions.csv``."""
    with open(run_dir / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    probs = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in rows])
    return [r["id"] for r in rows], probs


def check_reproduces(run: Run, ids: list[str], probs: np.ndarray) -> None:
    """Refuse a rebuilt model whose intact test predictions differ from the run's stored ones."""
    stored_ids, stored = stored_probabilities(run.path)
    if stored_ids != ids or stored.shape != probs.shape or not np.allclose(
            stored, probs, atol=PREDICTION_TOLERANCE, rtol=0):
        worst = (float(np.max(np.abs(stored - probs))) if stored.shape == probs.shape
                 else float("nan"))
        raise DataError(f"{run.path}: the rebuilt model does not reproduce the run's stored "
                        f"predictions (largest probability difference {worst:.2g}); its "
                        f"{FINAL_WEIGHTS} or the corpus changed since it was trained: delete the "
                        "run folder and run the experiment again")


def evaluate_run(config: ExperimentConfig, run: Run, fold: DegradedFold,
                 conditions: list[tuple[str, int | None]]) -> list[dict]:
    """Rows of ``robustness.csv`` for one run under ``conditions`` (intact is always evaluated:
    it checks the rebuilt model against the run's stored predictions)."""
    from emokit.training.forward import predict_dataset
    from emokit.training.metrics import classification_metrics

    model = rebuild_model(config, run, fold.data)  # freed when the run's rows are done
    rows = []
    for condition, level in [("intact", None), *[c for c in conditions if c[0] != "intact"]]:
        y_true, probs = predict_dataset(model, fold.dataset(condition, level))
        if condition == "intact":
            check_reproduces(run, list(fold.data.test_ids), probs)
            if ("intact", None) not in conditions:
                continue
        metrics = classification_metrics(y_true, probs.argmax(axis=1), fold.data.num_classes)
        rows.append({"system": run.system.name, "fold": run.fold, "seed": run.seed,
                     "condition": condition, "level": "" if level is None else level,
                     "wa": float(metrics["wa"]), "ua": float(metrics["ua"]),
                     "weights": weights_digest(run)})
    return rows


def weights_digest(run: Run) -> str:
    """A short digest of the run's ``final_weights.npz``: it changes when the run is retrained."""
    import hashlib

    return hashlib.sha256((run.path / FINAL_WEIGHTS).read_bytes()).hexdigest()[:16]


# --- the experiment --------------------------------------------------------------------------------

def read_rows(experiment: Path) -> list[dict]:
    """The rows of ``robustness.csv`` (numbers parsed), ``[]`` if there is none."""
    path = experiment / CSV_NAME
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = set(COLUMNS) - {"weights"} - set(rows[0]) if rows else set()
    if missing:
        raise DataError(f"{path} lacks columns {sorted(missing)}: delete it and run again")
    return [{**r, "weights": r.get("weights") or "", "fold": int(r["fold"]), "seed": int(r["seed"]),
             "level": int(r["level"]) if r["level"] else "", "wa": float(r["wa"]),
             "ua": float(r["ua"])} for r in rows]


def write_rows(experiment: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "wa": f"{r['wa']:.6f}", "ua": f"{r['ua']:.6f}"})
    write_atomic(experiment / CSV_NAME, out.getvalue())

