"""Manipulation checks: did the pair loss do more than lengths alone would, and what did it do to
the audio code? One table per report, one row per regularized system, and one verdict per run.

- pair accuracy (``disc_acc``, kept epoch, mean over its training batches) beside the accuracy of a
  matcher that reads only lengths on the same batches (``length_matcher_acc``,
  :mod:`emokit.training.length_matcher`) and chance (``disc_chance``). A run is **solved by
  length** when its pair accuracy is at most the length matcher's plus ``SOLVED_MARGIN`` (1
  point): its encoders need not carry more than duration and word count to do what they did;
- the audio code's linear-probe UA (``probe_audio_ua``) beside the paired baseline's (same fold
  and seed), and their difference over folds (seeds averaged within a fold, a t-interval over
  folds, :func:`emokit.evaluation.fold_statistics.compare`);
- the gradient cosines of the pair term and CE on each encoder (``grad_cos_audio``,
  ``grad_cos_text``, kept epoch).

A measure a run did not record (older results folders) shows as ``n/a``.

>>> run_verdict({"disc_acc": 0.121, "length_matcher_acc": 0.114})
'solved by length'
>>> run_verdict({"disc_acc": 0.30, "length_matcher_acc": 0.114})
'beyond length'
>>> run_verdict({"disc_acc": 0.30})
'n/a'
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from emokit.evaluation.fold_statistics import Comparison, compare

SOLVED_MARGIN = 0.01  # solved by length: disc_acc <= length_matcher_acc + this
RUN_FIELDS = ("system", "fold", "seed", "disc_acc", "length_matcher_acc", "disc_chance",
              "verdict", "probe_audio_ua", "baseline_probe_audio_ua", "grad_cos_audio",
              "grad_cos_text")
SOLVED, BEYOND, UNKNOWN = "solved by length", "beyond length", "n/a"


@dataclass(frozen=True)
class ManipulationCheck:
    """One regularized system's checks: means over its runs that recorded each measure (NaN:
    none did); ``probe_audio``/``probe_audio_baseline`` over the (fold, seed) pairs both have,
    ``probe_difference`` the paired comparison over folds (None: no pair)."""

    pair_acc: float
    length_acc: float
    chance: float
    solved_runs: int  # runs solved by length
    checked_runs: int  # runs with both pair accuracies
    probe_audio: float
    probe_audio_baseline: float
    probe_difference: Comparison | None
    grad_cos_audio: float
    grad_cos_text: float


def run_verdict(run: dict) -> str:
    """``"solved by length"`` when ``disc_acc <= length_matcher_acc + SOLVED_MARGIN``,
    ``"beyond length"`` when above, ``"n/a"`` when the run lacks either."""
    if "disc_acc" not in run or "length_matcher_acc" not in run:
        return UNKNOWN
    return SOLVED if run["disc_acc"] <= run["length_matcher_acc"] + SOLVED_MARGIN else BEYOND


def _mean(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if r.get(key) is not None]
    return float(np.mean(values)) if values else math.nan


def _paired(runs: list[dict], system: str, baseline: str, key: str) -> list[dict]:
    """The runs of ``system`` and ``baseline`` with ``key``, on the (fold, seed) both have it."""
    have = {s: {(r["fold"], r["seed"]) for r in runs if r["system"] == s
                and r.get(key) is not None} for s in (system, baseline)}
    both = have[system] & have[baseline]
    return [r for r in runs if r["system"] in (system, baseline)
            and (r["fold"], r["seed"]) in both]


def check_system(runs: list[dict], system: str, baseline: str) -> ManipulationCheck | None:
    """The checks of ``system`` (None when none of its runs has a pair accuracy: no pair loss)."""
    mine = [r for r in runs if r["system"] == system]
    if not any("disc_acc" in r for r in mine):
        return None
    verdicts = [run_verdict(r) for r in mine]
    paired = _paired(runs, system, baseline, "probe_audio_ua") if system != baseline else []
    difference = (compare(paired, system, baseline, "probe_audio_ua", n_resamples=1000)
                  if paired else None)
    return ManipulationCheck(
        _mean(mine, "disc_acc"), _mean(mine, "length_matcher_acc"), _mean(mine, "disc_chance"),
        verdicts.count(SOLVED), len(verdicts) - verdicts.count(UNKNOWN),
        _mean([r for r in paired if r["system"] == system], "probe_audio_ua"),
        _mean([r for r in paired if r["system"] == baseline], "probe_audio_ua"),
        difference, _mean(mine, "grad_cos_audio"), _mean(mine, "grad_cos_text"))


# --- formatting ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _cos(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.2f}"


def _difference(c: Comparison | None) -> str:
    if c is None or math.isnan(c.mean_diff):
        return "n/a"
    if math.isnan(c.ci_low):
        return f"{100 * c.mean_diff:+.1f}"
    return f"{100 * c.mean_diff:+.1f} [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"


def checks_markdown(rows) -> list[str]:
    """The report's manipulation-check table (Markdown lines) for the rows
    (``SystemSummary``) with a :class:`ManipulationCheck`; ``[]`` when there is none."""
    shown = [r for r in rows if getattr(r, "checks", None) is not None]
    if not shown:
        return []
    lines = [
        ("Manipulation checks (mean over runs, kept epoch). Pair accuracy: how often an audio "
         "code picks its own utterance's text among the batch's (training batches), beside a "
         "matcher that reads only lengths (word count predicted from the number of frames, the "
         "batch's closest word count, ties shared) on the same batches, and chance. A run is "
         f"*solved by length* when its pair accuracy is at most the length matcher's + "
         f"{100 * SOLVED_MARGIN:.0f} point. Probe UA audio: a linear probe on the audio code "
         "(validation), beside the paired baseline's (same folds and seeds); d: the paired "
         "difference over folds [95% t-interval]. Grad cos: cosine of the pair term's and CE's "
         "gradients on each encoder. Per-run verdicts: manipulation_checks.csv."),
        "",
        ("| system | pair acc % | length matcher % | chance % | solved by length (runs) | "
         "probe UA audio % | baseline's % | d probe audio [95% CI] | grad cos audio | "
         "grad cos text |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in shown:
        c = row.checks
        solved = f"{c.solved_runs} of {c.checked_runs}" if c.checked_runs else "n/a"
        lines.append(f"| {row.system} | {_pct(c.pair_acc)} | {_pct(c.length_acc)} | "
                     f"{_pct(c.chance)} | {solved} | {_pct(c.probe_audio)} | "
                     f"{_pct(c.probe_audio_baseline)} | {_difference(c.probe_difference)} | "
                     f"{_cos(c.grad_cos_audio)} | {_cos(c.grad_cos_text)} |")
    return lines


CSV_COLUMNS = ("solved_by_length_runs", "length_checked_runs", "probe_audio_ua_paired",
               "probe_audio_ua_baseline", "dprobe_audio_ua_mean", "dprobe_audio_ua_ci_low",
               "dprobe_audio_ua_ci_high")


def csv_cells(check: ManipulationCheck | None) -> list:
    """The report.csv cells of ``CSV_COLUMNS`` for one system (blank without checks or value)."""
    if check is None:
        return [""] * len(CSV_COLUMNS)
    d = check.probe_difference
    values = [check.solved_runs, check.checked_runs, check.probe_audio,
              check.probe_audio_baseline, *((d.mean_diff, d.ci_low, d.ci_high) if d
                                            else (math.nan,) * 3)]
    return ["" if isinstance(v, float) and math.isnan(v) else v for v in values]


def runs_csv(runs: list[dict], baseline: str) -> str:
    """One row per regularized run (``RUN_FIELDS``): its pair accuracies, verdict, probe UA beside
    its paired baseline's, gradient cosines; blank where not recorded."""
    base = {(r["fold"], r["seed"]): r.get("probe_audio_ua") for r in runs
            if r["system"] == baseline}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RUN_FIELDS)
    for r in sorted((r for r in runs if "disc_acc" in r),
                    key=lambda r: (r["system"], r["fold"], r["seed"])):
        row = {**r, "verdict": run_verdict(r),
               "baseline_probe_audio_ua": base.get((r["fold"], r["seed"]))}
        writer.writerow(["" if row.get(k) is None else row[k] for k in RUN_FIELDS])
    return out.getvalue()
