"""Every figure a notebook draws must show something: the check the notebook tests run in the
kernel (its source is executed there by ``install_in_kernel``) and unit-test here.

A panel (axes) passes when every series it plots (lines, scatter points, bars, filled bands,
error bars, images) is non-empty and finite and at least one exists (a line may hold NaN gaps,
the way a pitch track shows unvoiced frames, but not only NaN), or, with nothing plotted,
when it shows a text saying why. Hidden artists and axes switched off with no text are ignored
only if they hold nothing at all (a layout filler)."""

import json
import os

import numpy as np


def _series(ax):
    """``[(kind, values array)]`` of what ``ax`` plots."""
    import matplotlib.collections as mc
    import matplotlib.patches as mp

    series = []
    for line in ax.lines:
        if line.get_visible():
            series.append(("line", np.asarray(line.get_xydata(), dtype=float)))
    for c in ax.collections:
        if not c.get_visible():
            continue
        if isinstance(c, mc.QuadMesh):
            series.append(("mesh", np.ma.filled(np.ma.asarray(c.get_array(), dtype=float),
                                                np.nan)))
        elif isinstance(c, mc.LineCollection):
            segments = [s for s in c.get_segments() if len(s)]
            series.append(("segments", np.concatenate(segments) if segments else np.empty(0)))
        elif isinstance(c, mc.PathCollection) and len(c.get_offsets()):
            series.append(("points", np.ma.filled(np.ma.asarray(c.get_offsets(), dtype=float),
                                                  np.nan)))
        else:
            paths = [p.vertices for p in c.get_paths() if len(p.vertices)]
            series.append(("band", np.concatenate(paths) if paths else np.empty(0)))
    bars = [p for p in ax.patches if isinstance(p, mp.Rectangle) and p.get_visible()]
    if bars:
        series.append(("bars", np.array([[b.get_x(), b.get_y(), b.get_width(), b.get_height()]
                                         for b in bars], dtype=float)))
    for image in ax.images:
        if image.get_visible():
            series.append(("image", np.ma.filled(np.ma.asarray(image.get_array(), dtype=float),
                                                 np.nan)))
    return series


def figure_problems(figure) -> list[str]:
    """What is wrong with ``figure``: one line per empty or non-finite panel; ``[]`` if none."""
    problems = []
    title = figure._suptitle.get_text() if figure._suptitle else ""
    for i, ax in enumerate(figure.axes):
        name = f"figure {title or figure.number!r} panel {i} {ax.get_title()!r}"
        series = _series(ax)
        texts = [t.get_text().strip() for t in ax.texts if t.get_visible()]
        if not series:
            if not any(texts) and ax.axison:
                problems.append(f"{name}: nothing plotted and no text saying why")
            continue
        for kind, values in series:
            if values.size == 0:
                problems.append(f"{name}: an empty {kind} series")
            elif np.isinf(values).any() or (kind != "line" and np.isnan(values).any()):
                problems.append(f"{name}: a {kind} series with non-finite values")
            elif not np.isfinite(values).all(axis=-1).any():
                problems.append(f"{name}: a {kind} series with no finite point")
    return problems


def install_in_kernel(log_path):
    """In a notebook kernel: check every figure when a cell ends and before it is closed, and
    append ``{"figures": n, "problems": [...]}`` to ``log_path`` (JSON) each time."""
    import matplotlib.pyplot as plt
    from IPython import get_ipython
    from matplotlib._pylab_helpers import Gcf

    checked = set()

    def check(figure):
        if id(figure) in checked or not figure.axes:
            return
        checked.add(id(figure))
        record = json.loads(open(log_path).read()) if os.path.exists(log_path) else {
            "figures": 0, "problems": []}
        record["figures"] += 1
        record["problems"] += figure_problems(figure)
        with open(log_path, "w") as f:
            json.dump(record, f)

    def check_open(*_):  # without plt.figure(n), which would change the current figure
        for manager in Gcf.get_all_fig_managers():
            check(manager.canvas.figure)

    close = plt.close

    def checked_close(fig=None):
        if fig is None:
            check_open()
        elif hasattr(fig, "axes"):
            check(fig)
        elif fig == "all":
            check_open()
        return close(fig)

    plt.close = checked_close
    get_ipython().events.register("post_execute", check_open)
