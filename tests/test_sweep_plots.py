"""The sweep plots draw the intervals their titles promise, in UA points
(emokit.evaluation.plots.plot_sweep, plot_lambda_sweep)."""

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from emokit.evaluation import plots
from emokit.evaluation.fold_statistics import Comparison
from emokit.evaluation.report import SystemSummary


def _rows(folds, gain):
    """A baseline row and a contrastive row whose UA is ``gain`` (a fraction) higher."""
    if folds > 1:
        compared = Comparison(folds, gain, gain - 0.05, gain + 0.04, 0.3)
        spread = 0.02
    else:
        compared = Comparison(1, gain, math.nan, math.nan, math.nan)
        spread = math.nan
    ua = {"ua": compared, "wa": compared}
    return [SystemSummary("baseline", folds, (0.5, spread), (0.5, spread), n_folds=folds),
            SystemSummary("contrastive-infonce-0.3", folds, (0.5 + gain, spread),
                          (0.5 + gain, spread), vs_baseline=ua, n_folds=folds)]


def _error_segments(ax):
    """The (low, high) of every vertical error bar drawn on ``ax``."""
    bars = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    return np.array([(s[:, 1].min(), s[:, 1].max()) for c in bars for s in c.get_segments()])


def test_the_corpus_sweep_draws_its_95_percent_intervals_in_points():
    sweep = [(0.0, _rows(5, -0.02)), (0.6, _rows(5, 0.03))]
    figure = plots.plot_sweep(sweep, "text_disagreement")
    _, ax_diff = figure.axes
    assert "95% t-interval over 5 folds" in ax_diff.get_title()
    segments = _error_segments(ax_diff)
    assert len(segments) == 2 and np.isfinite(segments).all()
    np.testing.assert_allclose(sorted(map(tuple, segments)), [(-7.0, 2.0), (-2.0, 7.0)])
    drawn = [np.asarray(line.get_ydata(), dtype=float) for line in figure.axes[0].lines]
    assert any(np.allclose(y, [48.0, 53.0]) for y in drawn if y.shape == (2,))  # not 0.48
    plt.close(figure)


@pytest.mark.parametrize("draw", ["sweep", "lambda"])
def test_one_fold_promises_no_interval(draw):
    if draw == "sweep":
        figure = plots.plot_sweep([(0.0, _rows(1, 0.1)), (0.6, _rows(1, 0.2))], "knob")
        panels = [figure.axes[1]]
    else:
        rows = _rows(1, 0.1)
        rows.append(SystemSummary("contrastive-infonce-1.0", 1, (0.6, math.nan),
                                  (0.6, math.nan), vs_baseline=rows[1].vs_baseline))
        figure = plots.plot_lambda_sweep(rows)
        panels = figure.axes[2:]
    for ax in panels:
        assert "95%" not in ax.get_title() and "one fold: no interval" in ax.get_title()
    plt.close(figure)


def test_the_lambda_sweep_draws_its_intervals():
    rows = _rows(5, 0.01)
    rows.append(SystemSummary("contrastive-infonce-1.0", 5, (0.52, 0.02), (0.52, 0.02),
                              vs_baseline=rows[1].vs_baseline))
    figure = plots.plot_lambda_sweep(rows)
    for ax in figure.axes[2:]:
        assert "95% t-interval over 5 folds" in ax.get_title()
        segments = _error_segments(ax)
        assert len(segments) == 2 and np.isfinite(segments).all()
        assert (segments[:, 1] - segments[:, 0] > 8).all()  # 9 points wide, drawn in points
    plt.close(figure)
