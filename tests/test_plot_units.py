"""The notebooks' pictures and sentences in one unit, UA points: the learning curves' UA axis
and the robustness retention read as points (emokit.evaluation.plots, robustness_report)."""

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from emokit.evaluation import plots, presentation
from emokit.evaluation.robustness_report import (
    as_comparison,
    paired_over_folds,
    retention,
    retention_sentence,
)


def test_learning_curves_draw_validation_ua_in_points():
    history = {"ce": [1.3, 1.1, 1.0], "val_ua": [0.31, 0.42, 0.40], "best_epoch": 2}
    figure = plots.plot_learning_curves({"fused": history})
    _, ax_ua = figure.axes
    curve, star = ax_ua.lines
    assert np.allclose(curve.get_ydata(), [31.0, 42.0, 40.0])
    assert np.allclose(star.get_ydata(), [42.0]) and np.allclose(star.get_xdata(), [2])
    assert "points" in ax_ua.get_ylabel()
    for ax in figure.axes:
        assert all(np.isfinite(line.get_ydata()).all() and len(line.get_ydata())
                   for line in ax.lines)
    plt.close(figure)


def _rows(system, intact, babble):
    return ([{"system": system, "fold": k, "seed": 0, "condition": "intact", "level": "",
              "ua": ua, "wa": ua} for k, ua in intact.items()]
            + [{"system": system, "fold": k, "seed": 0, "condition": "audio_noise_babble",
                "level": 0, "ua": ua, "wa": ua} for k, ua in babble.items()])


def test_retention_sentence_states_the_drop_in_points_beside_the_share():
    rows = _rows("baseline", {1: 0.50, 2: 0.60}, {1: 0.45, 2: 0.57})
    sentence = retention_sentence(rows, "baseline", "audio_noise_babble", 0)
    kept = retention(rows, "baseline", "audio_noise_babble", 0)
    assert sentence == ("baseline under audio_noise_babble 0 dB: 51.0 UA points, 4.0 below its "
                        f"intact 55.0 (keeps {100 * kept:.0f}% of it)")
    up = _rows("contrastive", {1: 0.40, 2: 0.40}, {1: 0.42, 2: 0.42})
    assert "2.0 above its intact 40.0 (keeps 105% of it)" in retention_sentence(
        up, "contrastive", "audio_noise_babble", 0)
    assert retention_sentence(rows, "text", "audio_noise_babble", 0).endswith("not evaluated.")


def test_a_robustness_difference_reads_as_the_main_reports_sentence():
    result = paired_over_folds({1: 0.6, 2: 0.7, 3: 0.65}, {1: 0.5, 2: 0.65, 3: 0.6})
    comparison = as_comparison(result)
    assert (comparison.n_pairs, comparison.mean_diff) == (3, pytest.approx(result.mean))
    sentence = presentation.comparison_sentence(comparison, "contrastive", "baseline")
    assert sentence.startswith(f"contrastive - baseline: {100 * result.mean:+.1f} UA points "
                               f"[95% CI {100 * result.low:+.1f}, {100 * result.high:+.1f}] "
                               "over 3 folds")
    assert as_comparison(None) is None
    assert math.isnan(as_comparison(paired_over_folds({1: 0.5, 2: 0.5}, {1: 0.4, 2: 0.4})).p_value)
