"""Statistics over folds: paired tests of one system against another, the fold as the unit.

A system's runs are first averaged over seeds within each fold (seeds share the fold's test
speakers, so they shrink the noise of that fold's number but add no independent evidence); the
differences from the reference system are then paired fold by fold (:func:`fold_differences`,
``(folds,)``) and tested:

- the paired t-test over the fold differences (:func:`paired_t_test`): its two-sided p and its 95%
  t-interval of the mean difference; with one fold, or differences that do not vary, there is no
  test and a note says why;
- the smallest difference that t-test could detect at 80% power (:func:`detectable_difference`, a
  central-t approximation) and the number of folds a given difference would need
  (:func:`folds_needed`). Leave-one-session-out has 5 folds, leave-one-speaker-out 10: that caps
  the evidence whatever the number of seeds;
- as extras, the percentile bootstrap interval (:func:`bootstrap_ci`) and the Wilcoxon
  signed-rank p (:func:`wilcoxon_test`) over the same fold differences.

:func:`compare` gathers them for one metric into a :class:`Comparison`, one cell group of the
results table (:mod:`emokit.evaluation.report`).

>>> d = np.array([0.01, 0.02, -0.01, 0.03, 0.02])
>>> round(paired_t_test(d).p_value, 4)
0.1079
>>> wilcoxon_test(d).p_value
0.1875
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POWER = 0.8  # of the detectable-difference line
REFERENCE_DIFFERENCE = 0.015  # the paper's gain is about 1.5 points: folds needed to see it
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
