"""Figures of an experiment: confusion matrices, learning curves, what the regularizer does per
epoch, t-SNE of the latent codes, and the lambda and corpus-knob sweeps.

Every function returns a matplotlib ``Figure`` (shown inline in a notebook);
:func:`save_experiment_plots` writes the standard set as PNGs into ``<experiment>/plots/``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from emokit.config.systems import BASELINE, is_selected, parse_system
from emokit.evaluation.report import SystemSummary
from emokit.evaluation.runstore import load_codes, load_history

MODALITY_MARKERS = {"audio": "o", "text": "^"}


def plot_confusion(confusion, class_names: list[str], title: str = "", ax=None):
    """A row-normalized confusion matrix ``(classes, classes)`` (rows = true class) with the
    percentages and counts written in the cells."""
    confusion = np.asarray(confusion, dtype=float)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig, ax = _figure(ax, (4, 3.6))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(rates.shape):
        ax.text(j, i, f"{100 * rates[i, j]:.0f}%\n({int(confusion[i, j])})", ha="center",
                va="center", fontsize=8, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig


def plot_confusions(runs: list[dict], systems: list[str]):
    """One confusion matrix per system, summed over its runs (folds x seeds)."""
    fig, axes = plt.subplots(1, len(systems), figsize=(4 * len(systems), 3.8), squeeze=False)
    for ax, system in zip(axes[0], systems, strict=True):
        mine = [r for r in runs if r["system"] == system]
        total = np.sum([r["confusion"] for r in mine], axis=0)
        plot_confusion(total, mine[0]["class_names"], f"{system} ({len(mine)} runs)", ax)
    fig.tight_layout()
    return fig


def plot_learning_curves(histories: dict[str, dict]):
    """Training loss and validation UA per epoch, one line per ``{label: history}`` (histories
    from ``emokit.training.loop.fit``: per-epoch lists ``loss``, ``ce``, ``val_ua`` ...). UA is
    drawn in points (0-100), the unit of every table and notebook."""
    fig, (ax_loss, ax_ua) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, history in histories.items():
        epochs = np.arange(1, len(history["ce"]) + 1)
        line, = ax_loss.plot(epochs, history["ce"], label=f"{label} CE")
        if "disc_loss" in history:
            ax_loss.plot(epochs, history["disc_loss"], "--", color=line.get_color(),
                         label=f"{label} discriminator")
        val_ua = 100 * np.asarray(history["val_ua"], dtype=float)
        ax_ua.plot(epochs, val_ua, color=line.get_color(), label=label)
        best = history.get("best_epoch", -1)
        if best > 0:
            ax_ua.plot(best, val_ua[best - 1], "*", color=line.get_color(), markersize=10)
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="training losses")
    ax_ua.set(xlabel="epoch", ylabel="validation UA (points)",
              title="validation UA (* = kept weights)")
    for ax in (ax_loss, ax_ua):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_regularizer(histories: dict[str, dict]):
    """What the pair loss does, per epoch, one colour per ``{label: history}``. Left, the codes:
    the discriminator's pair accuracy against its chance level (dotted), and the linear probes'
    validation UA on the audio code (solid) and the text code (dashed) alone. Right, the
    gradients on the encoders: the norm ratio pair/CE, and the cosine between CE's and the pair
    loss's gradients on the audio encoder (solid) and the text encoder (dashed); below the
    dashed 0 line the two losses pull that encoder in opposing directions. The gradient and
    probe panels need ``TrainConfig.monitor``; a panel with nothing to draw says why (monitoring
    off, no pair loss, or histories recorded before the cosines existed)."""
    fig, ((ax_acc, ax_ratio), (ax_probe, ax_cos)) = plt.subplots(2, 2, figsize=(11, 7))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (label, history) in enumerate(histories.items()):
        epochs = np.arange(1, len(history["val_ua"]) + 1)
        colour = colours[k % len(colours)]
        if "disc_acc" in history:
            ax_acc.plot(epochs, 100 * np.asarray(history["disc_acc"]), color=colour, label=label)
            ax_acc.plot(epochs, 100 * np.asarray(history["disc_chance"]), ":", color=colour)
        if "grad_ratio" in history:
            ax_ratio.plot(epochs, history["grad_ratio"], color=colour, label=label)
        for key, style in (("probe_audio_ua", "-"), ("probe_text_ua", "--")):
            # null: no probe that epoch (TrainConfig.probe_every)
            probed = [(e, 100 * v) for e, v in zip(epochs, history.get(key, [])) if v is not None]
            if probed:
                ax_probe.plot(*zip(*probed), linestyle=style, marker=".", color=colour,
                              label=f"{label} {key.split('_')[1]}")
        for key, style in (("grad_cos_audio", "-"), ("grad_cos_text", "--")):
            if key in history:
                ax_cos.plot(epochs, history[key], linestyle=style, marker=".", color=colour,
                            label=f"{label} {key.split('_')[2]}")
    ax_acc.set(xlabel="epoch", ylabel="pair accuracy (%)", title="discriminator (dotted: chance)")
    ax_ratio.set(xlabel="epoch", ylabel="|grad pair| / |grad CE|",
                 title="pull on the encoders, pair loss vs CE")
    ax_probe.set(xlabel="epoch", ylabel="validation UA (points)", title="linear probe on one code")
    ax_cos.set(xlabel="epoch", ylabel="cos(grad CE, grad pair)", ylim=(-1.05, 1.05),
               title="direction on each encoder (< 0: the losses conflict)")
    ax_cos.axhline(0.0, color="black", linestyle="--", linewidth=0.8)
    if any("grad_ratio" in h for h in histories.values()):
        ax_ratio.set_yscale("log")
    why = _why_empty(histories)
    for ax, name in ((ax_acc, "pairs"), (ax_ratio, "gradients"), (ax_probe, "probes"),
                     (ax_cos, "cosines")):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, why[name], transform=ax.transAxes, ha="center", va="center",
                    wrap=True, fontsize=9, color="dimgray")
    fig.tight_layout()
    return fig


def _why_empty(histories: dict[str, dict]) -> dict[str, str]:
    """What an empty panel of :func:`plot_regularizer` says, by panel."""
    paired = any("disc_acc" in h or "grad_ratio" in h for h in histories.values())
    no_pairs = "no pair loss in these runs:\nnothing to draw"
    monitor_off = "not recorded:\ntrain.monitor was off"
    cosines = monitor_off
    if any("grad_ratio" in h for h in histories.values()):
        cosines = "not recorded: these histories\npredate the gradient cosines"
    return {"pairs": no_pairs, "gradients": monitor_off if paired else no_pairs,
            "cosines": cosines if paired else no_pairs,
            "probes": "no probes recorded: train.monitor was off\n(or fit got no probe_train_ds)"}


def tsne_codes(audio: np.ndarray, text: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One joint 2-d t-SNE of audio and text codes ``(n, latent_dim)`` -> two ``(n, 2)`` arrays
    (a joint map, so distances between the modalities mean something)."""
    from sklearn.manifold import TSNE

    codes = np.concatenate([audio, text]).astype("float64")
    codes = (codes - codes.mean(0)) / (codes.std(0) + 1e-8)
    perplexity = float(min(30, max(2, (len(codes) - 1) // 4)))
    points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)
    return points[: len(audio)], points[len(audio):]


def plot_tsne(codes: dict[str, dict], class_names: list[str], seed: int = 0):
    """Per system, a joint t-SNE of its test-set audio (o) and text (^) codes coloured by
    emotion. ``codes``: ``{system: {"audio": (n, d), "text": (n, d), "labels": (n,)}}``; an
    ``"audio_aligned"`` entry (the audio codes projected as the discriminator compares them) is
    used instead of ``"audio"``. Same-emotion codes of both modalities close together = what
    the regularizer asks for."""
    fig, axes = plt.subplots(1, len(codes), figsize=(5 * len(codes), 4.4), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, (system, c) in zip(axes[0], codes.items(), strict=True):
        audio = c.get("audio_aligned", c["audio"])
        audio_2d, text_2d = tsne_codes(audio, c["text"], seed)
        labels = np.asarray(c["labels"])
        for modality, points in (("audio", audio_2d), ("text", text_2d)):
            for k, name in enumerate(class_names):
                sel = labels == k
                ax.scatter(*points[sel].T, s=12, marker=MODALITY_MARKERS[modality],
                           color=colours(k), alpha=0.6,
                           label=f"{name} ({modality})")
        ax.set_title(system + (" (audio as projected)" if "audio_aligned" in c else ""))
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig


def principal_components(codes: np.ndarray) -> tuple[np.ndarray, float]:
    """``codes (n, dims)``, standardized per dimension, on their first two principal components
    -> ``(points (n, 2), share)``, ``share`` the part of the variance those two explain."""
    centred = (codes - codes.mean(axis=0)) / (codes.std(axis=0) + 1e-8)
    _, spread, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:2].T, float((spread[:2] ** 2).sum() / (spread ** 2).sum())


def plot_code_map(codes: dict[str, np.ndarray], labels, class_names: list[str]):
    """One panel per ``{title: codes (n, dims)}`` (e.g. pooled pretrained codes): the codes on
    their first two principal components (:func:`principal_components`), coloured by emotion
    (``labels (n,)``, names from ``class_names``). Colours gathering in regions of their own =
    a linear classifier could already tell those emotions apart."""
    labels = np.asarray(labels)
    fig, axes = plt.subplots(1, len(codes), figsize=(5.5 * len(codes), 4.5), squeeze=False)
    for ax, (title, values) in zip(axes[0], codes.items(), strict=True):
        points, share = principal_components(np.asarray(values, dtype="float64"))
        for name in class_names:
            ax.scatter(*points[labels == name].T, s=10, alpha=0.7, label=name)
        ax.set_title(f"{title}\n({values.shape[1]} dims; 2 components: {share:.0%} of the "
                     "variance)", fontsize=10)
    axes[0][0].legend(title="emotion", fontsize=8)
    fig.tight_layout()
    return fig


def plot_lambda_sweep(rows: list[SystemSummary]):
    """Top: WA and UA (mean +- std over fold means) against the pair-loss weight (lambda, or
    alpha for the convex objective), one line per discriminator and objective, the baseline as a
    grey band. Bottom: each system's paired difference from the baseline over folds with its 95%
    t-interval (the comparison that removes the fold-to-fold spread; none with one fold).
    Reading the best weight off this plot is choosing on the test folds, which is optimistic:
    the ``-selected`` row of the report chooses on validation."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True)
    baseline = next((r for r in rows if r.system == "baseline"), None)
    by_disc: dict[str, list] = {}
    for row in rows:
        system = None if is_selected(row.system) else parse_system(row.system)
        if system is not None and system.contrastive_weight > 0:
            label = system.discriminator + (" (alpha)" if system.objective == "convex" else "")
            by_disc.setdefault(label, []).append((system.contrastive_weight, row))
    for col, metric in enumerate(("wa", "ua")):
        top, bottom = axes[0][col], axes[1][col]
        if baseline is not None:
            mean, std = (100 * v for v in getattr(baseline, metric))
            std = 0.0 if np.isnan(std) else std  # one fold: no spread measured
            top.axhline(mean, color="gray", label="baseline")
            top.axhspan(mean - std, mean + std, color="gray", alpha=0.15)
        bottom.axhline(0, color="gray")
        compared = []
        for disc, points in sorted(by_disc.items()):
            points.sort(key=lambda p: p[0])
            lambdas = [p[0] for p in points]
            top.errorbar(lambdas, [100 * getattr(r, metric)[0] for _, r in points],
                         yerr=np.nan_to_num([100 * getattr(r, metric)[1] for _, r in points]),
                         marker="o", capsize=3, label=disc)
            diffs = [r.vs_baseline[metric] for _, r in points if r.vs_baseline]
            if len(diffs) == len(points):
                compared += diffs
                mean, low, high = _interval_arrays(diffs)
                bottom.errorbar(lambdas, mean, yerr=[mean - low, high - mean], marker="o",
                                capsize=3, label=disc)
        top.set(ylabel=f"{metric.upper()} (points)", title=f"{metric.upper()} vs lambda")
        bottom.set(xlabel="pair-loss weight (lambda or alpha)",
                   ylabel=f"{metric.upper()} - baseline (points)",
                   title=_difference_title(compared))
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _interval_arrays(comparisons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` of paired comparisons, in points; no interval (one fold) = a
    point."""
    mean = 100 * np.array([c.mean_diff for c in comparisons])
    low = 100 * np.array([c.ci_low for c in comparisons])
    high = 100 * np.array([c.ci_high for c in comparisons])
    return mean, np.where(np.isnan(low), mean, low), np.where(np.isnan(high), mean, high)


def _difference_title(comparisons) -> str:
    """The title of a paired-difference panel: it promises the 95% t-interval only where every
    point has one (one fold has none: the title says so instead)."""
    if comparisons and all(c.n_pairs >= 2 and np.isfinite(c.ci_low) for c in comparisons):
        folds = sorted({c.n_pairs for c in comparisons})
        return (f"paired difference, 95% t-interval over {'/'.join(map(str, folds))} folds")
    return "paired difference (one fold: no interval, no test)"


def plot_sweep(sweep: list[tuple[object, list[SystemSummary]]], setting: str,
               metric: str = "ua"):
    """A corpus or training knob swept by ``emokit.experiment.runner.run_sweep``, in points:
    left, ``metric`` of every system per value; right, each system's paired difference from the
    baseline over folds with its 95% t-interval (above 0 = better than the baseline); with one
    fold there is no interval, and the panel's title says so instead of promising one."""
    fig, (ax_abs, ax_diff) = plt.subplots(1, 2, figsize=(10, 3.6))
    values = [v for v, _ in sweep]
    systems = list(dict.fromkeys(r.system for _, rows in sweep for r in rows))
    compared = []
    for system in systems:
        found = [(v, next((r for r in rows if r.system == system), None)) for v, rows in sweep]
        found = [(v, r) for v, r in found if r is not None]
        ax_abs.errorbar([v for v, _ in found], [100 * getattr(r, metric)[0] for _, r in found],
                        yerr=np.nan_to_num([100 * getattr(r, metric)[1] for _, r in found]),
                        marker="o", capsize=3, label=system)
        diffs = [(v, r.vs_baseline[metric]) for v, r in found if r.vs_baseline]
        if diffs:
            compared += [c for _, c in diffs]
            mean, low, high = _interval_arrays([c for _, c in diffs])
            ax_diff.errorbar([v for v, _ in diffs], mean, yerr=[mean - low, high - mean],
                             marker="o", capsize=3, label=system)
    ax_diff.axhline(0, color="gray")
    ax_abs.set(xlabel=setting, ylabel=f"{metric.upper()} (points)",
               title=f"{metric.upper()} per system (bars: sd over folds)")
    ax_diff.set(xlabel=setting, ylabel=f"{metric.upper()} - baseline (points)",
                title=_difference_title(compared))
    for ax in (ax_abs, ax_diff):
        ax.set_xticks(values)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- the standard set of an experiment ---------------------------------------------------------

def save_experiment_plots(experiment_dir, runs: list[dict], rows: list[SystemSummary]) -> dict:
    """Write ``plots/confusion.png``, ``plots/learning_curves.png`` and ``plots/regularizer.png``
    (first fold and seed), ``plots/tsne.png`` (baseline vs the first contrastive system, first
    fold and seed) and, with two or more weights, ``plots/lambda_sweep.png``. Returns
    ``{name: path}``."""
    if not runs:
        return {}
    out = Path(experiment_dir) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    systems = [r.system for r in rows]
    fold, seed = min((r["fold"], r["seed"]) for r in runs)
    first = [s for s in systems
             if any(r["system"] == s and (r["fold"], r["seed"]) == (fold, seed) for r in runs)]
    histories = {s: load_history(experiment_dir, s, fold, seed) for s in first}
    figures = {"confusion": plot_confusions(runs, systems),
               "learning_curves": plot_learning_curves(histories)}
    monitored = {s: h for s, h in histories.items()
                 if "probe_audio_ua" in h and "probe_text_ua" in h}
    if monitored:
        figures["regularizer"] = plot_regularizer(monitored)
    pair = [s for s in first if s == BASELINE] + [
        s for s in first if not is_selected(s) and parse_system(s).contrastive_weight > 0][:1]
    if len(pair) == 2:
        codes = {s: load_codes(experiment_dir, s, fold, seed) for s in pair}
        figures["tsne"] = plot_tsne(codes, runs[0]["class_names"])
    if len({parse_system(s).contrastive_weight for s in systems if not is_selected(s)}
           - {0.0}) >= 2:
        figures["lambda_sweep"] = plot_lambda_sweep(rows)
    paths = {}
    for name, fig in figures.items():
        paths[name] = out / f"{name}.png"
        fig.savefig(paths[name], dpi=110, bbox_inches="tight")
        plt.close(fig)
    return paths


def _figure(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
