"""Does the fused model reach its best single modality? Audio, text and fused, with one modality
made to dominate each way, on the built-in corpus.

    python benchmarks/fusion_vs_modalities.py [--preset quick] [--set SETTING=VALUE ...]
                                              [--remedy SETTING=VALUE ...] [--json out.json]

For each corpus setting (``corpus.text_disagreement``, ``corpus.audio_ambiguity``):

- ``default``: the kit's defaults (0.2, 0.3);
- ``text-dominant``: clean text, ambiguous voices (0, 0.6);
- ``audio-dominant``: clear voices, misleading text (0.6, 0).

runs ``emokit.experiment.runner.run_experiment`` with the systems ``audio``, ``text`` and ``baseline``
(the preset's other settings, every fold and seed; the generator writes each setting's corpus to a
folder of its own) and prints: setting, audio UA, text UA, fused UA, and "fused minus best
modality" (the modality with the higher mean UA at that setting), paired by fold and seed, with a
95% bootstrap CI and the Wilcoxon p. The fused model "does not lose" when that CI reaches 0 or
above. ``--remedy SETTING=VALUE ...`` adds a row per setting: the ``baseline`` trained with those
model settings changed, e.g. ``--remedy model.aux_heads_weight=1.0`` (unimodal auxiliary heads)
or ``--remedy model.modality_dropout=0.3``.

Its earlier numbers were measured with a corpus generator from before scripted lines recurred in
every session and are withdrawn (issue 25); run it again for today's corpus.

Results go under ``<results>/fusion_vs_modalities-<preset>[-<hash of --set>]/`` (a rerun reuses
finished runs) and to a JSON file. A benchmark, not a test: it trains 15 runs per setting (plus 5 per
remedy).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from converged_baseline import apply_overrides  # a sibling script: benchmarks/ is on sys.path

from emokit.config.presets import get_preset
from emokit.evaluation.fold_statistics import bootstrap_ci, paired_differences, wilcoxon_test
from emokit.evaluation.runstore import load_runs
from emokit.experiment.runner import experiment_dir, run_experiment

SETTINGS = {  # name -> (text_disagreement, audio_ambiguity)
    "default": (None, None),
    "text-dominant": (0.0, 0.6),
    "audio-dominant": (0.6, 0.0),
}
MODALITIES = ("audio", "text")


def setting_config(config, name: str, knobs: tuple, overrides: list[str] = ()):
    """The experiment of one corpus setting (``None`` knobs keep the config's values), under
    ``<results>/<config.name>/<setting>/``."""
    text_disagreement, audio_ambiguity = knobs
    corpus = dataclasses.replace(
        config.corpus,
        text_disagreement=(config.corpus.text_disagreement if text_disagreement is None
                           else text_disagreement),
        audio_ambiguity=(config.corpus.audio_ambiguity if audio_ambiguity is None
                         else audio_ambiguity))
    cfg = dataclasses.replace(config, corpus=corpus, systems=["audio", "text", "baseline"],
                              name=f"{config.name}/{name}")
    if overrides:
        cfg = apply_overrides(cfg, list(overrides))
        cfg.systems = ["baseline"]
        cfg.name += "/" + ",".join(o.replace("/", "_") for o in overrides)
    return cfg


def mean_ua(runs: list[dict], system: str) -> float:
    return float(np.mean([r["ua"] for r in runs if r["system"] == system]))


def fused_vs_best(runs: list[dict], fused: str = "baseline") -> dict:
    """Mean UA of each modality and of ``fused``; ``fused`` minus the better modality, paired."""
    uas = {s: mean_ua(runs, s) for s in (*MODALITIES, fused)}
    best = max(MODALITIES, key=uas.get)
    diffs = paired_differences(runs, fused, best, "ua")
    low, high = bootstrap_ci(diffs)
    test = wilcoxon_test(diffs)
    return {"audio_ua": uas["audio"], "text_ua": uas["text"], "fused_ua": uas[fused],
            "best": best, "diff": float(diffs.mean()), "ci_low": low, "ci_high": high,
            "p_value": test.p_value, "n_pairs": len(diffs),
            "not_worse": bool(high >= 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--set", nargs="*", default=[], metavar="SETTING=VALUE",
                        help="override preset settings for every run")
    parser.add_argument("--remedy", nargs="*", default=[], metavar="SETTING=VALUE",
                        help="also train the baseline with these settings changed (one row)")
    parser.add_argument("--only", nargs="*", choices=sorted(SETTINGS), help="corpus settings")
    parser.add_argument("--json", help="where to write the table (default: next to the runs)")
    args = parser.parse_args()

    config = apply_overrides(get_preset(args.preset), args.set)
    # one results folder per preset and --set, so reruns reuse finished runs and never mix
    config.name = f"fusion_vs_modalities-{config.name}" + (
        "-" + hashlib.sha1(" ".join(args.set).encode()).hexdigest()[:8] if args.set else "")
    rows = []
    for name in args.only or SETTINGS:
        cfg = setting_config(config, name, SETTINGS[name])
        run_experiment(cfg, verbose=False)
        runs = load_runs(experiment_dir(cfg))
        rows.append({"setting": name, "fused": "baseline", "text_disagreement":
                     cfg.corpus.text_disagreement, "audio_ambiguity": cfg.corpus.audio_ambiguity,
                     **fused_vs_best(runs)})
        print(_row(rows[-1]), flush=True)
        if args.remedy:
            remedy_cfg = setting_config(config, name, SETTINGS[name], args.remedy)
            run_experiment(remedy_cfg, verbose=False)
            remedy = [{**r, "system": "remedy"} for r in load_runs(experiment_dir(remedy_cfg))]
            modal = [r for r in runs if r["system"] in MODALITIES]
            rows.append({"setting": name, "fused": "baseline " + " ".join(args.remedy),
                         "text_disagreement": cfg.corpus.text_disagreement,
                         "audio_ambiguity": cfg.corpus.audio_ambiguity,
                         **fused_vs_best(modal + remedy, fused="remedy")})
            print(_row(rows[-1]), flush=True)
    print()
    print(to_markdown(rows, args.preset, config, args.set))
    out = Path(args.json) if args.json else experiment_dir(config) / "table.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"preset": args.preset, "overrides": args.set, "rows": rows},
                              indent=1))
    print(f"written: {out}")


def _row(row: dict) -> str:
    return (f"{row['setting']:<15} {row['fused']:<32} audio UA {100 * row['audio_ua']:.1f}  "
            f"text UA {100 * row['text_ua']:.1f}  fused UA {100 * row['fused_ua']:.1f}  "
            f"fused - {row['best']} {100 * row['diff']:+.1f} "
            f"[{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}]")


def to_markdown(rows: list[dict], preset: str, config, overrides: list[str]) -> str:
    seeds = len(config.seeds)
    lines = [(f"Preset {preset}{' with ' + ' '.join(overrides) if overrides else ''}: "
             f"{config.corpus.synthetic_size} corpus, every fold x {seeds} seed(s); UA %, "
             "difference paired by fold and seed, 95% bootstrap CI."), "",
             ("| setting (text_disagreement, audio_ambiguity) | fused model | audio UA | text UA "
             "| fused UA | fused - best modality [95% CI] | p |"),
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['setting']} ({r['text_disagreement']:g}, {r['audio_ambiguity']:g}) | "
            f"{r['fused']} | {100 * r['audio_ua']:.1f} | {100 * r['text_ua']:.1f} | "
            f"{100 * r['fused_ua']:.1f} | {100 * r['diff']:+.1f} [{100 * r['ci_low']:+.1f}, "
            f"{100 * r['ci_high']:+.1f}] (vs {r['best']}) | {r['p_value']:.3g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
