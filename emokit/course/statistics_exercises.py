"""The checkers of the exercises that read a comparison over folds: notebook 06 (evaluation) and
notebook 08 (robustness). :mod:`emokit.course.exercises` holds them with the others.

No answer here is a True or False: the interval and the p-value are numbers, and what they say is a
choice among five readings, so a guess cannot win.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from emokit.course.checking import check, check_choice, is_close, is_single_number

# Exercise 06-5's readings, as its question lists them: (0 outside the interval, p < 0.05)
READINGS = {"a": (True, True), "b": (True, False), "c": (False, True), "d": (False, False)}
AGREE = ("a 95% t-interval and the two-sided t-test at 0.05 always agree: 0 lies outside the "
         "interval exactly when p < 0.05")


def _near_pair(pair, tolerance=0.05):
    """True for two numbers within ``tolerance`` of ``pair``, in order."""
    return lambda a: (not isinstance(a, str) and np.ndim(a) == 1 and len(a) == 2
                      and all(abs(float(x) - y) <= tolerance for x, y in zip(a, pair, strict=True)))


def _interval_form(a) -> bool:
    return isinstance(a, str) or np.ndim(a) != 1 or len(a) != 2


def notebook06(answer_1, answer_2, ci, p_value, reading, *, lambda_rows,
               paper_diffs) -> dict[str, str]:
    """06 evaluation: the fold as the unit, the optimism of choosing a weight on the test folds,
    and reading a paired t-interval (against the percentile bootstrap), its p-value and what
    they say together (:data:`READINGS`)."""
    from scipy import stats

    from emokit.config.systems import is_selected
    from emokit.evaluation.fold_statistics import bootstrap_ci, paired_t_test, wilcoxon_test

    candidates = [r for r in lambda_rows
                  if r.system.startswith("contrastive") and not is_selected(r.system)]
    selected = next(r for r in lambda_rows if is_selected(r.system))
    best = max(candidates, key=lambda row: row.ua[0])
    optimism = 100 * (best.ua[0] - selected.ua[0])
    diffs = np.asarray(paper_diffs, dtype=float)
    test = paired_t_test(diffs)
    interval = (test.ci_low, test.ci_high)
    z_half = 1.96 * diffs.std(ddof=1) / math.sqrt(len(diffs))
    t = diffs.mean() / stats.sem(diffs)
    p_close = {"rtol": 1e-3, "atol": 5e-4 + 1e-9}  # a p given to 3 decimals is right

    def near_p(value):
        return lambda a: is_close(a, value, **p_close)

    right_reading = next(k for k, v in READINGS.items()
                         if v == (bool(interval[0] > 0 or interval[1] < 0), test.p_value < 0.05))
    return {
        "1": check("1", answer_1, 5,
                   hints=[(15, ("3 seeds of a fold share its test speakers: they are averaged "
                               "within the fold, not counted as pairs")),
                          (3, "the pairs are not the seeds")],
                   hint="how many test sessions does leave-one-session-out have?"),
        "2": check("2", answer_2, optimism, atol=0.11,
                   hints=[(-optimism, "best-on-test minus selected, not the other way round"),
                          (lambda a: abs(a - optimism / 100) < 1e-3, "in points, not fractions"),
                          (lambda a: a < 0, ("the best-on-test row is at least as good on test "
                                            "as the row it is compared with here"))],
                   hint="compare `row.ua[0]` of the contrastive weights (not the `-selected` "
                        "row, not the baseline) with the `-selected` row's"),
        "3": check("3", ci, interval, atol=0.01,
                   hints=[(_interval_form, "an interval is two numbers: (low, high)"),
                          (lambda a: float(a[0]) > float(a[1]), "low comes first"),
                          (_near_pair([x / 100 for x in interval], 1e-4),
                           "in points, as the differences are given"),
                          (_near_pair(bootstrap_ci(diffs, seed=0), 0.3),
                           ("that is a percentile bootstrap, too narrow with 5 folds: the "
                            "report's interval comes from the paired t-test")),
                          (_near_pair(np.percentile(diffs, [2.5, 97.5])),
                           ("that is the spread of the differences themselves: the interval is "
                            "for their *mean*")),
                          (_near_pair((diffs.mean() - z_half, diffs.mean() + z_half)),
                           ("that uses the normal quantile 1.96: with 5 folds the t distribution "
                            "has 4 degrees of freedom"))],
                   hint="the mean difference plus and minus the t quantile (two-sided 95%, "
                        "n - 1 degrees of freedom) times the standard error of the mean, in "
                        "points"),
        "4": check("4", p_value, test.p_value, **p_close,
                   hints=[(lambda a: not is_single_number(a), "expected a number (a float)"),
                          (lambda a: is_close(a, t, rtol=1e-3, atol=5e-3),
                           "that is the t statistic: the exercise asks for its p-value"),
                          (near_p(test.p_value / 2), ("that is a one-sided p: the test asks "
                                                      "whether the systems differ either way")),
                          (near_p(1 - test.p_value), "that is 1 - p"),
                          (near_p(2 * stats.norm.sf(abs(t))),
                           ("that uses the normal distribution: with 5 folds the t statistic "
                            "has 4 degrees of freedom")),
                          (near_p(wilcoxon_test(diffs).p_value),
                           "that is the Wilcoxon test's: the report's p is the paired t-test's"),
                          (lambda a: a > 1, "a p-value lies between 0 and 1")],
                   hint="the paired t-test of the differences against 0, two-sided "
                        "(`fold_statistics.paired_t_test`)"),
        "5": check_choice("5", reading, right_reading, "abcde",
                          hints=[("b", AGREE), ("c", AGREE),
                                 ("e", ("a mean above 0 says nothing about the fold-to-fold "
                                        "noise: read the interval")),
                                 *[(k, "is 0 inside the interval you computed? Is p below 0.05?")
                                   for k in "ad"]]),
    }


def notebook08(kept, text_missing_ci, *, rows, regularized) -> dict[str, str]:
    """08 robustness: the share of its clean UA the baseline keeps under 0 dB babble, and the 95%
    interval (in points) of the regularized system's difference from the baseline under
    ``text_missing``, paired over folds. The report's table prints both (retention in % to 0
    decimals, the interval to 1 decimal): a value copied from it is right."""
    from scipy import stats

    from emokit.evaluation.robustness_report import fold_means, paired_over_folds, retention

    share = retention(rows, "baseline", "audio_noise_babble", 0)
    clean = np.mean(list(fold_means(rows, "baseline", "intact", "").values()))
    noisy = np.mean(list(fold_means(rows, "baseline", "audio_noise_babble", 0).values()))

    def paired(condition, a=regularized, b="baseline"):
        result = paired_over_folds(fold_means(rows, a, condition, ""),
                                   fold_means(rows, b, condition, ""))
        return (math.nan, math.nan) if result is None else (100 * result.low, 100 * result.high)

    interval = paired("text_missing")
    ours, base = (list(fold_means(rows, s, "text_missing", "").values())
                  for s in (regularized, "baseline"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # too few folds: no interval
        warnings.simplefilter("ignore")
        unpaired = stats.ttest_ind(ours, base, equal_var=False).confidence_interval()
    mean_difference = 100 * (np.mean(ours) - np.mean(base))
    return {
        "1": check("1", kept, share, rtol=0, atol=5e-3 + 1e-9, factors=(100,),
                   hints=[(lambda a: not is_single_number(a), "expected a number (a float)"),
                          (lambda a: is_close(a, 100 * share, rtol=0, atol=0.5 + 1e-9),
                           ("that is a percentage: give the share as a fraction (1.0 = all of "
                            "it)")),
                          (lambda a: is_close(a, noisy, rtol=0, atol=5e-3),
                           "that is the UA itself: divide it by the clean (intact) UA"),
                          (lambda a: is_close(a, noisy / clean, rtol=0, atol=1e-6),
                           "divide fold by fold, then average over the folds"),
                          (lambda a: a > 1.5, "a share as a fraction (1.0 = all of it)")],
                   hint="per fold, the UA under the condition divided by the intact UA of the "
                        "same fold; then the mean over the folds"),
        "2": check("2", text_missing_ci, interval, rtol=0, atol=0.05 + 1e-9,
                   hints=[(lambda a: is_close(a, mean_difference, rtol=0, atol=0.05 + 1e-9),
                           "that is the mean difference: the exercise asks for its 95% interval"),
                          (_interval_form, "an interval is two numbers: (low, high)"),
                          (lambda a: float(a[0]) > float(a[1]), "low comes first"),
                          (_near_pair([x / 100 for x in interval], 5e-4),
                           "in UA points (x 100), not fractions"),
                          (_near_pair((-interval[1], -interval[0])),
                           "the regularized system minus the baseline, not the other way round"),
                          (_near_pair(paired("intact")),
                           "that is the intact condition: take `text_missing`"),
                          (_near_pair(paired("audio_missing")),
                           "that is `audio_missing`: the text is gone under `text_missing`"),
                          (_near_pair(100 * np.array(unpaired)),
                           ("that treats the two systems' folds as independent samples: pair "
                            "them fold by fold"))],
                   hint="pair the two systems fold by fold under `text_missing` "
                        "(`paired_over_folds`) and give the 95% interval of the mean difference, "
                        "in points"),
    }
