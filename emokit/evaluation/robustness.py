"""Test-time robustness of a finished experiment: every run's test fold with a modality missing or
degraded, no retraining.

    python -m emokit.experiment.robustness results/quick

or ``robustness: true`` in an experiment's config (it then runs after the table); this module is
the evaluation core, :mod:`emokit.experiment.robustness` the pass over an experiment. Conditions
(:data:`CONDITIONS`), applied to the test fold of every finished run:

- ``intact``: the test fold as the run saw it (its predictions must reproduce the run's stored
  ``predictions.csv``: the check that the model was rebuilt right);
- ``audio_missing``: no audio frames (every frame padding, :func:`emokit.data.degrade.drop_audio`);
- ``text_missing``: the empty transcript (one ``<unk>``, as the pipeline encodes it);
- ``audio_noise_white`` / ``audio_noise_babble`` at SNR 20, 10 and 0 dB: noise added to the
  waveform (babble: :data:`emokit.data.degrade.BABBLE_TALKERS` other test-fold utterances), features
  recomputed with the experiment's feature settings and normalized by the run's own normalizer
  (fitted on the clean training fold, as at training time);
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
the folds (:func:`paired_over_folds`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig
from emokit.config.systems import BASELINE, System, expand_systems, system_config
from emokit.core.atomic import write_atomic
from emokit.core.errors import DataError, UsageError
from emokit.data.degrade import (
    add_noise,
    babble,
    drop_audio,
    utterance_seed,
    white_noise,
    word_errors,
)
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
COLUMNS = ("system", "fold", "seed", "condition", "level", "wa", "ua")
DEGRADATION_SEED = 0  # every degradation is seeded from this, the fold, condition, level and id
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


# --- degraded test folds ---------------------------------------------------------------------------

def noisy_features(waves: dict[str, np.ndarray], kind: str, snr: float, fold: int,
                   feature_config) -> dict[str, np.ndarray]:
    """Raw features ``{id: (frames, dims)}`` of every waveform ``{id: (samples,)}`` with
    ``kind`` noise (``"white"`` or ``"babble"``: other utterances of ``waves``) at ``snr`` dB."""
    from emokit.data.features import extract_features

    ids = list(waves)
    out = {}
    for uid in ids:
        wave = waves[uid]
        seed = utterance_seed(DEGRADATION_SEED, fold, kind, snr, uid)
        if kind == "white":
            noise = white_noise(len(wave), seed)
        else:
            noise = babble([waves[o] for o in ids if o != uid], len(wave), seed=seed)
        out[uid] = extract_features(add_noise(wave, noise, snr), feature_config)
    return out


def _cached_noisy_features(cache: Path, waves, kind: str, snr: float, fold: int, config):
    path = cache / f"fold{fold}" / f"{kind}_{snr}dB.npz"
    if path.exists():
        with np.load(path) as data:
            if sorted(data.files) == sorted(waves):
                return {k: data[k] for k in data.files}
    features = noisy_features(waves, kind, snr, fold, config.features)
    buffer = io.BytesIO()
    np.savez(buffer, **features)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())
    return features


class DegradedFold:
    """One fold's test set under every condition, built once and shared by the fold's runs."""

    def __init__(self, config: ExperimentConfig, fold_number: int, data, utterances, root: Path,
                 cache: Path):
        self.config, self.fold, self.data = config, fold_number, data
        self.by_id = {u.id: u for u in utterances}
        self.root, self.cache = root, cache
        self._waves = None
        self._datasets = {}

    def dataset(self, condition: str, level):
        """The test ``tf.data.Dataset`` (test-id order, the run's batching) under a condition."""
        key = (condition, level)
        if key not in self._datasets:
            self._datasets[key] = self._build(condition, level)
        return self._datasets[key]

    def _build(self, condition: str, level):
        from emokit.data.pipeline import Examples, encode_tokens, make_dataset, truncate_frames
        from emokit.data.text import tokenize

        data, pipeline = self.data, self.config.pipeline
        ids = list(data.test_ids)
        examples = data.test_examples  # exactly what the run was tested on
        if condition == "audio_missing":
            return make_dataset(examples, pipeline, training=False).map(
                lambda inputs, y: (drop_audio(inputs), y))
        if condition == "text_missing":
            empty = encode_tokens(tokenize(""), data.vocab, pipeline)
            examples = Examples(examples.audio, [empty] * len(ids), examples.labels)
        elif condition.startswith("audio_noise_"):
            kind = condition.removeprefix("audio_noise_")
            raw = _cached_noisy_features(self.cache, self.waves(), kind, level, self.fold,
                                         self.config)
            audio = [truncate_frames(data.normalizer.transform(i, raw[i]), pipeline) for i in ids]
            examples = Examples(audio, examples.tokens, examples.labels)
        elif condition == "text_errors":
            words = data.vocab.words[2:]  # the training vocabulary, without <pad> and <unk>
            tokens = [encode_tokens(word_errors(
                tokenize(self.by_id[i].transcript, self.config.text.lowercase), level / 100,
                words, seed=utterance_seed(DEGRADATION_SEED, self.fold, condition, level, i)),
                data.vocab, pipeline) for i in ids]
            examples = Examples(examples.audio, tokens, examples.labels)
        elif condition != "intact":
            raise ValueError(f"unknown condition {condition!r}")
        return make_dataset(examples, pipeline, training=False)

    def waves(self) -> dict[str, np.ndarray]:
        """The clean test waveforms ``{id: (samples,)}`` at the feature sample rate."""
        from emokit.data.audio import load_audio

        if self._waves is None:
            rate = self.config.features.sample_rate
            self._waves = {i: load_audio(self.root / self.by_id[i].wav, rate)
                           for i in self.data.test_ids}
        return self._waves


# --- one run ---------------------------------------------------------------------------------------

def rebuild_model(config: ExperimentConfig, run: Run, data):
    """The run's trained model: ``build_model`` with the run's config and seed, then its saved
    weights (all but the discriminator's, which no prediction reads)."""
    from emokit.model.emotion_model import build_model
    from emokit.training.warm_start import warm_start

    cfg = system_config(config, run.system)
    model = build_model(cfg.model, data.feature_dim, len(data.vocab), data.num_classes,
                        embedding_matrix=data.embedding_matrix, seed=run.seed)
    warm_start(model, load_final_weights(run.path))
    return model


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
    from emokit.training.loop import predict_dataset
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
                     "wa": float(metrics["wa"]), "ua": float(metrics["ua"])})
    return rows


# --- the experiment --------------------------------------------------------------------------------

def read_rows(experiment: Path) -> list[dict]:
    """The rows of ``robustness.csv`` (numbers parsed), ``[]`` if there is none."""
    path = experiment / CSV_NAME
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and set(COLUMNS) - set(rows[0]):
        raise DataError(f"{path} lacks columns {sorted(set(COLUMNS) - set(rows[0]))}: delete it "
                        "and run again")
    return [{**r, "fold": int(r["fold"]), "seed": int(r["seed"]),
             "level": int(r["level"]) if r["level"] else "", "wa": float(r["wa"]),
             "ua": float(r["ua"])} for r in rows]


def write_rows(experiment: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "wa": f"{r['wa']:.6f}", "ua": f"{r['ua']:.6f}"})
    write_atomic(experiment / CSV_NAME, out.getvalue())


# --- statistics (the fold is the unit) -------------------------------------------------------------

@dataclass(frozen=True)
class PairedResult:
    mean: float  # mean difference over folds
    low: float  # 95% t-interval
    high: float
    p: float  # paired t-test, two-sided
    folds: int


def fold_means(rows: list[dict], system: str, condition: str, level,
               metric: str = "ua") -> dict[int, float]:
    """``{fold: mean of metric over the system's seeds}`` under one condition."""
    by_fold: dict[int, list[float]] = {}
    for r in rows:
        if (r["system"], r["condition"], r["level"]) == (system, condition, level):
            by_fold.setdefault(r["fold"], []).append(r[metric])
    return {k: float(np.mean(v)) for k, v in sorted(by_fold.items())}


def paired_over_folds(a: dict[int, float], b: dict[int, float],
                      confidence: float = 0.95) -> PairedResult | None:
    """``a - b`` over the folds both have: the mean difference, its t-interval and the paired
    t-test's two-sided p, the main report's statistics
    (:func:`emokit.evaluation.fold_statistics.paired_t_test`). None with fewer than 2 folds; NaN
    interval and p when the differences do not vary (never a zero-width interval)."""
    from emokit.evaluation.fold_statistics import paired_t_test

    folds = sorted(a.keys() & b.keys())
    diffs = np.array([a[k] - b[k] for k in folds])
    if len(diffs) < 2:
        return None
    test = paired_t_test(diffs, confidence)
    return PairedResult(float(diffs.mean()), test.ci_low, test.ci_high, test.p_value, len(diffs))


def retention(rows: list[dict], system: str, condition: str, level,
              reference: tuple[str, str, object] | None = None) -> float | None:
    """The share of a reference UA that ``system`` keeps under a condition, the mean over folds
    of ``UA(condition) / UA(reference)``; the reference is the system's own intact UA, or
    ``(system, condition, level)`` of another row (a unimodal system's intact UA)."""
    ref = fold_means(rows, *(reference or (system, "intact", "")))
    now = fold_means(rows, system, condition, level)
    folds = sorted(ref.keys() & now.keys())
    if not folds or any(ref[k] == 0 for k in folds):
        return None
    return float(np.mean([now[k] / ref[k] for k in folds]))


SURVIVING = {"audio_missing": "text", "text_missing": "audio"}


def _condition_label(condition: str, level) -> str:
    if level == "":
        return condition
    return f"{condition} {level} {'dB' if condition.startswith('audio') else '%'}"


def to_markdown(rows: list[dict], systems: list[System]) -> str:
    """UA per condition (mean over folds of each fold's mean over seeds), each fused system's
    difference from the baseline paired over folds, and retention."""
    names = [s.name for s in systems]
    fused = [s.name for s in systems if s.modalities == "both" and s.name != BASELINE]
    has_baseline = BASELINE in names
    conditions = [(c, "" if lv is None else lv) for c, lv in CONDITIONS]
    n_folds = len({r["fold"] for r in rows})
    seeds = len({r["seed"] for r in rows})
    head = ["condition", *[f"{n} UA %" for n in names]]
    if has_baseline:
        head += [f"{n} - baseline dUA [95% CI], p" for n in fused]
    lines = [(f"Test-time robustness, UA % (mean over {n_folds} folds of each fold's mean over "
              f"{seeds} seed(s)); differences paired over folds, t-interval and paired t-test."),
             "", _md_row(head), _md_row(["---"] * len(head))]
    for condition, level in conditions:
        cells = [_condition_label(condition, level)]
        for n in names:
            means = fold_means(rows, n, condition, level)
            cells.append(f"{100 * np.mean(list(means.values())):.1f}" if means else "")
        if has_baseline:
            base = fold_means(rows, BASELINE, condition, level)
            for n in fused:
                result = paired_over_folds(fold_means(rows, n, condition, level), base)
                cells.append(_difference_cell(result))
        lines.append(_md_row(cells))
    both = [s.name for s in systems if s.modalities == "both"]
    lines += ["", ("Retention: the share of its own intact UA a fused system keeps; for a "
                   "missing modality also the share of the surviving modality's unimodal UA it "
                   "reaches."), "",
              _md_row(["condition", *[f"{n} kept %" for n in both]]),
              _md_row(["---"] * (1 + len(both)))]
    for condition, level in conditions[1:]:
        cells = [_condition_label(condition, level)]
        for n in both:
            kept = retention(rows, n, condition, level)
            cell = "" if kept is None else f"{100 * kept:.0f}"
            alone = SURVIVING.get(condition)
            if alone in names:
                of_alone = retention(rows, n, condition, level, (alone, "intact", ""))
                if of_alone is not None:
                    cell += f" ({100 * of_alone:.0f} of {alone} alone)"
            cells.append(cell)
        lines.append(_md_row(cells))
    return "\n".join(lines) + "\n"


def _difference_cell(result: PairedResult | None) -> str:
    if result is None:
        return ""
    if np.isnan(result.p):  # equal differences on every fold: no spread, no interval
        return f"{100 * result.mean:+.1f} (no spread: no interval)"
    return (f"{100 * result.mean:+.1f} [{100 * result.low:+.1f}, {100 * result.high:+.1f}], "
            f"{result.p:.2f}")


def _md_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


# --- the plot --------------------------------------------------------------------------------------

def plot_robustness(rows: list[dict], systems: list[str]):
    """UA against level, one panel per degradation (white noise, babble, word errors, missing
    modality): the baseline and each other fused system as lines, the unimodal model that does
    not read the degraded modality as a dashed reference line. Returns the ``Figure``."""
    import matplotlib.pyplot as plt

    def ua(system, condition, level):
        means = fold_means(rows, system, condition, level)
        return 100 * np.mean(list(means.values())) if means else np.nan

    fused = [s for s in systems if s in {r["system"] for r in rows}
             and s not in ("audio", "text")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharey=True)
    panels = (("audio_noise_white", SNR_DB, "SNR (dB)", "text"),
              ("audio_noise_babble", SNR_DB, "SNR (dB)", "text"),
              ("text_errors", WER_PERCENT, "WER (%)", "audio"))
    for ax, (condition, levels, xlabel, reference) in zip(axes, panels):
        x = np.arange(len(levels) + 1)
        for s in fused:
            ax.plot(x, [ua(s, "intact", ""), *[ua(s, condition, lv) for lv in levels]], "o-",
                    label=s)
        if reference in systems:
            ax.axhline(ua(reference, "intact", ""), ls="--", color="gray",
                       label=f"{reference} alone")
        ax.set_xticks(x, ["clean", *map(str, levels)])
        ax.set_xlabel(xlabel)
        ax.set_title(condition)
    ax = axes[3]
    names = ["intact", "audio_missing", "text_missing"]
    width = 0.8 / max(len(fused), 1)
    for i, s in enumerate(fused):
        ax.bar(np.arange(3) + i * width, [ua(s, c, "") for c in names], width, label=s)
    for alone, style in (("audio", ":"), ("text", "--")):
        if alone in systems:
            ax.axhline(ua(alone, "intact", ""), ls=style, color="gray", label=f"{alone} alone")
    ax.set_xticks(np.arange(3) + width * (len(fused) - 1) / 2, ["intact", "no audio", "no text"])
    ax.set_title("missing modality")
    axes[0].set_ylabel("UA %")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def save_robustness_plot(experiment: Path, rows: list[dict], systems: list[str]) -> Path:
    import matplotlib.pyplot as plt

    out = Path(experiment) / "plots" / PLOT_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_robustness(rows, systems)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out



