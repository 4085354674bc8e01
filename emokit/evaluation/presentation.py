"""What a course notebook shows beside its own numbers.

A notebook in quick mode trains a tiny model for two epochs: its numbers show that the code runs,
not how the systems compare. So every notebook that compares systems shows

- :func:`finding_box`: what the full run found, read from the kit's measured results
  (``findings.json`` beside this module, the README's tables; the pre-registered study's
  ``premise_study.json``), with their 95% intervals, and why quick mode cannot say;
- :func:`quick_banner` on each of its plots and :func:`quick_table` on each of its tables, which
  stamp them "quick mode" where quick mode is on (and do nothing in full mode);
- :func:`comparison_sentence` / :func:`test_sentence`: a paired comparison read as one sentence,
  in UA points, the one unit of every notebook.

>>> comparison_sentence(Comparison(5, -0.026, -0.123, 0.070, 0.49, detectable=0.129),
...                     "contrastive", "baseline")
'contrastive - baseline: -2.6 UA points [95% CI -12.3, +7.0] over 5 folds, paired t-test p = 0.49; these folds could detect 12.9 points: no difference shown.'
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from emokit.config import quick_mode
from emokit.evaluation.fold_statistics import Comparison, PairedTestResult

FINDINGS = Path(__file__).with_name("findings.json")
QUICK_WHY = ("Quick mode trains a tiny model for 2 epochs with one seed: its numbers show that "
             "the code runs, not how the systems compare, and differences of 10 points and more "
             "come and go from one run to the next.")
BANNER = "QUICK MODE: a smoke test, not a result"


def points(fraction: float) -> float:
    """A fraction (0.652) as points (65.2): every notebook shows UA in points."""
    return 100.0 * fraction


def _interval(low: float, high: float) -> str:
    return f"[95% CI {low:+.1f}, {high:+.1f}]"


def comparison_sentence(comparison: Comparison, system: str, reference: str,
                        metric: str = "UA") -> str:
    """``comparison`` (fractions, from :func:`~emokit.evaluation.fold_statistics.compare`) read
    as one sentence in points: the mean paired difference, its interval, p, what the folds could
    detect, and what that allows one to say."""
    head = f"{system} - {reference}: {points(comparison.mean_diff):+.1f} {metric} points"
    if comparison.n_pairs < 2 or math.isnan(comparison.ci_low):
        return f"{head} on {comparison.n_pairs} fold: no interval, so no comparison can be read."
    low, high = points(comparison.ci_low), points(comparison.ci_high)
    sentence = (f"{head} {_interval(low, high)} over {comparison.n_pairs} folds, paired t-test "
                f"p = {comparison.p_value:.2f}")
    if not math.isnan(comparison.detectable):
        sentence += f"; these folds could detect {points(comparison.detectable):.1f} points"
    return f"{sentence}: {_reading(low, high)}."


def test_sentence(result: PairedTestResult, name: str, metric: str = "UA") -> str:
    """One paired test's result (:class:`PairedTestResult`, fractions) as a sentence in points."""
    if math.isnan(result.p_value):
        return f"{name}: no test ({result.note or 'too few folds'})."
    sentence = f"{name}: p = {result.p_value:.2f}"
    if not math.isnan(result.ci_low):
        low, high = points(result.ci_low), points(result.ci_high)
        sentence += (f", mean difference {points((result.ci_low + result.ci_high) / 2):+.1f} "
                     f"{metric} points {_interval(low, high)}: {_reading(low, high)}")
    return sentence + "."


def _reading(low: float, high: float) -> str:
    if low > 0:
        return "higher, beyond noise"
    if high < 0:
        return "lower, beyond noise"
    return "no difference shown"


def _findings(path: str | Path = FINDINGS) -> dict:
    return json.loads(Path(path).read_text())


def _row(name: str, row: dict) -> str:
    low, high = row["ci"]
    return f"{name} {row['dua']:+.1f} UA points {_interval(low, high)}"


def finding_box(topic: str, path: str | Path = FINDINGS) -> str:
    """Markdown for ``display(Markdown(...))``: what the full run found on ``topic`` ("unimodal",
    "regularizer", "robustness" or "premise"), with intervals, then why quick mode cannot say (in
    quick mode) or that this run is the full one (in full mode)."""
    findings = _findings(path)
    main = findings["main"]["rows"]
    if topic == "unimodal":
        found = ("the fused baseline beats text alone by "
                 f"{-main['text']['dua']:.1f} UA points {_interval(*[-v for v in main['text']['ci'][::-1]])} "
                 f"and audio alone by {-main['audio']['dua']:.1f} "
                 f"{_interval(*[-v for v in main['audio']['ci'][::-1]])}: a lead over audio "
                 "within noise.")
    elif topic == "regularizer":
        row = main["contrastive-infonce-0.3"]
        found = (f"the pair loss changes UA by {_row('', row).strip()}; these 5 folds could detect "
                 f"{row['detectable']:.1f} points and the paper's +1.5 would need "
                 f"{row['folds_for_1.5']} folds: no gain shown, and none expected on this corpus.")
    elif topic == "robustness":
        rows = findings["robustness"]["rows"]
        found = ("the regularizer's difference from the baseline under each degradation stays "
                 "within noise: " + "; ".join(_row(name, row) for name, row in rows.items())
                 + ". Retention (baseline / regularized): " + ", ".join(
                     f"{name} {r['retention'][0]} / {r['retention'][1]}%"
                     for name, r in rows.items()) + ".")
    elif topic == "premise":
        from emokit.evaluation.study import published_results

        found = ("in the pre-registered study (8 corpora per regime, the regularizer chosen on "
                 "validation minus the baseline) every regime came out inconclusive: " + "; ".join(
                     f"{r.regime} {r.mean:+.1f} {_interval(*r.ci95)}"
                     for r in published_results()) +
                 " (R4, the positive control: 10% of labels and unlabelled pairs). Where labels were scarce the regularizer aligned the two codes by emotion, "
                 "without buying accuracy.")
    else:
        raise ValueError(f"unknown topic {topic!r}: use unimodal, regularizer, robustness or "
                         "premise")
    mode = (f"**Why this quick run cannot say.** {QUICK_WHY}" if quick_mode() else
            "**This is a full run**: compare its numbers with these, interval against interval.")
    return f"> **What the full run found** (the README's measured tables): {found}\n>\n> {mode}"


def quick_banner(figure=None):
    """Stamps ``figure`` (default: the current one) "quick mode" in quick mode; returns it."""
    import matplotlib.pyplot as plt

    figure = figure if figure is not None else plt.gcf()
    if quick_mode():
        figure.text(0.5, 1.0, BANNER, ha="center", va="bottom", color="firebrick",
                    fontsize=10, fontweight="bold", transform=figure.transFigure)
    return figure


def quick_table(markdown: str) -> str:
    """``markdown`` (a table) with a quick-mode line above it in quick mode."""
    return f"**{BANNER}.** {QUICK_WHY}\n\n{markdown}" if quick_mode() else markdown
