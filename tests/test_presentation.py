"""What the notebooks show beside their numbers: the measured finding, the quick-mode stamps, a
comparison read as a sentence in UA points (emokit.evaluation.presentation)."""

import math
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from emokit.evaluation import presentation
from emokit.evaluation.fold_statistics import Comparison, PairedTestResult

ROOT = Path(__file__).resolve().parent.parent


def _readme_row(system):
    line = next(line for line in (ROOT / "README.md").read_text().splitlines()
                if line.startswith(f"| {system} ") and "CE" in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.mark.parametrize("system", ["audio", "text", "contrastive-infonce-0.3"])
def test_findings_are_the_readmes_measured_table(system):
    """findings.json and the README's main table are the same run: a rerun that updates one and
    not the other fails here."""
    cells = _readme_row(system)
    row = presentation._findings()["main"]["rows"][system]
    ua, dua = cells[4], cells[7]
    assert ua == f"{row['ua'][0]:.1f} +- {row['ua'][1]:.1f}"
    assert dua == f"{row['dua']:+.1f} [{row['ci'][0]:+.1f}, {row['ci'][1]:+.1f}]"
    assert cells[8] == f"{row['p']:.3f}"
    assert cells[9].startswith(f"{row['detectable']:.1f} ")


def test_robustness_findings_are_the_docs_table():
    text = (ROOT / "docs" / "robustness.md").read_text()
    names = {"audio_missing": "audio_missing", "text_missing": "text_missing",
             "babble 0 dB": "babble 0 dB", "word errors 50%": "word errors 50%"}
    for name, row in presentation._findings()["robustness"]["rows"].items():
        line = next(line for line in text.splitlines() if line.startswith(f"| {names[name]} |"))
        assert f"{row['dua']:+.1f} [{row['ci'][0]:+.1f}, {row['ci'][1]:+.1f}]" in line


@pytest.mark.parametrize("topic", ["unimodal", "regularizer", "robustness", "premise"])
def test_finding_box_states_intervals_and_why_quick_mode_cannot_say(topic, monkeypatch):
    monkeypatch.setenv("EMOKIT_QUICK", "1")
    box = presentation.finding_box(topic)
    assert box.startswith("> **What the full run found**")
    assert re.search(r"\[95% CI [+-]\d+\.\d, [+-]\d+\.\d\]", box)
    assert presentation.QUICK_WHY in box
    monkeypatch.setenv("EMOKIT_QUICK", "0")
    assert presentation.QUICK_WHY not in presentation.finding_box(topic)


def test_premise_box_reads_the_published_study():
    from emokit.evaluation.study import published_results

    box = presentation.finding_box("premise")
    for result in published_results():
        assert f"{result.regime} {result.mean:+.1f} [95% CI {result.ci95[0]:+.1f}," in box


def test_an_unknown_topic_names_the_known_ones():
    with pytest.raises(ValueError, match="unimodal, regularizer, robustness or premise"):
        presentation.finding_box("speed")


@pytest.mark.parametrize("quick", ["1", "0"])
def test_quick_banner_stamps_figures_only_in_quick_mode(quick, monkeypatch):
    monkeypatch.setenv("EMOKIT_QUICK", quick)
    figure, ax = plt.subplots()
    ax.plot([1, 2])
    assert presentation.quick_banner(figure) is figure
    texts = [t.get_text() for t in figure.texts]
    assert (presentation.BANNER in texts) == (quick == "1")
    assert presentation.quick_table("| a |").startswith("**QUICK") == (quick == "1")
    plt.close(figure)


def test_comparison_sentence_is_in_points_and_reads_the_interval():
    lower = Comparison(5, -0.05, -0.08, -0.02, 0.01, detectable=0.03)
    sentence = presentation.comparison_sentence(lower, "text", "baseline")
    assert sentence == ("text - baseline: -5.0 UA points [95% CI -8.0, -2.0] over 5 folds, "
                        "paired t-test p = 0.01; these folds could detect 3.0 points: lower, "
                        "beyond noise.")
    within = Comparison(5, 0.01, -0.02, 0.04, 0.4)
    assert presentation.comparison_sentence(within, "a", "b").endswith("p = 0.40: no difference "
                                                                        "shown.")
    one = Comparison(1, 0.02, math.nan, math.nan, math.nan)
    assert "1 fold: no interval" in presentation.comparison_sentence(one, "a", "b")


def test_test_sentence_in_points():
    t = PairedTestResult(0.03, ci_low=0.01, ci_high=0.05)
    assert presentation.test_sentence(t, "paired t-test") == (
        "paired t-test: p = 0.03, mean difference +3.0 UA points [95% CI +1.0, +5.0]: higher, "
        "beyond noise.")
    assert presentation.test_sentence(PairedTestResult(0.19), "Wilcoxon") == "Wilcoxon: p = 0.19."
    none = PairedTestResult(math.nan, note="1 fold")
    assert presentation.test_sentence(none, "Wilcoxon") == "Wilcoxon: no test (1 fold)."


def test_the_docstring_example_runs():
    import doctest

    failures, tried = doctest.testmod(presentation)
    assert tried >= 1 and failures == 0
