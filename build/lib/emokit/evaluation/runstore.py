"""Where an experiment keeps its runs, and what one run leaves behind.

``<results>/<experiment name>/runs/<system>/fold<k>_seed<s>/`` holds one run: ``config.json``
(written first), ``history.json`` (per epoch), ``initial_weights.json`` (a hash per initial
weight), ``predictions.csv`` (id, true, predicted, class probabilities), ``confusion.csv``,
``final_weights.npz`` (the trained weights outside the discriminator: warm-started systems
start from the baseline's, :mod:`emokit.evaluation.robustness` rebuilds the model from them),
``codes.npz`` (test-set latent codes, first fold and seed only, for the t-SNE plot) and
``metrics.json`` last: a folder with ``metrics.json`` is a finished run. Every file is written
atomically.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig
from emokit.core.atomic import write_atomic
from emokit.core.errors import UsageError

CHECKPOINT = "checkpoint"  # a run's training checkpoint folder, removed when the run finishes
FINAL_WEIGHTS = "final_weights.npz"
# Settings that choose *which* runs an experiment has, not what one run computes.
# (``robustness`` evaluates finished runs afterwards: it changes no run; ``jobs`` says how many
# run at once.)
_SELECTION_KEYS = ("name", "results_dir", "folds", "seeds", "systems", "contrastive_weights",
                   "robustness", "jobs")


def experiment_dir(config: ExperimentConfig) -> Path:
    """``<results_dir>/<name>/`` (results_dir None = ``emokit.core.paths.results_dir()``)."""
    from emokit.core.paths import results_dir

    base = Path(config.results_dir) if config.results_dir else results_dir()
    return base / config.name


def run_path(experiment_dir: str | Path, system: str, fold: int, seed: int) -> Path:
    """The folder of one run: ``<experiment_dir>/runs/<system>/fold<k>_seed<s>/``."""
    return Path(experiment_dir) / "runs" / system / f"fold{fold}_seed{seed}"


def is_finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").exists()


def load_runs(experiment_dir: str | Path) -> list[dict]:
    """Every finished run's ``metrics.json`` under ``experiment_dir/runs/<system>/<fold_seed>/``."""
    runs = []
    for path in sorted(Path(experiment_dir).glob("runs/*/*/metrics.json")):
        runs.append(json.loads(path.read_text()))
    return runs


def load_history(experiment_dir, system: str, fold: int, seed: int) -> dict:
    return json.loads((run_path(experiment_dir, system, fold, seed) / "history.json").read_text())


def load_codes(experiment_dir, system: str, fold: int, seed: int) -> dict[str, np.ndarray]:
    """A run's test-set codes: ``{"ids", "labels", "audio", "text"}`` (a modality the system
    lacks is missing), plus ``"audio_aligned"`` for a regularized system whose discriminator
    compares a projection of the audio code with the text code."""
    with np.load(run_path(experiment_dir, system, fold, seed) / "codes.npz") as data:
        return {k: data[k] for k in data.files}


def save_final_weights(run_dir: Path, weights: list[np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w for i, w in enumerate(weights)})
    write_atomic(run_dir / FINAL_WEIGHTS, buffer.getvalue())


def load_final_weights(run_dir: Path) -> list[np.ndarray]:
    """The trained weights a warm-started run starts from (see :func:`save_final_weights`)."""
    path = run_dir / FINAL_WEIGHTS
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: warm-started systems start from the trained baseline's weights, "
            f"which this baseline run did not keep; delete {run_dir} so the baseline is retrained")
    try:
        with np.load(path) as data:
            return [data[f"w{i}"] for i in range(len(data.files))]
    except Exception as e:  # noqa: BLE001 -- a damaged npz raises zip, pickle, key or OS errors
        from emokit.core.errors import CorruptFileError

        raise CorruptFileError(path, f"{type(e).__name__}: {str(e)[:120]}",
                               f"delete {run_dir} so the baseline run is trained again (the "
                               "other finished runs are kept)") from None


@dataclass
class RunResult:
    """What training and testing one system on one fold with one seed produced."""

    history: dict
    test_ids: list[str]
    y_true: np.ndarray  # (test,) int
    probs: np.ndarray  # (test, classes) float
    audio_codes: np.ndarray | None  # (test, latent_dim), None unless codes are kept
    text_codes: np.ndarray | None  # (test, latent_dim), None unless codes are kept
    initial_weights: list[tuple[str, str]]  # (variable path, hash of its initial value)
    shared_fingerprint: str  # hash of the initial weights outside the discriminator
    measures: dict = field(default_factory=dict)  # extra numbers for metrics.json (retrieval...)
    aligned_audio_codes: np.ndarray | None = None  # audio codes as the discriminator sees them
    final_weights: list | None = None  # shared trained weights, kept for warm starts


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
    saved["train"].setdefault("accelerator", "auto")  # runs made before the setting existed
    if saved != settings:
        changed = _changed_keys(saved, settings)
        raise UsageError(
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


def start_run(run_dir: Path, config: ExperimentConfig, run_record: dict) -> None:
    """Write the run's ``config.json`` (``run_record`` plus the run settings). Leftovers of a
    killed run with the same config (its training checkpoint) are kept so training resumes;
    anything else there is removed."""
    run_config = json.dumps({**run_record, "settings": run_settings(config)}, indent=2)
    config_path = run_dir / "config.json"
    if run_dir.exists() and not (config_path.exists() and config_path.read_text() == run_config):
        shutil.rmtree(run_dir)
    write_atomic(config_path, run_config)


def save_run(run_dir: Path, record: dict, result: RunResult, class_names: list[str]) -> dict:
    """Write one run's results atomically, ``metrics.json`` last (the completion marker), and
    remove its training checkpoint. ``record``: what names the run (system, fold, seed, ...);
    the metrics are added to it. Returns the ``metrics.json`` record."""
    from emokit.training.metrics import classification_metrics

    y_pred = result.probs.argmax(axis=1)
    metrics = classification_metrics(result.y_true, y_pred, len(class_names))
    write_atomic(run_dir / "history.json", json.dumps(_jsonable(result.history), indent=2))
    write_atomic(run_dir / "initial_weights.json", json.dumps(result.initial_weights, indent=2))
    write_atomic(run_dir / "predictions.csv", _predictions_csv(result, y_pred, class_names))
    write_atomic(run_dir / "confusion.csv", _confusion_csv(metrics["confusion"], class_names))
    if result.audio_codes is not None or result.text_codes is not None:
        write_atomic(run_dir / "codes.npz", _codes_npz(result))
    if result.final_weights is not None:
        save_final_weights(run_dir, result.final_weights)
    record = {
        **record,
        "wa": float(metrics["wa"]), "ua": float(metrics["ua"]),
        "recall": [None if np.isnan(r) else float(r) for r in metrics["recall"]],  # None: absent
        "confusion": [[int(c) for c in row] for row in metrics["confusion"]],
        "class_names": list(class_names), "epochs": int(result.history.get("epochs_run", 0)),
        "shared_fingerprint": result.shared_fingerprint,
        **_jsonable(result.measures),
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
    if result.aligned_audio_codes is not None:
        arrays["audio_aligned"] = result.aligned_audio_codes
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
