"""Notebook 09's map of pretrained codes and its side-by-side UA table (emokit.evaluation)."""

import numpy as np

from emokit.evaluation.plots import plot_code_map, principal_components
from emokit.evaluation.report import SystemSummary, ua_side_by_side


def test_principal_components_find_the_direction_that_separates():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    codes = rng.normal(size=(100, 6))
    codes[:, :3] += 4 * labels[:, None]  # three dimensions carry the class together
    points, share = principal_components(codes)
    assert points.shape == (100, 2) and 0 < share <= 1
    first = points[:, 0]
    within = np.mean([first[labels == k].std() for k in (0, 1)])
    assert abs(first[labels == 0].mean() - first[labels == 1].mean()) > 3 * within
    assert share > principal_components(rng.normal(size=(100, 6)))[1] + 0.2


def test_code_map_draws_every_emotion_in_every_panel():
    import matplotlib.pyplot as plt

    from tests._figure_check import figure_problems

    rng = np.random.default_rng(1)
    labels = np.array(["neutral", "happy", "angry", "sad"] * 10)
    fig = plot_code_map({"audio": rng.normal(size=(40, 8)), "text": rng.normal(size=(40, 5))},
                        labels, ["neutral", "happy", "angry", "sad"])
    assert [len(ax.collections) for ax in fig.axes] == [4, 4]
    assert all(len(c.get_offsets()) == 10 for ax in fig.axes for c in ax.collections)
    assert figure_problems(fig) == []
    plt.close(fig)


def _row(system, ua):
    return SystemSummary(system=system, n_runs=1, wa=(0.5, np.nan), ua=(ua, np.nan))


def test_ua_side_by_side_in_points_in_the_first_columns_order():
    table = ua_side_by_side({"MFCC": [_row("baseline", 0.652), _row("text", 0.51)],
                             "pretrained": [_row("text", 0.333)]})
    assert table.splitlines() == [
        "| system | UA, MFCC (points) | UA, pretrained (points) |",
        "|---|---:|---:|",
        "| baseline | 65.2 | n/a |",
        "| text | 51.0 | 33.3 |"]
