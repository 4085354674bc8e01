"""The results table: per system WA and UA over folds, and paired comparisons over folds.

Every run of an experiment (one system, one fold, one seed) leaves a ``metrics.json``. This module
reads them back and builds a table like the paper's. **The fold is the unit of evidence**: a
system's runs are first averaged over seeds within each fold (seeds share the fold's test speakers,
so they shrink the noise of that fold's number but add no independent evidence), then

- WA (accuracy) and UA (mean recall over the classes present in the test set) are shown as mean
  +- std over those fold means;
- every other system is compared with the baseline fold by fold (paired: same fold, same seeds;
  same initial weights, or for warm-started rows the same trained baseline), by a paired t-test
  over the fold differences: its two-sided p, its 95% t-interval of the mean difference, and the
  smallest difference it could detect at 80% power
  (:func:`emokit.evaluation.fold_statistics.detectable_difference`, a central-t approximation)
  with the number of folds a 1.5-point difference would need. Leave-one-session-out has 5 folds,
  leave-one-speaker-out 10: that caps the evidence whatever the number of seeds. With one fold
  there is no test: the interval, p and detectable cells stay empty and a note says why. The
  percentile bootstrap interval and the Wilcoxon signed-rank p over the same fold differences are
  kept as extra, labelled CSV columns. The tests themselves:
  :mod:`emokit.evaluation.fold_statistics`.

Warm-started systems are also compared with ``baseline-continued``, their fair control (same
budget and stopping rule from the same trained baseline).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emokit.config.systems import BASELINE, CONTROL
from emokit.core.atomic import write_atomic
from emokit.evaluation.fold_statistics import (
    ONE_FOLD,
    POWER,
    Comparison,
    compare,
    fold_means,
    mean_std,
)
from emokit.evaluation.manipulation import (
    CSV_COLUMNS,
    ManipulationCheck,
    check_system,
    checks_markdown,
    csv_cells,
    runs_csv,
)

METRICS = ("wa", "ua")
FOLDS_AVAILABLE = {"leave-one-session-out": 5, "leave-one-speaker-out": 10}  # IEMOCAP's caps
# Measures recorded per run (at the kept epoch) and shown in the "what the regularizer did" table
MEASURES = ("disc_acc", "disc_chance", "grad_ratio", "probe_audio_ua", "probe_text_ua",
            "retrieval", "retrieval_chance", "length_matcher_acc", "grad_cos_audio",
            "grad_cos_text")


@dataclass(frozen=True)
class SystemSummary:
    """One row of the table. ``wa``/``ua`` are (mean, std) over fold means (each fold's number is
    the mean over its seeds; std with ddof=1, NaN for one fold)."""

    system: str
    n_runs: int
    wa: tuple[float, float]
    ua: tuple[float, float]
    vs_baseline: dict[str, Comparison] | None = None  # metric -> comparison; None for the baseline
    vs_control: dict[str, Comparison] | None = None  # warm-started systems vs baseline-continued
    objective: str = ""  # e.g. "CE + 0.5 L (infonce)"
    measures: dict[str, float] | None = None  # mean over runs of MEASURES that were recorded
    n_folds: int = 0
    notes: tuple[str, ...] = ()  # said below the table (absent classes, weights chosen, ...)
    checks: ManipulationCheck | None = None  # a regularized system's manipulation checks


def _mean_measures(runs: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in runs if m in r])) for m in MEASURES
            if any(m in r for r in runs)}


def class_notes(runs: list[dict]) -> list[str]:
    """A note per fold and class absent from its test set or its training set (from the runs'
    ``absent_classes`` records), in fold order."""
    notes = {}
    for r in sorted(runs, key=lambda r: r["fold"]):
        absent = r.get("absent_classes") or {}
        n_classes = len(r.get("class_names", []))
        for name in absent.get("test", []):
            notes[f"fold {r['fold']}: no '{name}' in the test set; its UA is the mean recall "
                  f"over the {n_classes - len(absent['test'])} classes present"] = None
        for name in absent.get("train", []):
            notes[f"fold {r['fold']}: no '{name}' in the training set; the model never saw "
                  "that class"] = None
    return list(notes)


def _selection_notes(system: str, runs: list[dict]) -> list[str]:
    chosen = Counter(r["selected_system"] for r in runs if "selected_system" in r)
    if not chosen:
        return []
    picks = ", ".join(f"{name} in {n} run{'s' if n > 1 else ''}"
                      for name, n in sorted(chosen.items()))
    return [(f"{system}: per fold and seed, the weight with the best validation UA (at the kept "
             f"epoch) among {runs[0].get('n_candidates', '?')}; its test numbers are that run's. "
             f"Chose {picks}. Picking the best weight by its *test* numbers (the best of the "
             "rows above) is optimistic: that choice has seen the test folds.")]


def summarize(runs: list[dict], systems: list[str] | None = None, baseline: str = BASELINE,
              n_resamples: int = 10_000, seed: int = 0) -> list[SystemSummary]:
    """One :class:`SystemSummary` per system (in ``systems`` order, default: baseline first, then
    by name); systems other than the baseline are compared to it over folds when it is present,
    and warm-started ones also to ``baseline-continued``."""
    present = {r["system"] for r in runs}
    if systems is None:
        systems = sorted(present, key=lambda s: (s != baseline, s))
    shown = [s for s in systems if s in present]
    folds_notes = class_notes([r for r in runs if r["system"] in shown])
    rows = []
    for system in shown:
        mine = [r for r in runs if r["system"] == system]
        vs = vs_control = None
        if system != baseline and baseline in present:
            vs = {m: compare(runs, system, baseline, m, n_resamples, seed) for m in METRICS}
        if system != CONTROL and CONTROL in present and mine[0].get("warm_start"):
            vs_control = {m: compare(runs, system, CONTROL, m, n_resamples, seed)
                          for m in METRICS}
        rows.append(SystemSummary(system, len(mine), mean_std(fold_means(mine, "wa")),
                                  mean_std(fold_means(mine, "ua")), vs, vs_control,
                                  mine[0].get("objective", ""), _mean_measures(mine),
                                  len({r["fold"] for r in mine}),
                                  tuple(folds_notes + _selection_notes(system, mine)),
                                  check_system(runs, system, baseline)))
    return rows


# --- formatting ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.1f}"


def _p(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.3f}"


def _interval(c: Comparison) -> str:
    if math.isnan(c.ci_low):
        return _signed(c.mean_diff)
    return f"{_signed(c.mean_diff)} [{_signed(c.ci_low)}, {_signed(c.ci_high)}]"


def _comparison_cells(comparisons: dict[str, Comparison] | None, system: str,
                      notes: list[str]) -> list[str]:
    if comparisons is None:
        return ["", "", "", "", ""]
    cells = []
    for m in METRICS:
        c = comparisons[m]
        cells += [_interval(c), _p(c.p_value)]
        if c.note:
            notes.append(c.note if c.note == ONE_FOLD else f"{system} {m.upper()}: {c.note}")
    ua = comparisons["ua"]
    cells.append("" if math.isnan(ua.detectable)
                 else f"{_pct(ua.detectable)} ({_folds(ua.folds_needed)})")
    return cells


def _folds(n: float) -> str:
    return "n/a" if math.isnan(n) else ("> 10000" if math.isinf(n) else f"{n:.0f}")


def _table(rows: list[SystemSummary], attribute: str, notes: list[str]) -> list[str]:
    header = ("| system | objective | folds (runs) | WA % | UA % | dWA [95% CI] | p (WA) | "
              "dUA [95% CI] | p (UA) | detectable dUA (folds for 1.5) |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = [row.system, row.objective, f"{row.n_folds} ({row.n_runs})",
                 f"{_pct(row.wa[0])} +- {_pct(row.wa[1])}",
                 f"{_pct(row.ua[0])} +- {_pct(row.ua[1])}"]
        cells += _comparison_cells(getattr(row, attribute), row.system, notes)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _measures_table(rows: list[SystemSummary]) -> list[str]:
    shown = [r for r in rows if r.measures]
    if not shown:
        return []
    title = ("What each system's codes and pair loss did (mean over runs, at the kept epoch; "
             "probes and retrieval: see emokit.training.probes):")
    header = ("| system | pair accuracy (chance) | grad ratio pair/CE | probe UA audio % | "
              "probe UA text % | retrieval % (chance) |")
    lines = [title, "", header, "|---|---:|---:|---:|---:|---:|"]
    for row in shown:
        m = row.measures
        pct = {k: _pct(v) for k, v in m.items()}
        pair = f"{pct['disc_acc']} ({pct['disc_chance']})" if "disc_acc" in m else ""
        retrieval = f"{pct['retrieval']} ({pct['retrieval_chance']})" if "retrieval" in m else ""
        ratio = f"{m['grad_ratio']:.3g}" if "grad_ratio" in m else ""
        lines.append(f"| {row.system} | {pair} | {ratio} | {pct.get('probe_audio_ua', '')} | "
                     f"{pct.get('probe_text_ua', '')} | {retrieval} |")
    if any("grad_ratio" in r.measures and " CE + " in r.objective
           and not r.objective.startswith("CE") for r in shown):
        lines += ["", ("Under `objective: convex`, `(1 - alpha) CE + alpha L`, the grad ratio is "
                       "the pair term's pull on the encoders relative to `(1 - alpha) CE`'s, not "
                       "to CE's.")]
    if not any("probe_audio_ua" in r.measures or "probe_text_ua" in r.measures for r in shown):
        lines += ["", ("The grad ratio and probe UA columns are empty: these runs were trained "
                       "with `train.monitor: false` (the quick preset's setting, for speed); "
                       "`train: {monitor: true}` records them.")]
    return lines


def _cap(protocol: str) -> str:
    for name, folds in FOLDS_AVAILABLE.items():
        if protocol.startswith(name):
            return f"{name} on IEMOCAP has {folds} folds, which caps it"
    return "the protocol's number of folds caps it"


def to_markdown(rows: list[SystemSummary], protocol: str) -> str:
    """The table as Markdown (percent), with the protocol and what the statistics are stated
    above it and notes below; a second table compares warm-started systems with their fair
    control, a third says what the regularizer did, and a fourth gives the manipulation checks
    (:mod:`emokit.evaluation.manipulation`)."""
    notes: list[str] = []
    warm = [r for r in rows if r.vs_control]
    start = ("same initial weights; warm-started rows start from the trained baseline instead"
             if warm else "same initial weights")
    lines = [
        (f"Protocol: {protocol}. The fold is the unit: each system's runs are averaged over "
         "seeds within a fold, and WA and UA are mean +- std over those fold means (std over "
         "folds, ddof=1); UA is the mean recall over the classes present in a fold's test set. "
         f"Differences are paired with the baseline fold by fold (same folds and seeds; {start}): "
         "their mean over folds, its 95% t-interval and the paired t-test p over folds. "
         f"Detectable: the smallest true dUA that this t-test would find {POWER:.0%} of the time "
         "(two-sided 5%; a central-t approximation), and how many folds a 1.5-point difference "
         f"needs ({_cap(protocol)}). More seeds shrink the noise within a fold; they add no "
         "folds."),
        "",
        *_table(rows, "vs_baseline", notes),
    ]
    if warm:
        intro = (f"Warm-started systems against `{CONTROL}`: the fair comparison. Both start "
                 "from the same trained baseline and train under the same budget and stopping "
                 "rule; only the pair loss differs. (Against `baseline`, extra training alone "
                 "looks like a gain.)")
        lines += ["", intro, "", *_table(warm, "vs_control", notes)]
    for table in (_measures_table(rows), checks_markdown(rows)):
        if table:
            lines += ["", *table]
    for row in rows:
        notes += list(row.notes)
    if notes:
        lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


_CSV_FIELDS = (("mean", "mean_diff"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
               ("p", "p_value"), ("pairs", "n_pairs"), ("detectable", "detectable"),
               ("folds_needed", "folds_needed"), ("note", "note"),
               ("bootstrap_ci_low", "bootstrap_low"), ("bootstrap_ci_high", "bootstrap_high"),
               ("wilcoxon_p", "wilcoxon_p"))


def to_csv(rows: list[SystemSummary]) -> str:
    """The table as CSV (fractions, not percent), one row per system. ``*_pairs`` count folds;
    ``*_ci_low/high`` and ``*_p`` are the paired t-test over fold means; ``*_bootstrap_ci_*``
    (percentile bootstrap) and ``*_wilcoxon_p`` are extras over the same fold differences;
    ``wa_std``/``ua_std`` are over fold means."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["system", "objective", "n_runs", "n_folds", "wa_mean", "wa_std", "ua_mean",
              "ua_std"]
    for prefix in ("", "control_"):
        for m in METRICS:
            header += [f"{prefix}d{m}_{name}" for name, _ in _CSV_FIELDS]
    header += [*MEASURES, *CSV_COLUMNS]
    writer.writerow(header)
    for row in rows:
        cells = [row.system, row.objective, row.n_runs, row.n_folds, *row.wa, *row.ua]
        for comparisons in (row.vs_baseline, row.vs_control):
            for m in METRICS:
                c = comparisons[m] if comparisons else None
                cells += ([_blank_nan(getattr(c, attr)) for _, attr in _CSV_FIELDS] if c
                          else [""] * len(_CSV_FIELDS))
        cells += [(row.measures or {}).get(m, "") for m in MEASURES]
        cells += csv_cells(row.checks)
        writer.writerow(cells)
    return out.getvalue()


def ua_side_by_side(columns: dict[str, list[SystemSummary]]) -> str:
    """A Markdown table of each system's UA (points, mean over folds) in each ``{heading:
    rows}`` column, systems in the first column's order; "n/a" where a column lacks one."""
    tables = {heading: {r.system: r for r in rows} for heading, rows in columns.items()}
    lines = ["| system | " + " | ".join(f"UA, {h} (points)" for h in tables) + " |",
             "|---|" + "---:|" * len(tables)]
    for system in next(iter(tables.values())):
        cells = [f"{100 * t[system].ua[0]:.1f}" if system in t else "n/a"
                 for t in tables.values()]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _blank_nan(value):
    return "" if isinstance(value, float) and math.isnan(value) else value


def to_json(rows: list[SystemSummary]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)


def write_report(rows: list[SystemSummary], experiment_dir: str | Path, protocol: str,
                 runs: list[dict] | None = None, baseline: str = BASELINE) -> str:
    """Write ``report.md``, ``report.csv`` and ``summary.json`` into ``experiment_dir`` and, with
    the ``runs`` summarized, the per-run verdicts ``manipulation_checks.csv`` (when a run has a
    pair loss); returns the Markdown."""
    experiment_dir = Path(experiment_dir)
    markdown = to_markdown(rows, protocol)
    write_atomic(experiment_dir / "report.md", markdown)
    write_atomic(experiment_dir / "report.csv", to_csv(rows))
    write_atomic(experiment_dir / "summary.json", to_json(rows))
    if runs and any("disc_acc" in r for r in runs):
        write_atomic(experiment_dir / "manipulation_checks.csv", runs_csv(runs, baseline))
    return markdown
