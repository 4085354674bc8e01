"""What ``robustness.csv`` says: the statistics over folds, the Markdown table
(``robustness.md``) and the plot (``plots/robustness.png``).

``rows`` are those of :func:`emokit.evaluation.robustness.read_rows`, one dict per system, fold,
seed, condition and level (``wa``, ``ua``; ``level`` is ``""`` for a condition without one). The
fold is the unit: a system's UA in a fold is the mean over its seeds (:func:`fold_means`);
differences from the baseline are taken per fold, and their mean gets a t-interval and a paired
t-test over the folds (:func:`paired_over_folds`). Retention (:func:`retention`) is the share of a
reference UA a system keeps under a condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emokit.config.systems import BASELINE, System
from emokit.evaluation.robustness import CONDITIONS, PLOT_NAME, SNR_DB, WER_PERCENT

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


def as_comparison(result: PairedResult | None):
    """``result`` as the main report's :class:`~emokit.evaluation.fold_statistics.Comparison`,
    so that :func:`emokit.evaluation.presentation.comparison_sentence` reads it in points; None
    stays None."""
    from emokit.evaluation.fold_statistics import Comparison

    if result is None:
        return None
    return Comparison(result.folds, result.mean, result.low, result.high, result.p)


def retention_sentence(rows: list[dict], system: str, condition: str, level) -> str:
    """What a system's retention under a condition is in UA points, e.g. ``baseline under
    audio_noise_babble 0 dB: 48.6 UA points, 1.5 below its intact 50.1 (keeps 97% of it)``: the
    means over folds, so the drop and the share are read in the same unit as the tables."""
    intact = fold_means(rows, system, "intact", "")
    now = fold_means(rows, system, condition, level)
    label = _condition_label(condition, level)
    if not intact or not now:
        return f"{system} under {label}: not evaluated."
    before, after = (100 * float(np.mean(list(m.values()))) for m in (intact, now))
    change = after - before
    direction = "below" if change < 0 else "above"
    kept = retention(rows, system, condition, level)
    share = "" if kept is None else f" (keeps {100 * kept:.0f}% of it)"
    return (f"{system} under {label}: {after:.1f} UA points, {abs(change):.1f} {direction} its "
            f"intact {before:.1f}{share}")


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
