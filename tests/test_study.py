"""The pre-registered study: its plan builds valid configs, and its verdicts follow the rules it
states (Holm over the primaries, TOST for "does not help", corpora as the unit)."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from emokit.config.validation import validate_config
from emokit.evaluation import study

ROOT = Path(__file__).resolve().parent.parent


def regimes_module():
    spec = importlib.util.spec_from_file_location("regimes", ROOT / "benchmarks" / "regimes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_holm_is_the_step_down_adjustment():
    assert study.holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert study.holm([0.5, 0.001]) == [0.5, 0.002]
    adjusted = study.holm([0.02, math.nan, 0.9])
    assert adjusted[0] == 0.04 and math.isnan(adjusted[1]) and adjusted[2] == 0.9


def test_intervals_and_p_match_scipy():
    values = [1.0, 3.5, -0.5, 2.0, 4.0]
    low, high = study.t_interval(values, 0.95)
    expected = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected)
    assert study.one_sample_p(values) == pytest.approx(stats.ttest_1samp(values, 0).pvalue)


@pytest.mark.parametrize("effects, expected", [
    ([4.0, 5.0, 3.5, 4.5, 6.0, 5.0], "helps"),
    ([-4.0, -5.0, -3.5, -4.5, -6.0, -5.0], "hurts"),
    ([0.2, -0.3, 0.1, 0.0, -0.1, 0.2], "does not help"),  # 90% interval inside +-1.5
    ([3.0, -4.0, 5.0, -2.0, 1.0, -3.0], "inconclusive"),
])
def test_verdicts_follow_the_registered_rules(effects, expected):
    [result] = study.regime_verdicts({"R": effects}, {"R": "gain"}, {})
    assert result.verdict == expected
    assert result.detectable > 0


def test_holm_can_turn_a_lone_small_p_into_inconclusive():
    effects = {"A": [1.0, 2.5, 0.5, 2.0, 1.5], **{k: [5.0, -5.0, 4.0, -4.0, 0.0] for k in "BCDE"}}
    alone = study.regime_verdicts({"A": effects["A"]}, {}, {})[0]
    together = study.regime_verdicts(effects, {}, {})[0]
    assert alone.p < 0.05 and alone.verdict == "helps"
    assert together.p_holm == pytest.approx(min(1.0, 5 * alone.p))
    assert together.verdict == ("helps" if 5 * alone.p < 0.05 else "inconclusive")


def test_the_committed_plan_builds_a_valid_config_per_regime():
    regimes = regimes_module()
    plan = regimes.load_plan()
    assert set(plan["regimes"]) == {"R0", "R1", "R2", "R3", "R4"}
    for regime, spec in plan["regimes"].items():
        assert spec["prediction"] in ("gain", "no gain") and spec["metric"] in ("ua",
                                                                                 "improvised_ua")
        config = regimes.regime_config(plan, regime, 7, "pilot", 1)
        validate_config(config)
        assert config.corpus.synthetic_seed == 7 and config.systems == plan["systems"]
        for part in ("corpus", "train"):
            for key, value in (spec.get(part) or {}).items():
                assert getattr(getattr(config, part), key) == value
    r4 = regimes.regime_config(plan, "R4", 0, "pilot", 1)
    assert r4.corpus.labelled_fraction == 0.1 and r4.train.unlabelled_pairs
    assert not set(plan["replication"]["pilot_seeds"]) & set(
        range(plan["replication"]["confirmatory_seeds_start"],
              plan["replication"]["confirmatory_seeds_start"] + 100))  # pilot never reused


def test_the_study_markdown_counts_failed_corpora_and_shows_the_checks(tmp_path):
    plan = yaml.safe_load((ROOT / "benchmarks" / "preregistration.yaml").read_text())
    corpora = [{"regime": r, "corpus_seed": s, "effect": e, "disc_acc": 0.2, "disc_chance": 0.03,
                "length_matcher_acc": 0.14, "baseline_mean": 60.0}
               for r in plan["regimes"] for s, e in enumerate([1.0, 2.0, 3.0])]
    corpora.append({"regime": "R2", "corpus_seed": 9, "effect": None, "error": "boom"})
    text = study.study_markdown(plan, corpora)
    assert "| R2 | gain | 3 (+1 failed) | +2.00" in text
    assert "| R0 | 20.0 | 14.0 | 3.0 | 60.0 |" in text
    published = tmp_path / "premise_study.json"
    published.write_text(json.dumps({"preregistration_commit": "abc1234", "n_corpora": 3,
                                     "n_reason": "pilot", "machine": "x86_64, 2 cores",
                                     "date": "2026-12-05", "plan": plan, "corpora": corpora}))
    shown = study.published_study_markdown(published)
    assert shown.startswith("Pre-registered in commit `abc1234`") and "| R4 | gain | 3 |" in shown


def test_the_retrieval_gain_column_appears_with_its_interval_when_recorded():
    plan = yaml.safe_load((ROOT / "benchmarks" / "preregistration.yaml").read_text())
    corpora = [{"regime": r, "corpus_seed": s, "effect": 1.0, "retrieval_gain": g}
               for r in plan["regimes"] for s, g in enumerate([4.0, 6.0, 8.0])]
    text = study.study_markdown(plan, corpora)
    low, high = study.t_interval([4.0, 6.0, 8.0], 0.95)
    assert f"| +6.0 [{low:+.1f}, {high:+.1f}] |" in text and "retrieval gain" in text
    assert "retrieval gain" not in study.study_markdown(
        plan, [{**c, "retrieval_gain": None} for c in corpora])
