"""The results table: per system WA and UA over folds, and paired comparisons over folds.

Every run of an experiment (one system, one fold, one seed) leaves a ``metrics.json``. This module
reads them back and builds a table like the paper's. **The fold is the unit of evidence**: a
system's runs are first averaged over seeds within each fold (seeds share the fold's test speakers,
so they shrink the noise of that fold's number but add no independent evidence), then

- WA (accuracy) and UA (mean recall over the classes present in the test set) are shown as mean
  +- std over those fold means;
- every other system is compared with the baseline fold by fold (paired: same fold, same seeds;
  same initial weights, or for warm-started rows the same trained baseline), by a paired t-test
  over the fold differences: its two-sided p, its 95% t-interval of the mean difference, and the
  smallest difference it could detect at 80% power (:func:`detectable_difference`, a central-t
  approximation) with the number of folds a 1.5-point difference would need. Leave-one-session-out
  has 5 folds, leave-one-speaker-out 10: that caps the evidence whatever the number of seeds.
  With one fold there is no test: the interval, p and detectable cells stay empty and a note says
  why. The percentile bootstrap interval and the Wilcoxon signed-rank p over the same fold
  differences are kept as extra, labelled CSV columns.

Warm-started systems are also compared with ``baseline-continued``, their fair control (same
budget and stopping rule from the same trained baseline).

>>> d = np.array([0.01, 0.02, -0.01, 0.03, 0.02])
>>> round(paired_t_test(d).p_value, 4)
0.1079
>>> wilcoxon_test(d).p_value
0.1875
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emokit.config.systems import BASELINE, CONTROL
from emokit.core.atomic import write_atomic

METRICS = ("wa", "ua")
POWER = 0.8  # of the detectable-difference line
REFERENCE_DIFFERENCE = 0.015  # the paper's gain is about 1.5 points: folds needed to see it
FOLDS_AVAILABLE = {"leave-one-session-out": 5, "leave-one-speaker-out": 10}  # IEMOCAP's caps
# Measures recorded per run (at the kept epoch) and shown in the "what the regularizer did" table
MEASURES = ("disc_acc", "disc_chance", "grad_ratio", "probe_audio_ua", "probe_text_ua",
            "retrieval", "retrieval_chance")
ONE_FOLD = ("1 fold: no interval, p or detectable difference (a paired test over folds needs at "
            "least 2 folds; seeds within one fold share its test speakers and are not "
            "independent evidence)")


@dataclass(frozen=True)
class PairedTestResult:
    """A two-sided test of paired differences against zero; ``p_value`` is NaN when there is none.
    For the paired t-test, ``ci_low``/``ci_high`` is its 95% interval of the mean difference."""

    p_value: float
    note: str = ""
    ci_low: float = math.nan
    ci_high: float = math.nan


WilcoxonResult = PairedTestResult  # the Wilcoxon test has no interval


@dataclass(frozen=True)
class Comparison:
    """One metric of one system against a reference system, over the folds both have: one paired
    difference per fold (each the mean over the seeds both have in that fold)."""

    n_pairs: int  # folds
    mean_diff: float
    ci_low: float  # 95% paired t-interval of the mean difference over folds
    ci_high: float
    p_value: float  # paired t-test over folds, two-sided
    note: str = ""
    detectable: float = math.nan  # smallest mean difference the t-test detects at 80% power
    folds_needed: float = math.nan  # folds to detect REFERENCE_DIFFERENCE
    bootstrap_low: float = math.nan  # extra: percentile bootstrap over the fold differences
    bootstrap_high: float = math.nan
    wilcoxon_p: float = math.nan  # extra: Wilcoxon signed-rank p over the fold differences


@dataclass(frozen=True)
class SystemSummary:
    """One row of the table. ``wa``/``ua`` are (mean, std) over fold means (each fold's number is
    the mean over its seeds; std with ddof=1, NaN for one fold)."""

    system: str
    n_runs: int
    wa: tuple[float, float]
    ua: tuple[float, float]
    vs_baseline: dict[str, Comparison] | None = None  # metric -> comparison; None for the baseline
    vs_control: dict[str, Comparison] | None = None  # warm-started systems vs baseline-continued
    objective: str = ""  # e.g. "CE + 0.5 L (infonce)"
    measures: dict[str, float] | None = None  # mean over runs of MEASURES that were recorded
    n_folds: int = 0
    notes: tuple[str, ...] = ()  # said below the table (absent classes, weights chosen, ...)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value: no spread measured)."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return float(values.mean()), std


def paired_t(diffs, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paired t-test of differences ``(..., n)`` against zero, vectorized over the leading
    axes -> ``(p, ci_low, ci_high)``, each ``(...)``: two-sided p and the ``confidence``
    t-interval of the mean. NaN where it is undefined (fewer than 2 differences, or no spread)."""
    from scipy.stats import t

    d = np.asarray(diffs, dtype=float)
    n = d.shape[-1]
    if n < 2:
        nan = np.full(d.shape[:-1], math.nan)
        return nan, nan.copy(), nan.copy()
    mean = d.mean(axis=-1)
    se = d.std(axis=-1, ddof=1) / math.sqrt(n)
    spread = se > 1e-12
    safe = np.where(spread, se, 1.0)
    p = np.where(spread, 2 * t.sf(np.abs(mean / safe), n - 1), math.nan)
    half = t.ppf(0.5 + confidence / 2, n - 1) * se
    return p, np.where(spread, mean - half, math.nan), np.where(spread, mean + half, math.nan)


def paired_t_test(diffs, confidence: float = 0.95) -> PairedTestResult:
    """Two-sided paired t-test of fold differences ``(n,)`` against zero, with the t-interval of
    their mean. With fewer than 2 folds, or differences that do not vary, there is no test and no
    interval (never a zero-width one): the note says why."""
    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) < 2:
        return PairedTestResult(math.nan, ONE_FOLD if len(diffs) == 1 else "no paired folds")
    p, low, high = (float(x) for x in paired_t(diffs, confidence))
    if math.isnan(p):
        return PairedTestResult(math.nan, f"all {len(diffs)} fold differences are equal "
                          f"({100 * diffs[0]:+.1f} points): no spread, so no test or interval")
    return PairedTestResult(p, "", low, high)


def wilcoxon_test(diffs) -> PairedTestResult:
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
        return PairedTestResult(math.nan, f"no test: {len(diffs)} pair(s)")
    if len(nonzero) == 0:
        return PairedTestResult(1.0, "all differences are zero")
    p = float(wilcoxon(nonzero).pvalue)
    notes = []
    if len(nonzero) < len(diffs):
        notes.append(f"{len(diffs) - len(nonzero)} zero difference(s) dropped")
    floor = 2.0 / 2 ** len(nonzero)
    if floor > 0.01:
        notes.append(f"smallest possible p with {len(nonzero)} non-zero pairs is {floor:.3g}")
    return PairedTestResult(p, "; ".join(notes))


def bootstrap_ci(diffs, n_resamples: int = 10_000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``diffs`` ``(n,)``: resample the pairs with
    replacement ``n_resamples`` times (seeded, vectorized) and take the central ``confidence``.
    With few pairs it is too narrow (5 pairs: its "95%" covers the true mean about 83% of the
    time); the report's interval is the t-interval (:func:`paired_t_test`)."""
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
    ``(t_{1-alpha/2, n-1} + t_{power, n-1}) * sd / sqrt(n)``, the usual central-t approximation
    of the noncentral-t power calculation. NaN for fewer than 2 pairs."""
    from scipy.stats import t

    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    if n < 2:
        return math.nan
    sd = float(diffs.std(ddof=1))
    return float((t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n))


def folds_needed(sd: float, difference: float, power: float = POWER, alpha: float = 0.05,
                 most: int = 10_000) -> float:
    """How many folds a paired t-test over folds needs to detect ``difference`` at ``power`` when
    the fold differences spread with ``sd`` (the smallest n with a small enough
    :func:`detectable_difference`). IEMOCAP has 5 sessions (10 speakers): seeds lower ``sd``
    (less noise within a fold) but never add folds."""
    from scipy.stats import t

    if not sd > 0:
        return 2.0 if sd == 0 else math.nan
    for n in range(2, most + 1):
        if (t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n) <= difference:
            return float(n)
    return math.inf


def fold_differences(runs: list[dict], system: str, baseline: str,
                     metric: str) -> tuple[list[int], np.ndarray]:
    """``system - baseline`` per fold both have -> ``(folds, differences (folds,))``: each the
    mean over the seeds both have in that fold (the pairs of one fold are averaged, not counted)."""
    by_key = {s: {(r["fold"], r["seed"]): r[metric] for r in runs if r["system"] == s}
              for s in (system, baseline)}
    per_fold: dict[int, list[float]] = {}
    for fold, seed in sorted(by_key[system].keys() & by_key[baseline].keys()):
        per_fold.setdefault(fold, []).append(by_key[system][fold, seed]
                                             - by_key[baseline][fold, seed])
    folds = sorted(per_fold)
    return folds, np.array([np.mean(per_fold[f]) for f in folds], dtype=float)


def paired_differences(runs: list[dict], system: str, baseline: str, metric: str) -> np.ndarray:
    """``system - baseline`` per fold, in fold order: ``(folds,)`` (see :func:`fold_differences`)."""
    return fold_differences(runs, system, baseline, metric)[1]


def fold_means(runs: list[dict], metric: str) -> np.ndarray:
    """One system's ``metric`` averaged over seeds within each fold, in fold order: ``(folds,)``."""
    per_fold: dict[int, list[float]] = {}
    for r in runs:
        per_fold.setdefault(r["fold"], []).append(r[metric])
    return np.array([np.mean(per_fold[f]) for f in sorted(per_fold)], dtype=float)


def compare(runs: list[dict], system: str, baseline: str, metric: str,
            n_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired comparison of one metric over folds: mean difference, t-interval, paired t-test p,
    detectable difference and folds needed (all about the same t-test); the percentile bootstrap
    interval and the Wilcoxon p over the same fold differences as extras."""
    diffs = paired_differences(runs, system, baseline, metric)
    test = paired_t_test(diffs)
    boot = bootstrap_ci(diffs, n_resamples, seed=seed) if len(diffs) > 1 else (math.nan,) * 2
    mean = float(diffs.mean()) if len(diffs) else math.nan
    sd = float(diffs.std(ddof=1)) if len(diffs) > 1 else math.nan
    spread = not math.isnan(test.p_value)
    return Comparison(len(diffs), mean, test.ci_low, test.ci_high, test.p_value, test.note,
                      detectable_difference(diffs) if spread else math.nan,
                      folds_needed(sd, REFERENCE_DIFFERENCE) if spread else math.nan,
                      *boot, wilcoxon_test(diffs).p_value if len(diffs) > 1 else math.nan)


def _mean_measures(runs: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in runs if m in r])) for m in MEASURES
            if any(m in r for r in runs)}


def class_notes(runs: list[dict]) -> list[str]:
    """A note per fold and class absent from its test set or its training set (from the runs'
    ``absent_classes`` records), in fold order."""
    notes = {}
    for r in sorted(runs, key=lambda r: r["fold"]):
        absent = r.get("absent_classes") or {}
        n_classes = len(r.get("class_names", []))
        for name in absent.get("test", []):
            notes[f"fold {r['fold']}: no '{name}' in the test set; its UA is the mean recall "
                  f"over the {n_classes - len(absent['test'])} classes present"] = None
        for name in absent.get("train", []):
            notes[f"fold {r['fold']}: no '{name}' in the training set; the model never saw "
                  "that class"] = None
    return list(notes)


def _selection_notes(system: str, runs: list[dict]) -> list[str]:
    chosen = Counter(r["selected_system"] for r in runs if "selected_system" in r)
    if not chosen:
        return []
    picks = ", ".join(f"{name} in {n} run{'s' if n > 1 else ''}"
                      for name, n in sorted(chosen.items()))
    return [(f"{system}: per fold and seed, the weight with the best validation UA (at the kept "
             f"epoch) among {runs[0].get('n_candidates', '?')}; its test numbers are that run's. "
             f"Chose {picks}. Picking the best weight by its *test* numbers (the best of the "
             "rows above) is optimistic: that choice has seen the test folds.")]


def summarize(runs: list[dict], systems: list[str] | None = None, baseline: str = BASELINE,
              n_resamples: int = 10_000, seed: int = 0) -> list[SystemSummary]:
    """One :class:`SystemSummary` per system (in ``systems`` order, default: baseline first, then
    by name); systems other than the baseline are compared to it over folds when it is present,
    and warm-started ones also to ``baseline-continued``."""
    present = {r["system"] for r in runs}
    if systems is None:
        systems = sorted(present, key=lambda s: (s != baseline, s))
    shown = [s for s in systems if s in present]
    folds_notes = class_notes([r for r in runs if r["system"] in shown])
    rows = []
    for system in shown:
        mine = [r for r in runs if r["system"] == system]
        vs = vs_control = None
        if system != baseline and baseline in present:
            vs = {m: compare(runs, system, baseline, m, n_resamples, seed) for m in METRICS}
        if system != CONTROL and CONTROL in present and mine[0].get("warm_start"):
            vs_control = {m: compare(runs, system, CONTROL, m, n_resamples, seed)
                          for m in METRICS}
        rows.append(SystemSummary(system, len(mine), mean_std(fold_means(mine, "wa")),
                                  mean_std(fold_means(mine, "ua")), vs, vs_control,
                                  mine[0].get("objective", ""), _mean_measures(mine),
                                  len({r["fold"] for r in mine}),
                                  tuple(folds_notes + _selection_notes(system, mine))))
    return rows


# --- formatting ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.1f}"


def _p(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.3f}"


def _interval(c: Comparison) -> str:
    if math.isnan(c.ci_low):
        return _signed(c.mean_diff)
    return f"{_signed(c.mean_diff)} [{_signed(c.ci_low)}, {_signed(c.ci_high)}]"


def _comparison_cells(comparisons: dict[str, Comparison] | None, system: str,
                      notes: list[str]) -> list[str]:
    if comparisons is None:
        return ["", "", "", "", ""]
    cells = []
    for m in METRICS:
        c = comparisons[m]
        cells += [_interval(c), _p(c.p_value)]
        if c.note:
            notes.append(c.note if c.note == ONE_FOLD else f"{system} {m.upper()}: {c.note}")
    ua = comparisons["ua"]
    cells.append("" if math.isnan(ua.detectable)
                 else f"{_pct(ua.detectable)} ({_folds(ua.folds_needed)})")
    return cells


def _folds(n: float) -> str:
    return "n/a" if math.isnan(n) else ("> 10000" if math.isinf(n) else f"{n:.0f}")


def _table(rows: list[SystemSummary], attribute: str, notes: list[str]) -> list[str]:
    header = ("| system | objective | folds (runs) | WA % | UA % | dWA [95% CI] | p (WA) | "
              "dUA [95% CI] | p (UA) | detectable dUA (folds for 1.5) |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = [row.system, row.objective, f"{row.n_folds} ({row.n_runs})",
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
             "probes and retrieval: see emokit.training.probes):")
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
    if any("grad_ratio" in r.measures and " CE + " in r.objective
           and not r.objective.startswith("CE") for r in shown):
        lines += ["", ("Under `objective: convex`, `(1 - alpha) CE + alpha L`, the grad ratio is "
                       "the pair term's pull on the encoders relative to `(1 - alpha) CE`'s, not "
                       "to CE's.")]
    return lines


def _cap(protocol: str) -> str:
    for name, folds in FOLDS_AVAILABLE.items():
        if protocol.startswith(name):
            return f"{name} on IEMOCAP has {folds} folds, which caps it"
    return "the protocol's number of folds caps it"


def to_markdown(rows: list[SystemSummary], protocol: str) -> str:
    """The table as Markdown (percent), with the protocol and what the statistics are stated
    above it and notes below; a second table compares warm-started systems with their fair
    control, and a third says what the regularizer did."""
    notes: list[str] = []
    warm = [r for r in rows if r.vs_control]
    start = ("same initial weights; warm-started rows start from the trained baseline instead"
             if warm else "same initial weights")
    lines = [
        (f"Protocol: {protocol}. The fold is the unit: each system's runs are averaged over "
         "seeds within a fold, and WA and UA are mean +- std over those fold means (std over "
         "folds, ddof=1); UA is the mean recall over the classes present in a fold's test set. "
         f"Differences are paired with the baseline fold by fold (same folds and seeds; {start}): "
         "their mean over folds, its 95% t-interval and the paired t-test p over folds. "
         f"Detectable: the smallest true dUA that this t-test would find {POWER:.0%} of the time "
         "(two-sided 5%; a central-t approximation), and how many folds a 1.5-point difference "
         f"needs ({_cap(protocol)}). More seeds shrink the noise within a fold; they add no "
         "folds."),
        "",
        *_table(rows, "vs_baseline", notes),
    ]
    if warm:
        intro = (f"Warm-started systems against `{CONTROL}`: the fair comparison. Both start "
                 "from the same trained baseline and train under the same budget and stopping "
                 "rule; only the pair loss differs. (Against `baseline`, extra training alone "
                 "looks like a gain.)")
        lines += ["", intro, "", *_table(warm, "vs_control", notes)]
    measures = _measures_table(rows)
    if measures:
        lines += ["", *measures]
    for row in rows:
        notes += list(row.notes)
    if notes:
        lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


_CSV_FIELDS = (("mean", "mean_diff"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
               ("p", "p_value"), ("pairs", "n_pairs"), ("detectable", "detectable"),
               ("folds_needed", "folds_needed"), ("note", "note"),
               ("bootstrap_ci_low", "bootstrap_low"), ("bootstrap_ci_high", "bootstrap_high"),
               ("wilcoxon_p", "wilcoxon_p"))


def to_csv(rows: list[SystemSummary]) -> str:
    """The table as CSV (fractions, not percent), one row per system. ``*_pairs`` count folds;
    ``*_ci_low/high`` and ``*_p`` are the paired t-test over fold means; ``*_bootstrap_ci_*``
    (percentile bootstrap) and ``*_wilcoxon_p`` are extras over the same fold differences;
    ``wa_std``/``ua_std`` are over fold means."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["system", "objective", "n_runs", "n_folds", "wa_mean", "wa_std", "ua_mean",
              "ua_std"]
    for prefix in ("", "control_"):
        for m in METRICS:
            header += [f"{prefix}d{m}_{name}" for name, _ in _CSV_FIELDS]
    header += list(MEASURES)
    writer.writerow(header)
    for row in rows:
        cells = [row.system, row.objective, row.n_runs, row.n_folds, *row.wa, *row.ua]
        for comparisons in (row.vs_baseline, row.vs_control):
            for m in METRICS:
                c = comparisons[m] if comparisons else None
                cells += ([_blank_nan(getattr(c, attr)) for _, attr in _CSV_FIELDS] if c
                          else [""] * len(_CSV_FIELDS))
        cells += [(row.measures or {}).get(m, "") for m in MEASURES]
        writer.writerow(cells)
    return out.getvalue()


def _blank_nan(value):
    return "" if isinstance(value, float) and math.isnan(value) else value


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
