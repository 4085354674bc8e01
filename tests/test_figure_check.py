"""The notebooks' figure check (tests/_figure_check.py) sees what a student would see as empty."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tests._figure_check import figure_problems


@pytest.fixture
def axes():
    figure, ax = plt.subplots(1, 2)
    yield figure, ax
    plt.close(figure)


def test_drawn_panels_pass(axes):
    figure, (left, right) = axes
    left.plot([0, 1, 2], [0.5, 0.6, 0.7])
    left.fill_between([0, 1, 2], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8])
    right.bar(["a", "b"], [3, 4])
    right.errorbar([0, 1], [1, 2], yerr=[0.1, 0.2])
    assert figure_problems(figure) == []


def test_an_empty_panel_is_named(axes):
    figure, (left, right) = axes
    left.plot([0, 1], [1, 2])
    right.set_title("pull on the encoders")
    problems = figure_problems(figure)
    assert len(problems) == 1 and problems[0].endswith(
        "panel 1 'pull on the encoders': nothing plotted and no text saying why")


def test_an_empty_panel_that_says_why_passes(axes):
    figure, (left, right) = axes
    left.plot([0, 1], [1, 2])
    right.text(0.5, 0.5, "monitor=False: not recorded", ha="center")
    assert figure_problems(figure) == []


@pytest.mark.parametrize("draw", [
    lambda ax: ax.plot([0, 1], [math.nan, math.nan]),
    lambda ax: ax.plot([0, 1], [1, math.inf]),
    lambda ax: ax.plot([], []),
    lambda ax: ax.scatter([0, 1], [np.inf, 1]),
    lambda ax: ax.bar([0, 1], [1, math.nan]),
    lambda ax: ax.imshow(np.array([[1.0, math.nan]])),
])
def test_nan_or_empty_series_are_caught(axes, draw):
    figure, (left, right) = axes
    left.plot([0, 1], [1, 2])
    draw(right)
    problems = figure_problems(figure)
    assert len(problems) == 1 and "panel 1" in problems[0]


def test_a_line_with_gaps_passes(axes):
    figure, (left, right) = axes
    left.plot([0, 1, 2], [120.0, math.nan, 130.0])  # a pitch track with an unvoiced frame
    right.plot([0, 1], [1, 2])
    assert figure_problems(figure) == []


def test_a_switched_off_filler_panel_is_ignored(axes):
    figure, (left, right) = axes
    left.plot([0, 1], [1, 2])
    right.axis("off")
    assert figure_problems(figure) == []
