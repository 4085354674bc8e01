"""Robustness of a finished (tiny, real) experiment: every run x condition, the rebuilt models
reproduce the stored predictions, reruns skip what is done, incomplete folders are refused, and
nothing under runs/ changes."""

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from emokit.core.errors import DataError, UsageError
from emokit.evaluation.robustness import CONDITIONS
from emokit.evaluation.robustness_report import paired_over_folds
from emokit.evaluation.runstore import FINAL_WEIGHTS, load_runs, run_path
from emokit.experiment import robustness
from emokit.experiment.cli import load_config
from emokit.experiment.robustness import evaluate_robustness
from emokit.experiment.runner import run_experiment

SYSTEMS = ["audio", "text", "baseline", "contrastive-infonce-0.3"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The quick preset shrunk by EMOKIT_QUICK=1, on one fold: 4 finished runs."""
    root = tmp_path_factory.mktemp("robustness")
    saved = {k: os.environ.get(k) for k in ("EMOKIT_QUICK", "EMOKIT_DATA", "EMOKIT_RESULTS")}
    os.environ.update(EMOKIT_QUICK="1", EMOKIT_DATA=str(root / "data"),
                      EMOKIT_RESULTS=str(root / "results"))
    try:
        config = load_config("quick")
        config.folds = [1]
        run_experiment(config, verbose=False)
        yield root / "results" / config.name
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _copy(experiment: Path, tmp_path: Path) -> Path:
    copy = tmp_path / experiment.name
    shutil.copytree(experiment, copy)
    return copy


@pytest.mark.slow
@pytest.mark.xdist_group("robustness")
def test_every_run_under_every_condition(tiny, tmp_path, monkeypatch):
    experiment = _copy(tiny, tmp_path)
    before = _tree_digest(experiment / "runs")
    rows = evaluate_robustness(experiment, verbose=False)
    assert _tree_digest(experiment / "runs") == before  # nothing in the runs changes
    keys = {(r["system"], r["condition"], r["level"]) for r in rows}
    assert len(rows) == len(keys) == len(SYSTEMS) * len(CONDITIONS)
    with open(experiment / "robustness.csv") as f:
        written = list(csv.DictReader(f))
    assert list(written[0])[:7] == ["system", "fold", "seed", "condition", "level", "wa", "ua"]
    assert {r["level"] for r in written if r["condition"] in ("intact", "text_missing")} == {""}
    assert {r["level"] for r in written if r["condition"] == "text_errors"} == {"10", "30", "50"}
    ua = {(r["system"], r["condition"], r["level"]): r["ua"] for r in rows}
    stored = {r["system"]: r["ua"] for r in load_runs(experiment)}
    for system in SYSTEMS:  # the rebuilt model gives the run's own test UA
        assert ua[(system, "intact", "")] == pytest.approx(stored[system], abs=1e-6)
    # a unimodal model does not read the other modality: its UA does not move
    for condition, level in CONDITIONS:
        if condition.startswith("text"):
            assert ua[("audio", condition, "" if level is None else level)] == ua[("audio", "intact", "")]
        if condition.startswith("audio"):
            assert ua[("text", condition, "" if level is None else level)] == ua[("text", "intact", "")]
    # with its only modality gone, a unimodal model predicts one class for every utterance
    assert ua[("audio", "audio_missing", "")] == pytest.approx(0.25)
    assert ua[("text", "text_missing", "")] == pytest.approx(0.25)
    # noisy features were cached per fold, condition and level
    assert len(list((experiment / "robustness" / "features").rglob("*.npz"))) == 6
    table = (experiment / "robustness.md").read_text()
    assert "| audio_noise_babble 0 dB |" in table and "Retention" in table
    assert (experiment / "plots" / "robustness.png").stat().st_size > 1000

    # a rerun evaluates nothing; a lost row is evaluated again, alone
    calls = []
    real = robustness.evaluate_run
    monkeypatch.setattr(robustness, "evaluate_run",
                        lambda config, run, fold, todo: calls.append((run.system.name, todo))
                        or real(config, run, fold, todo))
    assert evaluate_robustness(experiment, verbose=False) == rows and calls == []
    kept = [r for r in written if not (r["system"] == "baseline" and r["level"] == "30")]
    with open(experiment / "robustness.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(written[0]))
        writer.writeheader()
        writer.writerows(kept)
    again = evaluate_robustness(experiment, verbose=False)
    assert calls == [("baseline", [("text_errors", 30)])]
    assert [(r["system"], r["condition"], r["level"], r["ua"]) for r in again] == [
        (r["system"], r["condition"], r["level"], r["ua"]) for r in rows]

    # a run retrained since its rows were evaluated (its final_weights changed) is evaluated
    # again, alone; so are rows written before the weights were recorded
    with open(experiment / "robustness.csv") as f:
        written = list(csv.DictReader(f))
    digest = hashlib.sha256((run_path(experiment, "baseline", 1, 0) / FINAL_WEIGHTS)
                            .read_bytes()).hexdigest()[:16]
    assert {r["weights"] for r in written if r["system"] == "baseline"} == {digest}
    for r in written:
        if r["system"] == "baseline":
            r["weights"] = "0" * 16
        if r["system"] == "text":
            del r["weights"]
    with open(experiment / "robustness.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(written[0]))
        writer.writeheader()
        writer.writerows(written)
    calls.clear()
    again = evaluate_robustness(experiment, verbose=False)
    assert calls == [("text", list(CONDITIONS)), ("baseline", list(CONDITIONS))]
    assert [(r["system"], r["condition"], r["level"], r["ua"]) for r in again] == [
        (r["system"], r["condition"], r["level"], r["ua"]) for r in rows]


@pytest.mark.slow
@pytest.mark.xdist_group("robustness")
def test_incomplete_or_foreign_folders_are_refused(tiny, tmp_path):
    experiment = _copy(tiny, tmp_path)
    run = run_path(experiment, "baseline", 1, 0)
    (run / FINAL_WEIGHTS).rename(run / "kept.npz")
    with pytest.raises(DataError, match=f"have no {FINAL_WEIGHTS}.*runs/baseline/fold1_seed0"):
        evaluate_robustness(experiment, verbose=False)
    (run / "kept.npz").rename(run / FINAL_WEIGHTS)
    metrics = run_path(experiment, "text", 1, 0) / "metrics.json"
    metrics.rename(metrics.with_name("kept.json"))
    with pytest.raises(DataError, match="1 of 4 runs .* not finished, e.g. .*runs/text/fold1"):
        evaluate_robustness(experiment, verbose=False)
    metrics.with_name("kept.json").rename(metrics)
    config_path = run_path(experiment, "audio", 1, 0) / "config.json"
    record = json.loads(config_path.read_text())
    record["settings"]["train"]["epochs"] += 1
    config_path.write_text(json.dumps(record))
    with pytest.raises(UsageError, match="another config.*train.epochs"):
        evaluate_robustness(experiment, verbose=False)
    with pytest.raises(UsageError, match="not an experiment folder"):
        evaluate_robustness(tmp_path, verbose=False)
    assert not (experiment / "robustness.csv").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("robustness")
def test_weights_that_do_not_reproduce_the_run_are_refused(tiny, tmp_path):
    experiment = _copy(tiny, tmp_path)
    path = run_path(experiment, "baseline", 1, 0) / FINAL_WEIGHTS
    with np.load(path) as data:
        weights = {k: data[k] for k in data.files}
    last = f"w{len(weights) - 1}"  # the classifier's output bias
    weights[last] = weights[last] + np.arange(weights[last].size).reshape(weights[last].shape)
    np.savez(path, **weights)
    with pytest.raises(DataError, match="does not reproduce the run's stored predictions"):
        evaluate_robustness(experiment, verbose=False)


def test_paired_over_folds():
    a = {1: 0.6, 2: 0.7, 3: 0.65, 4: 0.8}
    b = {1: 0.5, 2: 0.65, 3: 0.6, 4: 0.7, 5: 0.9}  # fold 5: unpaired, left out
    result = paired_over_folds(a, b)
    diffs = np.array([0.1, 0.05, 0.05, 0.1])
    assert result.folds == 4 and result.mean == pytest.approx(diffs.mean())
    half = 3.182446 * diffs.std(ddof=1) / 2  # t(0.975, 3 df) * standard error
    assert (result.low, result.high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert result.p == pytest.approx(0.013847, abs=1e-5)  # scipy.stats.ttest_rel
    assert paired_over_folds({1: 0.5}, {1: 0.4}) is None


@pytest.mark.parametrize("padded", [True, False])
def test_a_run_is_rebuilt_at_the_vocabulary_size_it_was_trained_with(tmp_path, padded):
    """Runs trained since compile-once (issue 30) have a padded embedding; runs trained before it
    have one row per word: both are rebuilt with exactly their saved weights."""
    from types import SimpleNamespace

    from emokit.config import ExperimentConfig, ModelConfig
    from emokit.config.systems import parse_system
    from emokit.evaluation.robustness import Run, rebuild_model
    from emokit.evaluation.runstore import save_final_weights
    from emokit.model.emotion_model import build_model
    from emokit.training.reuse import build_run_model, padded_vocab_size
    from emokit.training.warm_start import shared_weights

    model_config = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4,
                               text_rnn_units=4, discriminator_units=8)
    vectors = np.random.default_rng(0).normal(size=(37, 6)).astype("float32")
    data = SimpleNamespace(feature_dim=5, vocab=range(37), num_classes=4,
                           embedding_matrix=vectors)
    config = ExperimentConfig(model=model_config)
    trained = (build_run_model(model_config, data, seed=3) if padded else
               build_model(model_config, 5, 37, 4, embedding_matrix=vectors, seed=3))
    for v in trained.weights:  # "training": every weight moved
        v.assign(v.numpy() + 0.25)
    saved = [v.numpy() for v in shared_weights(trained)]
    save_final_weights(tmp_path, saved)
    run = Run(parse_system("baseline"), 1, 3, tmp_path)
    rebuilt = rebuild_model(config, run, data)
    assert rebuilt.vocab_size == (padded_vocab_size(37) if padded else 37)
    for got, want in zip(shared_weights(rebuilt), saved, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.slow
def test_an_improvised_only_experiment_is_rebuilt_with_its_own_folds(tmp_path, monkeypatch):
    """Robustness (and every other caller of experiment_folds) rebuilds the folds the experiment
    made: without the scripted dialogs under corpus.improvised_only."""
    from emokit.experiment.corpus import experiment_folds, load_corpus

    monkeypatch.setenv("EMOKIT_QUICK", "1")
    monkeypatch.setenv("EMOKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("EMOKIT_RESULTS", str(tmp_path / "results"))
    config = load_config("quick")
    config.folds, config.systems, config.corpus.improvised_only = [1], ["text"], True
    run_experiment(config, verbose=False)
    experiment = tmp_path / "results" / config.name
    utterances, _ = load_corpus(config, verbose=False)
    kept, folds = experiment_folds(config, utterances)
    assert 0 < len(kept) < len(utterances)  # the mini corpus has scripted dialogs to leave out
    stored = json.loads((experiment / "folds.json").read_text())
    assert [(k, list(f.test_ids), list(f.train_ids)) for k, f in folds] == [
        (f["fold"], f["test_ids"], f["train_ids"]) for f in stored]
    rows = evaluate_robustness(experiment, verbose=False)
    assert len(rows) == len(CONDITIONS)
    intact = next(r for r in rows if r["condition"] == "intact")
    assert intact["ua"] == pytest.approx(load_runs(experiment)[0]["ua"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.xdist_group("robustness")
def test_weights_that_do_not_fit_the_runs_model_name_the_file_in_one_line(tiny, tmp_path, capsys):
    experiment = _copy(tiny, tmp_path)
    path = run_path(experiment, "baseline", 1, 0) / FINAL_WEIGHTS
    with np.load(path) as data:
        weights = {k: data[k] for k in data.files}
    last = f"w{len(weights) - 1}"  # the classifier's output bias, one class more
    weights[last] = np.append(weights[last], 0.0)
    np.savez(path, **weights)
    with pytest.raises(DataError, match=f"{path} does not fit the model.*must be retrained"):
        evaluate_robustness(experiment, verbose=False)
    capsys.readouterr()
    assert robustness.main([str(experiment)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "warm start" not in err, err


@pytest.mark.slow
@pytest.mark.xdist_group("robustness")
def test_robustness_refuses_while_another_process_holds_the_folder(tiny, tmp_path, capsys):
    """An experiment still running on the folder, or another robustness pass: one line naming
    the holder, nothing written."""
    import subprocess
    import sys
    import textwrap

    experiment = _copy(tiny, tmp_path)
    script = textwrap.dedent(f"""
        import time
        from emokit.core.lock import results_lock
        with results_lock({str(experiment)!r}):
            print("locked", flush=True)
            time.sleep(300)
    """)
    repo = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=repo, stdout=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(repo)))
    try:
        assert holder.stdout.readline().strip() == b"locked"
        assert robustness.main([str(experiment)]) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"in use by another emokit process (PID {holder.pid}" in err
    assert not (experiment / "robustness.csv").exists()
