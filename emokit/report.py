"""The results table: per system WA and UA over folds x seeds, and paired comparisons to the baseline.

Every run of an experiment (one system, one fold, one seed) leaves a ``metrics.json``. This module
reads them back and builds a table like the paper's: mean +- std of WA (accuracy) and UA (mean
per-class recall) per system, and for every other system the paired difference from the baseline
(same fold, same seed, same initial weights), with a Wilcoxon signed-rank test and a bootstrap
confidence interval of the mean difference.

>>> d = np.array([0.01, 0.02, -0.01, 0.03, 0.02])
>>> wilcoxon_test(d).p_value
0.1875
>>> low, high = bootstrap_ci(d, seed=0)
>>> bool(low < d.mean() < high)
True
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emokit.atomic import write_atomic

METRICS = ("wa", "ua")


@dataclass(frozen=True)
class WilcoxonResult:
    """A Wilcoxon signed-rank test on paired differences; ``p_value`` is NaN when there is none."""

    p_value: float
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """One metric of one system against the baseline, over the runs both have (fold, seed)."""

    n_pairs: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    note: str = ""


@dataclass(frozen=True)
class SystemSummary:
    """One row of the table. ``wa``/``ua`` are (mean, std) over folds x seeds (std with ddof=1)."""

    system: str
    n_runs: int
    wa: tuple[float, float]
    ua: tuple[float, float]
    vs_baseline: dict[str, Comparison] | None = None  # metric -> comparison; None for the baseline


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def wilcoxon_test(diffs) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences ``(n,)`` against zero.

    Differences are rounded to 10 decimals (so equal ones tie, not float noise) and zero
    differences are dropped before the test (the classic ``zero_method="wilcox"``), so scipy uses
    the exact null distribution up to 50 pairs. With ``m`` non-zero differences the smallest
    reachable p-value is ``2 / 2**m`` (0.0625 for 5 pairs): the note says so, because then "not
    significant" is all the test can ever say.
    """
    from scipy.stats import wilcoxon

    diffs = np.round(np.asarray(diffs, dtype=float), 10)
    nonzero = diffs[diffs != 0]
    if len(diffs) < 2:
        return WilcoxonResult(math.nan, f"no test: {len(diffs)} pair(s)")
    if len(nonzero) == 0:
        return WilcoxonResult(1.0, "all differences are zero")
    p = float(wilcoxon(nonzero).pvalue)
    notes = []
    if len(nonzero) < len(diffs):
        notes.append(f"{len(diffs) - len(nonzero)} zero difference(s) dropped")
    floor = 2.0 / 2 ** len(nonzero)
    if floor > 0.01:
        notes.append(f"smallest possible p with {len(nonzero)} non-zero pairs is {floor:.3g}")
    return WilcoxonResult(p, "; ".join(notes))


def bootstrap_ci(diffs, n_resamples: int = 10_000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``diffs`` ``(n,)``: resample the pairs with
    replacement ``n_resamples`` times (seeded, vectorized) and take the central ``confidence``."""
    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(n_resamples, len(diffs)))].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_differences(runs: list[dict], system: str, baseline: str, metric: str) -> np.ndarray:
    """``system - baseline`` for every (fold, seed) both have, in (fold, seed) order: ``(pairs,)``."""
    by_key = {s: {(r["fold"], r["seed"]): r[metric] for r in runs if r["system"] == s}
              for s in (system, baseline)}
    keys = sorted(by_key[system].keys() & by_key[baseline].keys())
    return np.array([by_key[system][k] - by_key[baseline][k] for k in keys], dtype=float)


def compare(runs: list[dict], system: str, baseline: str, metric: str,
            n_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired comparison of one metric: mean difference, bootstrap CI and Wilcoxon p-value."""
    diffs = paired_differences(runs, system, baseline, metric)
    low, high = bootstrap_ci(diffs, n_resamples, seed=seed)
    test = wilcoxon_test(diffs)
    mean = float(diffs.mean()) if len(diffs) else math.nan
    return Comparison(len(diffs), mean, low, high, test.p_value, test.note)


def summarize(runs: list[dict], systems: list[str] | None = None, baseline: str = "baseline",
              n_resamples: int = 10_000, seed: int = 0) -> list[SystemSummary]:
    """One :class:`SystemSummary` per system (in ``systems`` order, default: baseline first, then
    by name); systems other than the baseline are compared to it when it is present."""
    present = {r["system"] for r in runs}
    if systems is None:
        systems = sorted(present, key=lambda s: (s != baseline, s))
    rows = []
    for system in [s for s in systems if s in present]:
        mine = [r for r in runs if r["system"] == system]
        vs = None
        if system != baseline and baseline in present:
            vs = {m: compare(runs, system, baseline, m, n_resamples, seed) for m in METRICS}
        rows.append(SystemSummary(system, len(mine), mean_std([r["wa"] for r in mine]),
                                  mean_std([r["ua"] for r in mine]), vs))
    return rows


def run_path(experiment_dir: str | Path, system: str, fold: int, seed: int) -> Path:
    """The folder of one run: ``<experiment_dir>/runs/<system>/fold<k>_seed<s>/``."""
    return Path(experiment_dir) / "runs" / system / f"fold{fold}_seed{seed}"


def load_runs(experiment_dir: str | Path) -> list[dict]:
    """Every finished run's ``metrics.json`` under ``experiment_dir/runs/<system>/<fold_seed>/``."""
    runs = []
    for path in sorted(Path(experiment_dir).glob("runs/*/*/metrics.json")):
        runs.append(json.loads(path.read_text()))
    return runs


# --- formatting ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.1f}"


def _p(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def to_markdown(rows: list[SystemSummary], protocol: str) -> str:
    """The table as Markdown (percent), with the protocol stated above it and notes below."""
    lines = [
        (f"Protocol: {protocol}. Mean +- std over folds x seeds (ddof=1); differences are "
         "paired with the baseline (same fold, seed and initial weights), 95% bootstrap CI, "
         "Wilcoxon signed-rank p."),
        "",
        "| system | runs | WA % | UA % | dWA [95% CI] | p (WA) | dUA [95% CI] | p (UA) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for row in rows:
        cells = [row.system, str(row.n_runs),
                 f"{_pct(row.wa[0])} +- {_pct(row.wa[1])}", f"{_pct(row.ua[0])} +- {_pct(row.ua[1])}"]
        if row.vs_baseline is None:
            cells += ["", "", "", ""]
        else:
            for m in METRICS:
                c = row.vs_baseline[m]
                cells += [f"{_signed(c.mean_diff)} [{_signed(c.ci_low)}, {_signed(c.ci_high)}]",
                          _p(c.p_value)]
                if c.note:
                    notes.append(f"{row.system} {m.upper()}: {c.note}")
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[SystemSummary]) -> str:
    """The table as CSV (fractions, not percent), one row per system."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["system", "n_runs", "wa_mean", "wa_std", "ua_mean", "ua_std"]
    for m in METRICS:
        header += [f"d{m}_mean", f"d{m}_ci_low", f"d{m}_ci_high", f"d{m}_p", f"d{m}_pairs",
                   f"d{m}_note"]
    writer.writerow(header)
    for row in rows:
        cells = [row.system, row.n_runs, *row.wa, *row.ua]
        for m in METRICS:
            c = row.vs_baseline[m] if row.vs_baseline else None
            cells += ([c.mean_diff, c.ci_low, c.ci_high, c.p_value, c.n_pairs, c.note]
                      if c else ["", "", "", "", "", ""])
        writer.writerow(cells)
    return out.getvalue()


def to_json(rows: list[SystemSummary]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)


def write_report(rows: list[SystemSummary], experiment_dir: str | Path, protocol: str) -> str:
    """Write ``report.md``, ``report.csv`` and ``summary.json`` into ``experiment_dir``; returns
    the Markdown."""
    experiment_dir = Path(experiment_dir)
    markdown = to_markdown(rows, protocol)
    write_atomic(experiment_dir / "report.md", markdown)
    write_atomic(experiment_dir / "report.csv", to_csv(rows))
    write_atomic(experiment_dir / "summary.json", to_json(rows))
    return markdown
