"""The results table's aggregation, checked against values computed by hand."""

import csv
import io
import itertools
import math

import numpy as np
import pytest

from emokit.core.atomic import write_atomic
from emokit.evaluation.fold_statistics import (
    ONE_FOLD,
    bootstrap_ci,
    detectable_difference,
    folds_needed,
    mean_std,
    paired_differences,
    paired_t,
    paired_t_test,
    wilcoxon_test,
)
from emokit.evaluation.report import summarize, to_csv, to_markdown, write_report
from emokit.evaluation.runstore import load_runs


def _run(system, fold, seed, wa, ua):
    return {"system": system, "fold": fold, "seed": seed, "wa": wa, "ua": ua}


def test_mean_std_is_the_sample_std():
    mean, std = mean_std([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6)
    # sum of squared deviations 0.02, divided by n - 1 = 2
    assert std == pytest.approx(math.sqrt(0.01))
    mean, std = mean_std([0.42])
    assert mean == pytest.approx(0.42) and math.isnan(std)  # one value: no spread measured


def _exact_two_sided_p(diffs):
    """Exact Wilcoxon p by enumerating all 2^n sign assignments of the ranks (no ties)."""
    ranks = np.argsort(np.argsort(np.abs(diffs))) + 1
    w_plus = ranks[np.asarray(diffs) > 0].sum()
    total = ranks.sum()
    stat = min(w_plus, total - w_plus)
    count = sum(1 for signs in itertools.product([0, 1], repeat=len(ranks))
                if min(ranks[np.array(signs, bool)].sum(),
                       total - ranks[np.array(signs, bool)].sum()) <= stat)
    return count / 2 ** len(ranks)


def test_wilcoxon_matches_hand_computed_exact_p():
    # ranks 1..5; negative rank 3 -> W = 3; subsets of {1..5} with sum <= 3: {}, 1, 2, 3, 12
    # -> p = 2 * 5 / 32
    assert wilcoxon_test([0.01, 0.02, -0.03, 0.04, 0.05]).p_value == pytest.approx(10 / 32)
    diffs = [0.011, -0.024, 0.035, 0.047, 0.052, 0.063, -0.008]
    assert wilcoxon_test(diffs).p_value == pytest.approx(_exact_two_sided_p(diffs))


def test_wilcoxon_with_five_pairs_cannot_go_below_0_0625():
    result = wilcoxon_test([0.01, 0.02, 0.03, 0.04, 0.05])
    assert result.p_value == pytest.approx(2 / 32)
    assert "0.0625" in result.note


def test_wilcoxon_degenerate_cases_say_why():
    all_zero = wilcoxon_test([0.0, 0.0, 0.0])
    assert all_zero.p_value == 1.0 and "zero" in all_zero.note
    single = wilcoxon_test([0.03])
    assert math.isnan(single.p_value) and "1 pair" in single.note
    some_zero = wilcoxon_test([0.0, 0.01, 0.02, 0.03])
    assert "1 zero difference" in some_zero.note
    # zeros dropped, then the exact test on 3 positive pairs: 2 / 2**3
    assert some_zero.p_value == pytest.approx(0.25)
    assert "smallest possible p with 3 non-zero pairs is 0.25" in some_zero.note


def test_bootstrap_ci_of_two_values_is_their_range():
    # resampled means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5% and 97.5% percentiles are 0 and 1
    assert bootstrap_ci([0.0, 1.0], seed=3) == (0.0, 1.0)


def test_bootstrap_ci_of_constant_differences_is_a_point():
    assert bootstrap_ci([0.02] * 5) == (pytest.approx(0.02), pytest.approx(0.02))


def test_bootstrap_ci_matches_the_normal_approximation_for_many_pairs():
    rng = np.random.default_rng(1)
    diffs = rng.normal(0.03, 0.05, size=400)
    low, high = bootstrap_ci(diffs, n_resamples=20_000, seed=0)
    se = diffs.std(ddof=0) / math.sqrt(len(diffs))
    assert low == pytest.approx(diffs.mean() - 1.96 * se, abs=0.15 * se)
    assert high == pytest.approx(diffs.mean() + 1.96 * se, abs=0.15 * se)


def test_bootstrap_is_seeded():
    d = [0.01, -0.02, 0.04, 0.03, 0.0]
    assert bootstrap_ci(d, seed=5) == bootstrap_ci(d, seed=5)
    assert bootstrap_ci(d, seed=5) != bootstrap_ci(d, seed=6)


RUNS = [
    _run("baseline", 1, 0, 0.50, 0.40), _run("baseline", 2, 0, 0.60, 0.50),
    _run("baseline", 3, 0, 0.70, 0.60),
    _run("contrastive-mlp-0.1", 1, 0, 0.52, 0.43), _run("contrastive-mlp-0.1", 2, 0, 0.59, 0.55),
    _run("contrastive-mlp-0.1", 3, 0, 0.74, 0.62),
    _run("contrastive-mlp-0.1", 4, 0, 0.99, 0.99),  # no baseline partner: not paired
]


def test_paired_differences_match_by_fold_and_seed():
    np.testing.assert_allclose(paired_differences(RUNS, "contrastive-mlp-0.1", "baseline", "wa"),
                               [0.02, -0.01, 0.04])


def _t_interval(d):
    from scipy.stats import t

    d = np.asarray(d)
    half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean() - half, d.mean() + half


def test_summary_rows_by_hand():
    from scipy.stats import t

    rows = summarize(RUNS, ["baseline", "contrastive-mlp-0.1"], n_resamples=2000)
    base, con = rows
    assert base.system == "baseline" and base.n_runs == 3 and base.vs_baseline is None
    assert base.wa == (pytest.approx(0.6), pytest.approx(0.1))
    assert base.ua == (pytest.approx(0.5), pytest.approx(0.1))
    assert con.n_runs == 4 and con.n_folds == 4
    assert con.wa[0] == pytest.approx((0.52 + 0.59 + 0.74 + 0.99) / 4)
    wa = con.vs_baseline["wa"]
    assert wa.n_pairs == 3
    assert wa.mean_diff == pytest.approx(0.05 / 3)
    # diffs 0.02, -0.01, 0.04: the paired t-interval and t-test p over the 3 folds
    assert (wa.ci_low, wa.ci_high) == pytest.approx(_t_interval([0.02, -0.01, 0.04]))
    sd = np.std([0.02, -0.01, 0.04], ddof=1)
    assert wa.p_value == pytest.approx(2 * t.sf((0.05 / 3) / (sd / math.sqrt(3)), 2))
    assert wa.wilcoxon_p == pytest.approx(0.5)  # ranks 2, 1, 3; W- = 1 -> 2 * 2 / 8
    assert wa.bootstrap_low <= wa.mean_diff <= wa.bootstrap_high
    ua = con.vs_baseline["ua"]
    assert ua.mean_diff == pytest.approx((0.03 + 0.05 + 0.02) / 3)
    assert ua.detectable == pytest.approx(detectable_difference([0.03, 0.05, 0.02]))


def test_seeds_are_averaged_within_a_fold_and_folds_are_the_pairs():
    runs = []
    for fold in (1, 2, 3):
        for seed, noise in ((0, 0.01), (1, -0.03)):
            runs += [_run("baseline", fold, seed, 0.5, 0.5 + fold / 100),
                     _run("contrastive-mlp-0.1", fold, seed, 0.5, 0.5 + fold / 100
                          + fold * 0.01 + noise)]
    rows = summarize(runs, n_resamples=500)
    ua = rows[1].vs_baseline["ua"]
    per_fold = [fold * 0.01 - 0.01 for fold in (1, 2, 3)]  # the seeds' mean difference per fold
    np.testing.assert_allclose(paired_differences(runs, "contrastive-mlp-0.1", "baseline", "ua"),
                               per_fold)
    assert ua.n_pairs == 3 and rows[1].n_runs == 6 and rows[1].n_folds == 3
    assert (ua.ci_low, ua.ci_high) == pytest.approx(_t_interval(per_fold))
    assert rows[0].ua[1] == pytest.approx(np.std([0.51, 0.52, 0.53], ddof=1))  # over fold means
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert table[1]["dua_pairs"] == "3" and table[1]["n_runs"] == "6"
    assert float(table[1]["dua_ci_low"]) == pytest.approx(ua.ci_low)
    assert float(table[1]["dua_bootstrap_ci_low"]) == pytest.approx(ua.bootstrap_low)
    line = next(x for x in to_markdown(rows, "p").splitlines()
                if x.startswith("| contrastive-mlp-0.1"))
    assert "| 3 (6) |" in line


def test_one_fold_has_no_interval_p_or_detectable_and_says_why():
    runs = [_run(s, 1, seed, 0.5, 0.5 + (s != "baseline") * 0.01 * (seed + 1))
            for s in ("baseline", "contrastive-mlp-0.1") for seed in (0, 1, 2)]
    rows = summarize(runs, n_resamples=500)
    ua = rows[1].vs_baseline["ua"]
    assert ua.n_pairs == 1 and ua.mean_diff == pytest.approx(0.02)
    for value in (ua.ci_low, ua.ci_high, ua.p_value, ua.detectable, ua.folds_needed,
                  ua.bootstrap_low, ua.wilcoxon_p):
        assert math.isnan(value)
    assert ua.note == ONE_FOLD
    md = to_markdown(rows, "leave-one-session-out, folds 1 x 3 seeds")
    line = next(x for x in md.splitlines() if x.startswith("| contrastive-mlp-0.1"))
    assert "[" not in line and "+2.0 |" in line
    assert md.count(ONE_FOLD) == 1
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [table[1][f"dua_{k}"] for k in ("ci_low", "ci_high", "p", "detectable")] == [""] * 4


def test_differences_without_spread_give_no_zero_width_interval():
    result = paired_t_test([-0.01, -0.01, -0.01])
    assert math.isnan(result.ci_low) and math.isnan(result.p_value)
    assert "all 3 fold differences are equal (-1.0 points)" in result.note
    p, low, high = paired_t(np.array([[0.01, 0.01], [0.0, 0.02]]))
    assert math.isnan(p[0]) and math.isnan(low[0]) and high[1] > low[1]


def test_false_positive_rate_over_folds_stays_near_5_percent():
    """No true effect, but one that varies by fold (sd 2 points) plus seed noise (sd 1 point),
    5 folds x 3 seeds, 4000 experiments: the report's test over fold means rejects about 5% of
    the time; counting the 15 (fold, seed) runs as pairs, as the report used to, rejects far
    more often (about a quarter)."""
    rng = np.random.default_rng(0)
    n, folds, seeds = 4000, 5, 3
    diffs = (rng.normal(0, 0.02, (n, folds, 1)) + rng.normal(0, 0.01, (n, folds, seeds)))
    # the report's own aggregation, checked on the first experiments
    for k in range(3):
        runs = [_run(s, f, sd, 0.5, 0.5 + (s != "baseline") * diffs[k, f, sd])
                for s in ("baseline", "x") for f in range(folds) for sd in range(seeds)]
        np.testing.assert_allclose(paired_differences(runs, "x", "baseline", "ua"),
                                   diffs[k].mean(axis=1))
    p, low, high = paired_t(diffs.mean(axis=2))
    false_positives = np.mean(p < 0.05)
    assert 0.03 <= false_positives <= 0.08
    assert np.mean((low > 0) | (high < 0)) == pytest.approx(false_positives)
    seeds_as_pairs, _, _ = paired_t(diffs.reshape(n, folds * seeds))
    assert np.mean(seeds_as_pairs < 0.05) > 0.15  # the old way fails the same check


def test_class_absence_is_named_per_fold():
    runs = [{**_run(s, f, 0, 0.5, 0.5), "class_names": ["neutral", "happy", "angry", "sad"],
             "absent_classes": {"train": ["sad"] if f == 1 else [],
                                "test": ["angry"] if f == 2 else []}}
            for s in ("baseline", "contrastive-mlp-0.1") for f in (1, 2, 3)]
    md = to_markdown(summarize(runs, n_resamples=100), "p")
    assert md.count("- fold 2: no 'angry' in the test set; its UA is the mean recall over the "
                    "3 classes present") == 1
    assert "- fold 1: no 'sad' in the training set" in md
    assert "fold 3" not in md


def test_markdown_and_csv_tables(tmp_path):
    rows = summarize(RUNS, n_resamples=500)
    md = to_markdown(rows, "leave-one-session-out, 3 folds x 1 seed, test corpus")
    assert "leave-one-session-out, 3 folds x 1 seed" in md
    line = next(x for x in md.splitlines() if x.startswith("| contrastive-mlp-0.1"))
    assert "+1.7 [" in line  # dWA = +0.0167 in percent
    assert "| 60.0 +- 10.0 |" in next(x for x in md.splitlines() if x.startswith("| baseline"))
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["system"] for r in table] == ["baseline", "contrastive-mlp-0.1"]
    assert float(table[1]["dua_mean"]) == pytest.approx(0.1 / 3)
    assert table[0]["dwa_mean"] == ""
    write_report(rows, tmp_path, "p")
    assert (tmp_path / "report.md").read_text() == to_markdown(rows, "p")
    assert (tmp_path / "report.csv").exists() and (tmp_path / "summary.json").exists()


def test_load_runs_reads_only_finished_runs(tmp_path):
    import json

    for r in RUNS[:2]:
        write_atomic(tmp_path / "runs" / r["system"] / f"fold{r['fold']}_seed0" / "metrics.json",
                     json.dumps(r))
    (tmp_path / "runs" / "baseline" / "fold9_seed0").mkdir()  # unfinished: no metrics.json
    assert sorted(r["fold"] for r in load_runs(tmp_path)) == [1, 2]


def test_write_atomic_leaves_no_temp_files(tmp_path):
    write_atomic(tmp_path / "a" / "x.txt", "one")
    write_atomic(tmp_path / "a" / "x.txt", "two")
    assert (tmp_path / "a" / "x.txt").read_text() == "two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.txt"]


def test_wilcoxon_treats_float_noise_as_ties():
    # 45/70 - 47/70 is -2/70 up to float noise: its |d| must tie with 2/70's, not outrank it
    noisy = [45 / 70 - 47 / 70, 2 / 70, 2 / 70, 5 / 70, 6 / 70]
    assert abs(noisy[0]) != noisy[1]
    exact = [-2 / 70, 2 / 70, 2 / 70, 5 / 70, 6 / 70]
    assert wilcoxon_test(noisy).p_value == pytest.approx(wilcoxon_test(exact).p_value)


def test_detectable_difference_matches_the_paired_t_formula():
    from scipy.stats import t

    d = np.array([0.02, -0.01, 0.04, 0.00, 0.03])
    expected = (t.ppf(0.975, 4) + t.ppf(0.8, 4)) * d.std(ddof=1) / np.sqrt(5)
    assert detectable_difference(d) == pytest.approx(expected)
    assert detectable_difference(d) > abs(d.mean())  # these 5 pairs cannot resolve their mean
    assert np.isnan(detectable_difference([0.1]))


def test_folds_needed_shrinks_the_detectable_difference_below_the_target():
    sd = 0.04
    n = folds_needed(sd, 0.015)
    spread = np.array([sd, -sd] * 1000)  # sample sd close to `sd`
    assert detectable_difference(spread[: int(n)] * (sd / spread[: int(n)].std(ddof=1))) <= 0.015
    assert detectable_difference(spread[: int(n) - 1]
                                 * (sd / spread[: int(n) - 1].std(ddof=1))) > 0.015
    assert folds_needed(0.0, 0.015) == 2


def test_warm_started_systems_are_compared_with_the_continued_baseline():
    runs = []
    for fold in range(1, 6):
        runs += [_run("baseline", fold, 0, 0.50, 0.50),
                 {**_run("baseline-continued", fold, 0, 0.54, 0.54), "warm_start": True},
                 {**_run("contrastive-infonce-alpha0.1", fold, 0, 0.55 + fold / 1000,
                         0.55 + fold / 1000), "warm_start": True, "disc_acc": 0.8,
                  "disc_chance": 0.25}]
    rows = summarize(runs, ["baseline", "baseline-continued", "contrastive-infonce-alpha0.1"])
    warm = rows[2]
    assert warm.vs_baseline["ua"].mean_diff == pytest.approx(0.053)
    assert warm.vs_control["ua"].mean_diff == pytest.approx(0.013)  # the gain left to the loss
    assert rows[1].vs_control is None and rows[0].vs_baseline is None
    markdown = to_markdown(rows, "test")
    assert "against `baseline-continued`: the fair comparison" in markdown
    assert "| contrastive-infonce-alpha0.1 |" in markdown.split("fair comparison")[1]
    assert "80.0 (25.0)" in markdown  # pair accuracy and its chance level


def test_the_regularizer_plot_shows_only_the_epochs_that_were_probed():
    # train.probe_every > 1 leaves null probes in the history: the plot draws the probed epochs
    from emokit.evaluation.plots import plot_regularizer

    history = {"val_ua": [0.3, 0.4, 0.5, 0.45], "grad_ratio": [0.1, 0.2, 0.3, 0.3],
               "probe_audio_ua": [None, 0.4, None, 0.5], "probe_text_ua": [0.3, None, None, 0.6]}
    figure = plot_regularizer({"run": history})
    probe_axis = figure.axes[2]
    drawn = {line.get_label(): line.get_xydata().round(6).tolist()
             for line in probe_axis.get_lines()}
    import matplotlib.pyplot as plt

    plt.close(figure)
    assert drawn == {"run audio": [[2, 40], [4, 50]], "run text": [[1, 30], [4, 60]]}  # points


def _checked(fold, seed, ua, probe, **measures):
    return {**_run("contrastive-infonce-0.3", fold, seed, ua, ua), "probe_audio_ua": probe,
            "disc_chance": 1 / 32, **measures}


CHECKED_RUNS = [
    {**_run("baseline", 1, 0, 0.5, 0.5), "probe_audio_ua": 0.40},
    {**_run("baseline", 1, 1, 0.5, 0.5), "probe_audio_ua": 0.42},
    {**_run("baseline", 2, 0, 0.5, 0.5), "probe_audio_ua": 0.40},
    {**_run("baseline", 3, 0, 0.5, 0.5), "probe_audio_ua": 0.45},
    # solved by length (0.121 <= 0.114 + 0.01), beyond, solved, and an older run (no matcher)
    _checked(1, 0, 0.55, 0.50, disc_acc=0.121, length_matcher_acc=0.114, grad_cos_audio=0.2),
    _checked(1, 1, 0.56, 0.46, disc_acc=0.20, length_matcher_acc=0.11, grad_cos_audio=-0.1),
    _checked(2, 0, 0.52, 0.30, disc_acc=0.10, length_matcher_acc=0.12),
    _checked(3, 0, 0.51, 0.55, disc_acc=0.15),
]


def test_manipulation_checks_by_hand(tmp_path):
    from emokit.evaluation.manipulation import run_verdict

    assert [run_verdict(r) for r in CHECKED_RUNS[4:]] == [
        "solved by length", "beyond length", "solved by length", "n/a"]
    rows = summarize(CHECKED_RUNS, n_resamples=100)
    assert rows[0].checks is None  # the baseline has no pair loss
    c = rows[1].checks
    assert (c.solved_runs, c.checked_runs) == (2, 3)
    assert c.pair_acc == pytest.approx((0.121 + 0.20 + 0.10 + 0.15) / 4)
    assert c.length_acc == pytest.approx((0.114 + 0.11 + 0.12) / 3)
    assert c.probe_audio == pytest.approx((0.50 + 0.46 + 0.30 + 0.55) / 4)
    assert c.probe_audio_baseline == pytest.approx((0.40 + 0.42 + 0.40 + 0.45) / 4)
    per_fold = [(0.10 + 0.04) / 2, -0.10, 0.10]  # seeds averaged within fold 1
    low, high = _t_interval(per_fold)
    d = c.probe_difference
    assert (d.mean_diff, d.ci_low, d.ci_high) == pytest.approx((np.mean(per_fold), low, high))
    assert c.grad_cos_audio == pytest.approx(0.05) and math.isnan(c.grad_cos_text)
    markdown = to_markdown(rows, "p")
    line = next(x for x in markdown.split("Manipulation checks")[1].splitlines()
                if x.startswith("| contrastive-infonce-0.3"))
    pct = [f"{100 * x:.1f}" for x in (c.pair_acc, c.length_acc, 1 / 32, c.probe_audio,
                                      c.probe_audio_baseline)]
    assert line == (f"| contrastive-infonce-0.3 | {pct[0]} | {pct[1]} | {pct[2]} | 2 of 3 | "
                    f"{pct[3]} | {pct[4]} | {100 * np.mean(per_fold):+.1f} [{100 * low:+.1f}, "
                    f"{100 * high:+.1f}] | +0.05 | n/a |")
    assert "at most the length matcher's + 1 point" in markdown
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert float(table[1]["length_matcher_acc"]) == pytest.approx(c.length_acc)
    assert float(table[1]["dprobe_audio_ua_ci_low"]) == pytest.approx(low)
    assert (table[1]["solved_by_length_runs"], table[1]["length_checked_runs"]) == ("2", "3")
    assert table[1]["grad_cos_text"] == "" and table[0]["solved_by_length_runs"] == ""
    write_report(rows, tmp_path, "p", CHECKED_RUNS)
    verdicts = list(csv.DictReader(io.StringIO(
        (tmp_path / "manipulation_checks.csv").read_text())))
    assert [(r["fold"], r["seed"], r["verdict"], r["baseline_probe_audio_ua"])
            for r in verdicts] == [("1", "0", "solved by length", "0.4"),
                                   ("1", "1", "beyond length", "0.42"),
                                   ("2", "0", "solved by length", "0.4"),
                                   ("3", "0", "n/a", "0.45")]


def test_old_metrics_without_the_new_measures_still_report(tmp_path):
    import json

    old = [_run("baseline", f, 0, 0.5, 0.4 + f / 100) for f in (1, 2)]
    old += [{**_run("contrastive-infonce-0.3", f, 0, 0.5, 0.42), "disc_acc": 0.2,
             "disc_chance": 0.03} for f in (1, 2)]
    for r in old:
        write_atomic(tmp_path / "runs" / r["system"] / f"fold{r['fold']}_seed0" / "metrics.json",
                     json.dumps(r))
    runs = load_runs(tmp_path)
    rows = summarize(runs, n_resamples=100)
    markdown = write_report(rows, tmp_path, "p", runs)
    line = next(x for x in markdown.split("Manipulation checks")[1].splitlines()
                if x.startswith("| contrastive-infonce-0.3"))
    assert line == ("| contrastive-infonce-0.3 | 20.0 | n/a | 3.0 | n/a | n/a | n/a | n/a | n/a "
                    "| n/a |")
    table = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert table[1]["length_matcher_acc"] == "" and table[1]["dprobe_audio_ua_mean"] == ""
    no_pair_loss = summarize(old[:2], n_resamples=100)
    assert "Manipulation checks" not in write_report(no_pair_loss, tmp_path / "b", "p", old[:2])
    assert not (tmp_path / "b" / "manipulation_checks.csv").exists()


def test_the_regularizer_plot_shows_the_gradient_cosines_and_plots_older_histories():
    # old results folders have no grad_cos_* in their histories: their cosine panel stays empty
    import matplotlib.pyplot as plt

    from emokit.evaluation.plots import plot_regularizer

    old = {"val_ua": [0.3, 0.4], "grad_ratio": [0.1, 0.2], "probe_audio_ua": [0.3, 0.4],
           "probe_text_ua": [0.3, 0.5]}
    new = {**old, "grad_cos_audio": [0.2, -0.1], "grad_cos_text": [-0.3, 0.05]}
    figure = plot_regularizer({"old": old, "new": new})
    cos_axis = figure.axes[3]
    drawn = {line.get_label(): line.get_xydata().tolist() for line in cos_axis.get_lines()
             if not line.get_label().startswith("_")}
    zero = [list(line.get_ydata()) for line in cos_axis.get_lines()
            if line.get_label().startswith("_")]
    plt.close(figure)
    assert drawn == {"new audio": [[1, 0.2], [2, -0.1]], "new text": [[1, -0.3], [2, 0.05]]}
    assert zero == [[0.0, 0.0]]  # the dashed 0 line: below it the two losses conflict
    plt.close(plot_regularizer({"old": old}))


def test_the_regularizer_plot_marks_every_probed_and_monitored_epoch():
    # a probe run on one epoch only (probe_every > 1) must still show: a marker on every line
    import matplotlib.pyplot as plt

    from emokit.evaluation.plots import plot_regularizer

    history = {"val_ua": [0.3, 0.4], "grad_ratio": [0.1, 0.2], "probe_audio_ua": [None, 0.4],
               "probe_text_ua": [None, 0.5], "grad_cos_audio": [0.2, -0.1],
               "grad_cos_text": [-0.3, 0.05]}
    figure = plot_regularizer({"run": history})
    styles = [[(line.get_label(), line.get_linestyle(), line.get_marker())
               for line in ax.get_lines() if not line.get_label().startswith("_")]
              for ax in figure.axes[2:]]  # the probes, the cosines
    plt.close(figure)
    assert styles == 2 * [[("run audio", "-", "."), ("run text", "--", ".")]]


@pytest.mark.parametrize("history, said", [
    # monitoring off: pair accuracy is drawn, the gradient and probe panels say why they are empty
    ({"val_ua": [0.3, 0.4], "disc_acc": [0.2, 0.5], "disc_chance": [0.1, 0.1]},
     {1: "train.monitor was off", 2: "train.monitor was off", 3: "train.monitor was off"}),
    # a baseline with monitoring on: probes drawn, no pair loss to show
    ({"val_ua": [0.3, 0.4], "probe_audio_ua": [0.3, 0.4], "probe_text_ua": [0.2, 0.3]},
     {0: "no pair loss", 1: "no pair loss", 3: "no pair loss"}),
])
def test_an_empty_regularizer_panel_says_why(history, said):
    import matplotlib.pyplot as plt

    from emokit.evaluation.plots import plot_regularizer

    figure = plot_regularizer({"run": history})
    texts = [" ".join(t.get_text() for t in ax.texts) for ax in figure.axes]
    drawn = [any(not line.get_label().startswith("_") for line in ax.get_lines())
             for ax in figure.axes]
    plt.close(figure)
    for panel in range(4):
        if panel in said:
            assert said[panel] in texts[panel].replace("\n", " ") and not drawn[panel]
        else:
            assert texts[panel] == "" and drawn[panel]


def test_empty_monitoring_columns_get_a_note_saying_monitor_was_off():
    runs = [_run("baseline", f, 0, 0.5, 0.4 + f / 100) for f in (1, 2)]
    unmonitored = runs + [{**_run("contrastive-infonce-0.3", f, 0, 0.5, 0.42), "disc_acc": 0.2,
                           "disc_chance": 0.03} for f in (1, 2)]
    monitored = runs + [{**_run("contrastive-infonce-0.3", f, 0, 0.5, 0.42), "disc_acc": 0.2,
                         "disc_chance": 0.03, "grad_ratio": 0.5, "probe_audio_ua": 0.4,
                         "probe_text_ua": 0.5} for f in (1, 2)]
    note = "columns are empty: these runs were trained with `train.monitor: false`"
    assert note in to_markdown(summarize(unmonitored, n_resamples=100), "p")
    assert note not in to_markdown(summarize(monitored, n_resamples=100), "p")
