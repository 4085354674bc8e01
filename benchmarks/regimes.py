"""The pre-registered study: does the contrastive regularizer help where theory says it should?

    python benchmarks/regimes.py pilot     [--jobs 2]   # pilot corpora -> N (never reused)
    python benchmarks/regimes.py confirm   [--jobs 2]   # corpora 0..N-1 of every regime
    python benchmarks/regimes.py table                  # the verdicts from what has finished
    python benchmarks/regimes.py explore [--jobs 2]     # exploratory.yaml: labelled exploratory

Everything it does is fixed by one committed file, ``benchmarks/preregistration.yaml``: the
regimes and their predicted signs, the model (the ``quick`` preset), the systems and weight grid,
the primary contrast (``contrastive-infonce-selected`` minus ``baseline``, UA; R2: UA on the
improvised test turns), the replication unit (an independently generated corpus, its effect the
mean over its 5 folds), Holm over the primaries and TOST for "does not help"
(:mod:`emokit.evaluation.study`). ``pilot`` measures the spread of corpus effects and the minutes
per corpus and prints the N of the file's rule; ``confirm`` refuses to run until the file holds N.

Each corpus is one experiment under ``<results>/regimes/<phase>/<regime>/corpus<seed>/``
(resumable: a killed study goes on where it stopped). Every corpus's numbers go to
``benchmarks/measured/regimes_<phase>.json`` as soon as it finishes; a corpus whose runs fail
counts as run (its error is recorded, its effect missing). Timings: a shared 2-core machine unless
the file says otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
PREREGISTRATION = HERE / "preregistration.yaml"
EXPLORATORY = HERE / "exploratory.yaml"  # questions asked after seeing data: never confirmatory


def load_plan(path: Path = PREREGISTRATION) -> dict:
    return yaml.safe_load(path.read_text())


def regime_config(plan: dict, regime: str, corpus_seed: int, phase: str, jobs: int):
    """The experiment config of one (regime, corpus): the preset, the regime's settings, the
    study's systems and weight grid."""
    from emokit.config.presets import get_preset

    config = get_preset(plan["model"])
    spec = plan["regimes"][regime]
    for part in ("corpus", "train", "model"):
        for key, value in (spec.get(part) or {}).items():
            setattr(getattr(config, part), key, value)
    config.corpus.synthetic_seed = corpus_seed
    config.systems = list(plan["systems"])
    config.contrastive_weights = [float(w) for w in plan["contrastive_weights"]]
    config.name = f"regimes/{phase}/{regime}/corpus{corpus_seed}"
    config.jobs = jobs
    return config


def improvised_ua(experiment, runs: list[dict]) -> None:
    """Add ``impro_ua`` (UA on the run's improvised test turns) to each run record."""
    from emokit.evaluation.modes import read_folds, read_predictions, ua_by_mode
    from emokit.evaluation.runstore import run_path

    scripted = {f["fold"]: f.get("scripted_test_ids", []) for f in read_folds(experiment)}
    for r in runs:
        rows = read_predictions(run_path(experiment, r["system"], r["fold"], r["seed"]))
        r["impro_ua"] = ua_by_mode(rows, scripted.get(r["fold"], []))["impro"]


def corpus_effect(plan: dict, regime: str, config) -> dict:
    """Run one corpus's experiment (resumable) -> its record: per-fold differences, the mean,
    the manipulation checks, minutes."""
    from emokit.evaluation.fold_statistics import fold_differences
    from emokit.evaluation.runstore import experiment_dir, load_runs
    from emokit.experiment import run_experiment

    began = time.perf_counter()
    run_experiment(config, verbose=False)
    experiment = experiment_dir(config)
    runs = load_runs(experiment)
    metric = plan["regimes"][regime]["metric"]
    if metric == "improvised_ua":
        improvised_ua(experiment, runs)
    key = "impro_ua" if metric == "improvised_ua" else "ua"
    usable = [r for r in runs if r.get(key) is not None]
    system, control = plan["primary"]["system"], plan["primary"]["control"]
    folds, diffs = fold_differences(usable, system, control, key)
    regularized = [r for r in runs if r["system"].startswith("contrastive-infonce-")
                   and not r["system"].endswith("selected")]

    def mean_of(name):
        values = [r[name] for r in regularized if r.get(name) is not None]
        return float(np.mean(values)) if values else None

    return {"regime": regime, "corpus_seed": config.corpus.synthetic_seed, "folds": folds,
            "fold_differences": [round(100 * d, 3) for d in diffs],
            "effect": round(100 * float(np.mean(diffs)), 3) if len(diffs) else None,
            "baseline_mean": round(100 * float(np.mean(
                [r[key] for r in usable if r["system"] == control])), 2),
            "selected_weights": [r.get("selected_weight") for r in runs
                                 if r["system"] == system],
            "disc_acc": mean_of("disc_acc"), "disc_chance": mean_of("disc_chance"),
            "length_matcher_acc": mean_of("length_matcher_acc"),
            "heldout_pair_acc": mean_of("heldout_pair_acc"),
            "heldout_pair_chance": mean_of("heldout_pair_chance"),
            "retrieval_gain": retrieval_gain(runs),
            "minutes": round((time.perf_counter() - began) / 60, 2)}


def retrieval_gain(runs: list[dict]) -> float | None:
    """Cross-modal retrieval of emotion (the same post-hoc map for every system), regularized
    runs minus their paired baseline, mean over pairs: did the pair loss align the codes by
    emotion?"""
    base = {(r["fold"], r["seed"]): r.get("retrieval") for r in runs if r["system"] == "baseline"}
    diffs = [r["retrieval"] - base[r["fold"], r["seed"]] for r in runs
             if r["system"].startswith("contrastive-infonce-") and "selected" not in r["system"]
             and r.get("retrieval") is not None and base.get((r["fold"], r["seed"])) is not None]
    return round(100 * float(np.mean(diffs)), 2) if diffs else None


def annotate_retrieval(path: Path, phase: str) -> None:
    """Add each finished corpus's ``retrieval_gain`` (:func:`retrieval_gain`, from its runs in
    the results folder) to a saved phase file, and to the published study for ``confirm``: an
    exploratory check chosen after the runs, computed from what they recorded."""
    from emokit.core.paths import results_dir
    from emokit.evaluation.runstore import load_runs
    from emokit.evaluation.study import PUBLISHED

    saved = json.loads(path.read_text())
    for corpus in saved["corpora"]:
        folder = results_dir() / "regimes" / phase / corpus["regime"] / \
            f"corpus{corpus['corpus_seed']}"
        if corpus.get("effect") is not None and folder.exists():
            corpus["retrieval_gain"] = retrieval_gain(load_runs(folder))
    path.write_text(json.dumps(saved, indent=1))
    if phase == "confirm" and PUBLISHED.exists():
        published = json.loads(PUBLISHED.read_text())
        published["corpora"] = saved["corpora"]
        PUBLISHED.write_text(json.dumps(published, indent=1, default=str) + "\n")


def run_phase(plan: dict, phase: str, seeds: list[int], jobs: int, out: Path) -> list[dict]:
    """Every regime on every corpus seed; the records so far saved after each corpus."""
    done = json.loads(out.read_text())["corpora"] if out.exists() else []
    finished = {(d["regime"], d["corpus_seed"]) for d in done}
    for seed in seeds:
        for regime in plan["regimes"]:
            if (regime, seed) in finished:
                continue
            config = regime_config(plan, regime, seed, phase, jobs)
            try:
                record = corpus_effect(plan, regime, config)
            except Exception as e:  # a failed corpus counts as run
                record = {"regime": regime, "corpus_seed": seed, "effect": None,
                          "error": f"{type(e).__name__}: {e}",
                          "traceback": traceback.format_exc(limit=3)}
            done.append(record)
            print(json.dumps({k: record.get(k) for k in ("regime", "corpus_seed", "effect",
                                                          "disc_acc", "length_matcher_acc",
                                                          "minutes", "error")}), flush=True)
            save(out, phase, done)
    return done


def save(out: Path, phase: str, corpora: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"phase": phase, "machine": f"{platform.machine()}, "
                               f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
                               "corpora": corpora}, indent=1))


def choose_n(plan: dict, corpora: list[dict]) -> dict:
    """The file's rule: N from the pilot's pooled SD of corpus effects and minutes per corpus."""
    from emokit.evaluation.fold_statistics import folds_needed

    rule = plan["replication"]
    from emokit.evaluation.study import effects_by_regime

    effects, _ = effects_by_regime(plan["regimes"], corpora)
    groups = [np.asarray(v) for v in effects.values() if len(v) >= 2]
    dof = sum(len(g) - 1 for g in groups)
    pooled = math.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof) if dof else math.nan
    alpha = plan["primary"]["alpha"] / len(plan["regimes"])
    needed = folds_needed(pooled, rule["target_detectable_difference"], alpha=alpha)
    minutes = [c["minutes"] for c in corpora if c.get("minutes")]
    per_corpus = float(np.mean(minutes)) if minutes else math.nan
    affordable = int(rule["budget_minutes"] // (per_corpus * len(plan["regimes"])))
    return {"pooled_sd": pooled, "dof": dof, "needed_for_target": needed,
            "minutes_per_corpus": per_corpus, "affordable": affordable,
            "n": int(min(needed, affordable)) if math.isfinite(needed) else affordable}


def print_table(plan: dict, corpora: list[dict]) -> str:
    from emokit.evaluation.study import study_markdown

    text = study_markdown(plan, corpora)
    print(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=("pilot", "confirm", "table", "explore", "annotate"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--table-of", choices=("pilot", "confirm", "explore"), default="confirm")
    parser.add_argument("--regimes", nargs="+", default=None,
                        help="pilot and explore only: these regimes (the pilot fixes N, nothing "
                             "else)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="explore only: these corpus seeds")
    args = parser.parse_args(argv)
    plan = load_plan()
    rule = plan["replication"]
    measured = HERE / "measured"
    if args.phase == "table":
        corpora = json.loads((measured / f"regimes_{args.table_of}.json").read_text())["corpora"]
        print_table(load_plan(EXPLORATORY) if args.table_of == "explore" else plan, corpora)
        return 0
    if args.phase == "annotate":  # exploratory: the retrieval gain, from the runs on disk
        annotate_retrieval(measured / f"regimes_{args.table_of}.json", args.table_of)
        return 0
    if args.phase == "explore":  # not pre-registered: every number it gives is exploratory
        explore = load_plan(EXPLORATORY)
        out = measured / "regimes_explore.json"
        chosen = args.regimes or list(explore["regimes"])
        subset = dict(explore, regimes={r: explore["regimes"][r] for r in chosen})
        run_phase(subset, "explore", args.seeds or explore["replication"]["seeds"], args.jobs, out)
        print_table(explore, json.loads(out.read_text())["corpora"])
        return 0
    if args.phase == "pilot":
        out = measured / "regimes_pilot.json"
        chosen = args.regimes or list(plan["regimes"])
        subset = dict(plan, regimes={r: plan["regimes"][r] for r in chosen})
        run_phase(subset, "pilot", rule["pilot_seeds"], args.jobs, out)
        corpora = json.loads(out.read_text())["corpora"]
        print(json.dumps(choose_n(plan, corpora), indent=1))
        print_table(plan, corpora)
        return 0
    if not rule.get("n_corpora"):
        print("preregistration.yaml has no n_corpora yet: run the pilot, write N, commit, then "
              "confirm", file=sys.stderr)
        return 2
    commit = preregistration_commit()
    seeds = list(range(rule["confirmatory_seeds_start"],
                       rule["confirmatory_seeds_start"] + rule["n_corpora"]))
    out = measured / "regimes_confirm.json"
    corpora = run_phase(plan, "confirm", seeds, args.jobs, out)
    (measured / "regimes_confirm.md").write_text(print_table(plan, corpora))
    publish(plan, corpora, commit, json.loads(out.read_text()))
    return 0


def preregistration_commit() -> str:
    """The commit that last changed the pre-registration; refuses an uncommitted change (a
    confirmatory run must read a committed plan)."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()

    if git("status", "--porcelain", "--", str(PREREGISTRATION)):
        sys.exit(f"{PREREGISTRATION} has uncommitted changes: commit it before confirming")
    return git("log", "-1", "--format=%h", "--", str(PREREGISTRATION))


def publish(plan: dict, corpora: list[dict], commit: str, saved: dict) -> None:
    """The study's result for the course (``emokit/evaluation/premise_study.json``)."""
    from emokit.evaluation.study import PUBLISHED

    rule = plan["replication"]
    PUBLISHED.write_text(json.dumps({
        "preregistration_commit": commit, "n_corpora": rule["n_corpora"],
        "n_reason": rule.get("n_reason", ""), "machine": saved["machine"],
        "date": saved["date"], "plan": plan, "corpora": corpora}, indent=1, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
