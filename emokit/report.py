"""The results table: per system WA and UA over folds x seeds, and paired comparisons to the baseline.

Every run of an experiment (one system, one fold, one seed) leaves a ``metrics.json``. This module
reads them back and builds a table like the paper's: mean +- std of WA (accuracy) and UA (mean
per-class recall) per system, and for every other system the paired difference from the baseline
(same fold, same seed, same initial weights), with a Wilcoxon signed-rank test, a bootstrap
confidence interval of the mean difference, and the smallest difference this many pairs could
detect at all (:func:`detectable_difference`). Warm-started systems are also compared with
``baseline-continued``, their fair control (same extra epochs from the same weights).

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
from emokit.systems import BASELINE, CONTROL

METRICS = ("wa", "ua")
POWER = 0.8  # of the detectable-difference line
REFERENCE_DIFFERENCE = 0.015  # the paper's gain is about 1.5 points: pairs needed to see it
# Measures recorded per run (at the kept epoch) and shown in the "what the regularizer did" table
MEASURES = ("disc_acc", "disc_chance", "grad_ratio", "probe_audio_ua", "probe_text_ua",
            "retrieval", "retrieval_chance")


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
    detectable: float = math.nan  # smallest mean difference detectable at 80% power
    pairs_needed: float = math.nan  # pairs (folds x seeds) to detect REFERENCE_DIFFERENCE


@dataclass(frozen=True)
class SystemSummary:
    """One row of the table. ``wa``/``ua`` are (mean, std) over folds x seeds (std with ddof=1)."""

    system: str
    n_runs: int
    wa: tuple[float, float]
    ua: tuple[float, float]
    vs_baseline: dict[str, Comparison] | None = None  # metric -> comparison; None for the baseline
    vs_control: dict[str, Comparison] | None = None  # warm-started systems vs baseline-continued
    objective: str = ""  # e.g. "CE + 0.5 L (infonce)"
    measures: dict[str, float] | None = None  # mean over runs of MEASURES that were recorded


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


def detectable_difference(diffs, power: float = POWER, alpha: float = 0.05) -> float:
    """The smallest true mean difference that a two-sided paired t-test at level ``alpha`` would
    detect with probability ``power``, given ``diffs (n,)``'s spread:
    ``(t_{1-alpha/2, n-1} + t_{power, n-1}) * sd / sqrt(n)``. NaN for fewer than 2 pairs."""
    from scipy.stats import t

    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    if n < 2:
        return math.nan
    sd = float(diffs.std(ddof=1))
    return float((t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n))


def pairs_needed(sd: float, difference: float, power: float = POWER, alpha: float = 0.05,
                 most: int = 10_000) -> float:
    """How many pairs a paired t-test needs to detect ``difference`` at ``power`` when the
    differences spread with ``sd`` (the smallest n with a small enough detectable difference)."""
    from scipy.stats import t

    if not sd > 0:
        return 2.0 if sd == 0 else math.nan
    for n in range(2, most + 1):
        if (t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n) <= difference:
            return float(n)
    return math.inf


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
    sd = float(diffs.std(ddof=1)) if len(diffs) > 1 else math.nan
    return Comparison(len(diffs), mean, low, high, test.p_value, test.note,
                      detectable_difference(diffs), pairs_needed(sd, REFERENCE_DIFFERENCE))


def _mean_measures(runs: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in runs if m in r])) for m in MEASURES
            if any(m in r for r in runs)}


def summarize(runs: list[dict], systems: list[str] | None = None, baseline: str = BASELINE,
              n_resamples: int = 10_000, seed: int = 0) -> list[SystemSummary]:
    """One :class:`SystemSummary` per system (in ``systems`` order, default: baseline first, then
    by name); systems other than the baseline are compared to it when it is present, and
    warm-started ones also to ``baseline-continued``."""
    present = {r["system"] for r in runs}
    if systems is None:
        systems = sorted(present, key=lambda s: (s != baseline, s))
    rows = []
    for system in [s for s in systems if s in present]:
        mine = [r for r in runs if r["system"] == system]
        vs = vs_control = None
        if system != baseline and baseline in present:
            vs = {m: compare(runs, system, baseline, m, n_resamples, seed) for m in METRICS}
        if system != CONTROL and CONTROL in present and mine[0].get("warm_start"):
            vs_control = {m: compare(runs, system, CONTROL, m, n_resamples, seed)
                          for m in METRICS}
        rows.append(SystemSummary(system, len(mine), mean_std([r["wa"] for r in mine]),
                                  mean_std([r["ua"] for r in mine]), vs, vs_control,
                                  mine[0].get("objective", ""), _mean_measures(mine)))
    return rows


# --- formatting ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.1f}"


def _p(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _comparison_cells(comparisons: dict[str, Comparison] | None, system: str,
                      notes: list[str]) -> list[str]:
    if comparisons is None:
        return ["", "", "", "", ""]
    cells = []
    for m in METRICS:
        c = comparisons[m]
        cells += [f"{_signed(c.mean_diff)} [{_signed(c.ci_low)}, {_signed(c.ci_high)}]",
                  _p(c.p_value)]
        if c.note:
            notes.append(f"{system} {m.upper()}: {c.note}")
    ua = comparisons["ua"]
    cells.append(f"{_pct(ua.detectable)} ({_pairs(ua.pairs_needed)})")
    return cells


def _pairs(n: float) -> str:
    return "n/a" if math.isnan(n) else ("> 10000" if math.isinf(n) else f"{n:.0f}")


def _table(rows: list[SystemSummary], attribute: str, notes: list[str]) -> list[str]:
    header = ("| system | objective | runs | WA % | UA % | dWA [95% CI] | p (WA) | dUA [95% CI] "
              "| p (UA) | detectable dUA (pairs for 1.5) |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = [row.system, row.objective, str(row.n_runs),
                 f"{_pct(row.wa[0])} +- {_pct(row.wa[1])}",
                 f"{_pct(row.ua[0])} +- {_pct(row.ua[1])}"]
        cells += _comparison_cells(getattr(row, attribute), row.system, notes)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _measures_table(rows: list[SystemSummary]) -> list[str]:
    shown = [r for r in rows if r.measures]
    if not shown:
        return []
    title = ("What each system's codes and pair loss did (mean over runs, at the kept epoch; "
             "probes and retrieval: see emokit.probes):")
    header = ("| system | pair accuracy (chance) | grad ratio pair/CE | probe UA audio % | "
              "probe UA text % | retrieval % (chance) |")
    lines = [title, "", header, "|---|---:|---:|---:|---:|---:|"]
    for row in shown:
        m = row.measures
        pct = {k: _pct(v) for k, v in m.items()}
        pair = f"{pct['disc_acc']} ({pct['disc_chance']})" if "disc_acc" in m else ""
        retrieval = f"{pct['retrieval']} ({pct['retrieval_chance']})" if "retrieval" in m else ""
        ratio = f"{m['grad_ratio']:.3g}" if "grad_ratio" in m else ""
        lines.append(f"| {row.system} | {pair} | {ratio} | {pct.get('probe_audio_ua', '')} | "
                     f"{pct.get('probe_text_ua', '')} | {retrieval} |")
    return lines


def to_markdown(rows: list[SystemSummary], protocol: str) -> str:
    """The table as Markdown (percent), with the protocol stated above it and notes below;
    a second table compares warm-started systems with their fair control, and a third says
    what the regularizer did."""
    notes: list[str] = []
    lines = [
        (f"Protocol: {protocol}. Mean +- std over folds x seeds (ddof=1); differences are "
         "paired with the baseline (same fold, seed and initial weights), 95% bootstrap CI, "
         "Wilcoxon signed-rank p. Detectable: the smallest true dUA a paired t-test on these "
         f"pairs would find {POWER:.0%} of the time (two-sided 5%), and how many pairs "
         "(folds x seeds) a 1.5-point difference needs."),
        "",
        *_table(rows, "vs_baseline", notes),
    ]
    warm = [r for r in rows if r.vs_control]
    if warm:
        intro = (f"Warm-started systems against `{CONTROL}`: the fair comparison. Both start "
                 "from the same trained baseline and train for the same extra epochs; only the "
                 "pair loss differs. (Against `baseline`, extra training alone looks like a "
                 "gain.)")
        lines += ["", intro, "", *_table(warm, "vs_control", notes)]
    measures = _measures_table(rows)
    if measures:
        lines += ["", *measures]
    if notes:
        lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[SystemSummary]) -> str:
    """The table as CSV (fractions, not percent), one row per system."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["system", "objective", "n_runs", "wa_mean", "wa_std", "ua_mean", "ua_std"]
    for prefix in ("", "control_"):
        for m in METRICS:
            header += [f"{prefix}d{m}_{k}" for k in ("mean", "ci_low", "ci_high", "p", "pairs",
                                                      "detectable", "pairs_needed", "note")]
    header += list(MEASURES)
    writer.writerow(header)
    for row in rows:
        cells = [row.system, row.objective, row.n_runs, *row.wa, *row.ua]
        for comparisons in (row.vs_baseline, row.vs_control):
            for m in METRICS:
                c = comparisons[m] if comparisons else None
                cells += ([c.mean_diff, c.ci_low, c.ci_high, c.p_value, c.n_pairs, c.detectable,
                           c.pairs_needed, c.note] if c else [""] * 8)
        cells += [(row.measures or {}).get(m, "") for m in MEASURES]
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
