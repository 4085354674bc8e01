"""A pre-registered study's verdicts: one effect per independent corpus, Holm, equivalence.

The unit of replication is an independently generated corpus: each corpus gives one effect, the
mean over its folds of ``system - control`` (``benchmarks/regimes.py``). Per regime,
:func:`regime_verdict` turns the corpora's effects ``(n,)`` into a mean, a 95% t-interval, a
two-sided p-value, a TOST equivalence interval and the difference the study could detect;
:func:`holm` adjusts the p-values over the primary hypotheses; :func:`verdict` names the result:

- "helps" / "hurts": Holm-adjusted p below alpha, by the sign of the mean;
- "does not help": the 90% interval lies inside +- the equivalence margin (TOST at alpha 0.05);
- "inconclusive": neither; the table says what difference the study could have detected.

>>> holm([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]

The kit's own study (``benchmarks/regimes.py``, pre-registered in
``benchmarks/preregistration.yaml``) ships its result as ``premise_study.json`` beside this
module: :func:`published_study_markdown` shows it (notebook 06 ends with it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emokit.evaluation.fold_statistics import detectable_difference


@dataclass
class RegimeResult:
    """One regime's primary contrast over ``n`` corpora (UA points)."""

    regime: str
    prediction: str
    effects: list[float]  # one per corpus that finished (points)
    failed: int  # corpora whose runs failed: counted, their effect missing
    mean: float
    ci95: tuple[float, float]
    ci90: tuple[float, float]  # TOST: inside +- margin means equivalent
    p: float
    p_holm: float = math.nan
    detectable: float = math.nan  # 80% power, two-sided alpha
    verdict: str = ""


def t_interval(values, confidence: float) -> tuple[float, float]:
    """The t-interval of the mean of ``values (n,)``; NaNs for fewer than 2 values."""
    from scipy.stats import t

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    half = t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(
        len(values))
    return float(values.mean() - half), float(values.mean() + half)


def one_sample_p(values) -> float:
    """Two-sided p of a one-sample t-test of mean 0 (NaN for n < 2; with no spread, 1.0 when
    every value is 0 and 0.0 otherwise)."""
    from scipy.stats import ttest_1samp

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan
    if np.ptp(values) == 0:  # no spread: the t statistic is infinite, or 0/0 at 0
        return 0.0 if values[0] != 0 else 1.0
    return float(ttest_1samp(values, 0.0).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (NaN stays NaN and does not count)."""
    order = sorted((p, k) for k, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(order)
    for rank, (p, k) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[k] = round(running, 12)
    return adjusted


def verdict(result: RegimeResult, alpha: float, margin: float) -> str:
    """"helps", "hurts", "does not help" (equivalent within +- margin) or "inconclusive"."""
    if result.p_holm < alpha:
        return "helps" if result.mean > 0 else "hurts"
    low, high = result.ci90
    if -margin < low and high < margin:
        return "does not help"
    return "inconclusive"


def regime_verdicts(effects: dict[str, list[float]], predictions: dict[str, str],
                    failed: dict[str, int], alpha: float = 0.05,
                    margin: float = 1.5) -> list[RegimeResult]:
    """Every regime's :class:`RegimeResult`, Holm-adjusted over the regimes given."""
    results = []
    for regime, values in effects.items():
        values = [float(v) for v in values]
        results.append(RegimeResult(
            regime=regime, prediction=predictions.get(regime, ""), effects=values,
            failed=failed.get(regime, 0), mean=float(np.mean(values)) if values else math.nan,
            ci95=t_interval(values, 0.95), ci90=t_interval(values, 0.90), p=one_sample_p(values),
            detectable=detectable_difference(values, alpha=alpha)))
    for result, adjusted in zip(results, holm([r.p for r in results]), strict=True):
        result.p_holm = adjusted
        result.verdict = verdict(result, alpha, margin)
    return results


def _or_na(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else format(value, spec)


def study_table(results: list[RegimeResult], margin: float) -> str:
    """The study's Markdown table: one row per regime."""
    lines = ["| regime | predicted | corpora | effect (UA points) [95% CI] | p (Holm) | "
             "detectable | verdict |", "|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        corpora = f"{len(r.effects)}" + (f" (+{r.failed} failed)" if r.failed else "")
        interval = ("" if math.isnan(r.ci95[0])
                    else f" [{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}]")
        lines.append(f"| {r.regime} | {r.prediction} | {corpora} | "
                     f"{_or_na(r.mean, '+.2f')}{interval} | {_or_na(r.p_holm, '.3g')} | "
                     f"{_or_na(r.detectable, '.1f')} | {r.verdict} |")
    lines.append("")
    lines.append(f"Effect: contrastive-infonce-selected minus baseline, per corpus the mean over "
                 f"its 5 folds; t-interval over corpora. 'does not help' needs the 90% interval "
                 f"inside +-{margin:g} (TOST); 'detectable': the difference 80% power would find.")
    return "\n".join(lines) + "\n"


PUBLISHED = Path(__file__).with_name("premise_study.json")


def effects_by_regime(regimes, corpora: list[dict]) -> tuple[dict, dict]:
    """``({regime: [effect per finished corpus]}, {regime: failed corpora})`` of the study's
    corpus records (``regime``, ``effect``: None for a failed corpus)."""
    effects = {r: [] for r in regimes}
    failed = {r: 0 for r in regimes}
    for c in corpora:
        if c.get("effect") is None:
            failed[c["regime"]] += 1
        else:
            effects[c["regime"]].append(c["effect"])
    return effects, failed


def _mean_cell(records: list[dict], key: str, scale: float) -> str:
    values = [r[key] for r in records if r.get(key) is not None]
    return f"{scale * float(np.mean(values)):.1f}" if values else "n/a"


def study_markdown(plan: dict, corpora: list[dict]) -> str:
    """The verdict table of a pre-registered ``plan`` (``benchmarks/preregistration.yaml``, read)
    over its ``corpora`` records, then the manipulation checks per regime (means over corpora)."""
    effects, failed = effects_by_regime(plan["regimes"], corpora)
    predictions = {r: spec["prediction"] for r, spec in plan["regimes"].items()}
    primary = plan["primary"]
    results = regime_verdicts(effects, predictions, failed, primary["alpha"],
                              primary["equivalence_margin"])
    retrieval = any(c.get("retrieval_gain") is not None for c in corpora)
    lines = [study_table(results, primary["equivalence_margin"]), "",
             "| regime | pair accuracy % | length matcher % | chance % | baseline UA % |"
             + (" retrieval gain (points) [95% CI] |" if retrieval else ""),
             "|---|---:|---:|---:|---:|" + ("---:|" if retrieval else "")]
    for regime in plan["regimes"]:
        mine = [c for c in corpora if c["regime"] == regime and c.get("effect") is not None]
        gains = [c["retrieval_gain"] for c in mine if c.get("retrieval_gain") is not None]
        low, high = t_interval(gains, 0.95)
        interval = "" if math.isnan(low) else f" [{low:+.1f}, {high:+.1f}]"
        extra = f" {np.mean(gains):+.1f}{interval} |" if gains else " n/a |"
        lines.append(f"| {regime} | {_mean_cell(mine, 'disc_acc', 100)} | "
                     f"{_mean_cell(mine, 'length_matcher_acc', 100)} | "
                     f"{_mean_cell(mine, 'disc_chance', 100)} | "
                     f"{_mean_cell(mine, 'baseline_mean', 1)} |" + (extra if retrieval else ""))
    lines.append("")
    lines.append("Pair accuracy: the regularized runs' (both weights), at the kept epoch, beside a "
                 "matcher that reads only lengths on the same batches."
                 + (" Retrieval gain (an exploratory check, added after the runs): cross-modal "
                    "retrieval of emotion through the same post-hoc map, regularized runs minus "
                    "their paired baseline, per corpus, t-interval over corpora: did the pair loss "
                    "align the two codes by emotion?" if retrieval else "")
                 + " Regimes: "
                 + "; ".join(f"{r}: {spec['what']}" for r, spec in plan["regimes"].items()) + ".")
    return "\n".join(lines) + "\n"


def published_study_markdown(path: str | Path = PUBLISHED) -> str:
    """The kit's pre-registered study as Markdown: which commit pre-registered it, N and why,
    the verdict table and the manipulation checks."""
    study = json.loads(Path(path).read_text())
    header = (f"Pre-registered in commit `{study['preregistration_commit']}` "
              f"(`benchmarks/preregistration.yaml`); N = {study['n_corpora']} corpora per regime "
              f"({study['n_reason']}). {study['machine']}, {study['date']}.\n\n")
    return header + study_markdown(study["plan"], study["corpora"])
