"""The experiment runner: system names, folds, pairing, results files, resume, and one real run."""

import csv
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emokit.config import ExperimentConfig
from emokit.config.systems import System, expand_systems, is_selected, parse_system, system_config
from emokit.data.manifest import Utterance
from emokit.evaluation.runstore import RunResult, load_runs, run_path
from emokit.experiment import cli, runner, runs
from emokit.experiment.cli import load_config
from emokit.experiment.runner import run_experiment, run_sweep
from emokit.training import warm_start

ROOT = Path(__file__).parent.parent
CLASSES = ["neutral", "happy", "angry", "sad"]


# --- system names ----------------------------------------------------------------------------------

def test_parse_system_names():
    assert parse_system("baseline") == System("baseline", "both")
    assert parse_system("audio") == System("audio", "audio")
    assert parse_system("contrastive-bilinear-0.30") == System(
        "contrastive-bilinear-0.3", "both", 0.3, "bilinear")
    assert parse_system("contrastive-mlp-1e-05").contrastive_weight == 1e-5
    for bad in ["contrastive", "contrastive-mlp-0", "contrastive-svm-0.1", "fusion", "text-0.1"]:
        with pytest.raises(ValueError, match="unknown system"):
            parse_system(bad)


def test_metrics_keep_the_kept_epochs_gradient_cosines():
    history = {"best_epoch": 2, "grad_ratio": [0.1, 0.2], "grad_cos_audio": [0.5, -0.25],
               "grad_cos_text": [0.1, 0.3], "val_ua": [0.4, 0.5]}
    assert runs._kept_epoch_measures(history) == {"grad_ratio": 0.2, "grad_cos_audio": -0.25,
                                                  "grad_cos_text": 0.3}

def test_expand_systems_shorthands_over_weights():
    cfg = ExperimentConfig(systems=["audio", "baseline", "contrastive", "contrastive-bilinear",
                                    "contrastive-mlp-0.1"],
                           contrastive_weights=[0.1, 1.0])
    names = [s.name for s in expand_systems(cfg)]
    assert names == ["audio", "baseline", "contrastive-infonce-0.1", "contrastive-infonce-1",
                     "contrastive-bilinear-0.1", "contrastive-bilinear-1", "contrastive-mlp-0.1"]
    for s in expand_systems(cfg):
        assert parse_system(s.name) == s  # every name round-trips


def test_alpha_names_the_papers_objective_and_old_names_say_the_new_one():
    system = parse_system("contrastive-infonce-alpha0.10")
    assert (system.name, system.objective, system.contrastive_weight) == (
        "contrastive-infonce-alpha0.1", "convex", 0.1)
    assert system_config(ExperimentConfig(), system).model.objective == "convex"
    for bad in ["contrastive-infonce-alpha1", "contrastive-infonce-alpha0", "contrastive-mine-a"]:
        with pytest.raises(ValueError, match="unknown system"):
            parse_system(bad)
    for old in ("contrastive-cosine-1", "contrastive-cosine"):
        with pytest.raises(ValueError, match="now called 'cosine_grid'"):
            expand_systems(ExperimentConfig(systems=[old]))
    cfg = ExperimentConfig(systems=["contrastive"], contrastive_weights=[0.1, 0.5])
    cfg.model.objective = "convex"
    assert [s.name for s in expand_systems(cfg)] == ["contrastive-infonce-alpha0.1",
                                                     "contrastive-infonce-alpha0.5"]


def test_warm_start_adds_the_baseline_first_and_its_continued_control():
    cfg = ExperimentConfig(systems=["contrastive", "audio"], contrastive_weights=[0.5],
                           init_from="baseline")
    systems = expand_systems(cfg)
    assert [s.name for s in systems] == ["baseline", "contrastive-infonce-0.5", "audio",
                                         "baseline-continued"]
    assert [s.warm_start for s in systems] == [False, True, False, True]
    assert systems[3].contrastive_weight == 0  # the control: same extra epochs, no pair loss


def test_system_config_sets_only_the_model_part():
    cfg = ExperimentConfig()
    con = system_config(cfg, parse_system("contrastive-bilinear-0.3"))
    assert (con.model.contrastive_weight, con.model.discriminator) == (0.3, "bilinear")
    assert system_config(cfg, parse_system("text")).model.modalities == "text"
    assert con is not cfg and cfg.model == ExperimentConfig().model  # the input is left untouched
    assert con.train == cfg.train and con.model.latent_dim == cfg.model.latent_dim


def test_config_file_overrides_the_preset(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("train:\n  epochs: 3\nseeds: [4, 5]\n")
    cfg = load_config("quick", str(path), results=str(tmp_path / "r"))
    assert cfg.train.epochs == 3 and cfg.seeds == [4, 5] and cfg.name == "mine"
    assert cfg.model.latent_dim == load_config("quick").model.latent_dim  # the rest: the preset
    assert cfg.results_dir == str(tmp_path / "r")


# --- the runner with stand-ins for corpus, pipeline and training -----------------------------------

def _corpus(per_speaker=4):
    rows = []
    for session in range(1, 6):
        for gender in "FM":
            for i in range(per_speaker):
                uid = f"Ses0{session}F_impro01_{gender}{i:03d}"
                rows.append(Utterance(uid, session, uid.rsplit("_", 1)[0], f"Ses0{session}{gender}",
                                      gender, "impro", "neu", CLASSES[i % 4], 0.0, 1.0, 3.0, 3.0,
                                      3.0, "hello", f"{uid}.wav", 1.0, 16000))
    return rows


class Stub:
    """Stands in for load_corpus / prepare_fold / train_and_evaluate and records the calls."""

    def __init__(self, monkeypatch):
        self.utterances = _corpus()
        self.labels = {u.id: CLASSES.index(u.label) for u in self.utterances}
        self.prepared, self.trained, self.init_weights = [], [], []
        monkeypatch.setattr(runner, "load_corpus",
                            lambda cfg, verbose=True: (self.utterances, {}))
        monkeypatch.setattr(runner, "prepare_fold", self.prepare_fold)
        monkeypatch.setattr(runs, "train_and_evaluate", self.train_and_evaluate)

    def prepare_fold(self, config, utterances, features, fold):
        self.prepared.append(fold.name)
        return SimpleNamespace(fold=fold, test_ids=fold.test_ids, class_names=CLASSES)

    def train_and_evaluate(self, config, system, data, seed, run_dir=None, keep_codes=False,
                           init_weights=None):
        self.trained.append((system.name, data.fold.name, seed))
        self.init_weights.append(init_weights)
        ids = list(data.test_ids)
        y = np.array([self.labels[i] for i in ids])
        rng = np.random.default_rng(zlib.crc32(f"{system.name}{data.fold.name}{seed}".encode()))
        probs = rng.dirichlet(np.ones(4), size=len(ids))
        probs[np.arange(len(ids)), y] += system.contrastive_weight  # "contrastive helps"
        codes = rng.normal(size=(len(ids), 3)) if keep_codes else None
        history = {"ce": [1.0, 0.8], "val_ua": [0.3, 0.4], "best_epoch": 2, "epochs_run": 2}
        final = None
        if system.name == "baseline" and config.init_from == "baseline":
            final = [np.array([int(data.fold.name[-1]), seed], dtype="float32")]
        return RunResult(history, ids, y, probs, codes, codes, [("w", str(seed))], f"fp{seed}",
                         final_weights=final)


@pytest.fixture
def stub(monkeypatch):
    return Stub(monkeypatch)


def _config(tmp_path, **kw):
    defaults = {"name": "stub", "results_dir": str(tmp_path), "seeds": [0, 1],
                "systems": ["baseline", "contrastive"], "contrastive_weights": [0.1, 0.5]}
    config = ExperimentConfig(**{**defaults, **kw})
    config.model.discriminator = "mlp"
    return config


def test_every_run_writes_its_files_and_the_report(tmp_path, stub, capsys):
    cfg = _config(tmp_path)
    rows = run_experiment(cfg)
    out = tmp_path / "stub"
    assert len(stub.trained) == 5 * 2 * 3
    assert sorted(set(stub.prepared)) == [f"session{s}" for s in range(1, 6)]
    assert len(stub.prepared) == 5  # one preparation per fold, shared by systems and seeds
    run = run_path(out, "contrastive-mlp-0.5", 3, 1)
    for name in ["config.json", "history.json", "predictions.csv", "confusion.csv",
                 "initial_weights.json", "metrics.json"]:
        assert (run / name).exists(), name
    assert (run_path(out, "baseline", 1, 0) / "codes.npz").exists()  # first fold and seed only
    assert not (run / "codes.npz").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    with open(run / "predictions.csv") as f:
        preds = list(csv.DictReader(f))
    correct = sum(p["true"] == p["predicted"] for p in preds)
    assert metrics["wa"] == pytest.approx(correct / len(preds))
    assert [r.system for r in rows] == ["baseline", "contrastive-mlp-0.1", "contrastive-mlp-0.5",
                                        "contrastive-mlp-selected"]
    assert rows[2].vs_baseline["ua"].n_pairs == 5  # 5 folds (x 2 seeds, averaged per fold)
    assert metrics["absent_classes"] == {"train": [], "test": []}
    printed = capsys.readouterr().out
    assert "leave-one-session-out, 5 folds x 2 seeds, built-in corpus mini" in printed
    assert (out / "report.md").read_text() in printed
    for plot in ["confusion", "learning_curves", "tsne", "lambda_sweep"]:
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000


@pytest.mark.parametrize("protocol,n_folds", [("session", 5), ("speaker", 10)])
def test_runs_never_test_on_a_training_speaker(tmp_path, stub, protocol, n_folds):
    cfg = _config(tmp_path, protocol=protocol, seeds=[0], contrastive_weights=[0.1])
    run_experiment(cfg, verbose=False)
    speaker = {u.id: u.speaker for u in stub.utterances}
    folds = json.loads((tmp_path / "stub" / "folds.json").read_text())
    assert len(folds) == n_folds
    for fold in folds:
        test = {speaker[i] for i in fold["test_ids"]}
        seen = {speaker[i] for i in fold["train_ids"] + fold["val_ids"]}
        assert test == set(fold["test_speakers"]) and not test & seen
        for system in ["baseline", "contrastive-mlp-0.1"]:
            with open(run_path(tmp_path / "stub", system, fold["fold"], 0) / "predictions.csv") as f:
                ids = [r["id"] for r in csv.DictReader(f)]
            assert ids == fold["test_ids"]  # every test utterance, each once, none other


def test_warm_started_runs_start_from_their_own_trained_baseline(tmp_path, stub):
    cfg = _config(tmp_path, folds=[1, 2], init_from="baseline", contrastive_weights=[0.5])
    rows = run_experiment(cfg, verbose=False)
    assert [r.system for r in rows] == ["baseline", "contrastive-mlp-0.5", "baseline-continued"]
    trained = list(zip(stub.trained, stub.init_weights, strict=True))
    for (system, fold, seed), init in trained:
        if system == "baseline":
            assert init is None
            continue
        earlier = [t for t, _ in trained[:trained.index(((system, fold, seed), init))]]
        assert ("baseline", fold, seed) in earlier  # its baseline was trained first
        np.testing.assert_array_equal(init[0], [int(fold[-1]), seed])  # ... and is its start
    assert rows[1].vs_control is not None and rows[2].vs_control is None
    record = json.loads((run_path(tmp_path / "stub", "baseline-continued", 2, 1)
                         / "metrics.json").read_text())
    assert record["warm_start"] and record["objective"] == "CE, from the trained baseline"
    assert "fair comparison" in (tmp_path / "stub" / "report.md").read_text()


def test_resume_redoes_only_unfinished_runs(tmp_path, stub):
    cfg = _config(tmp_path)
    run_experiment(cfg, verbose=False)
    out = tmp_path / "stub"
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/metrics.json")}
    deleted = run_path(out, "contrastive-mlp-0.1", 4, 1)
    cut_short = run_path(out, "baseline", 2, 0)
    for path in deleted.iterdir():
        path.unlink()
    deleted.rmdir()
    (cut_short / "metrics.json").unlink()  # killed before its completion marker
    stub.trained.clear()
    stub.prepared.clear()
    run_experiment(cfg, verbose=False)
    assert sorted(stub.trained) == [("baseline", "session2", 0),
                                    ("contrastive-mlp-0.1", "session4", 1)]
    assert sorted(stub.prepared) == ["session2", "session4"]  # finished folds are not prepared
    for path, mtime in before.items():
        # the selection derived from the retrained run may change; nothing else is rewritten
        if path.parent not in (deleted, cut_short,
                               run_path(out, "contrastive-mlp-selected", 4, 1)):
            assert path.stat().st_mtime_ns == mtime, path
    assert len([r for r in load_runs(out) if not is_selected(r["system"])]) == 30


def test_resume_refuses_runs_made_with_other_settings(tmp_path, stub):
    run_experiment(_config(tmp_path, seeds=[0]), verbose=False)
    changed = _config(tmp_path, seeds=[0])
    changed.train.epochs = 99
    with pytest.raises(ValueError, match="train.epochs: 30 -> 99"):
        run_experiment(changed, verbose=False)
    # more seeds or systems are fine: only the new runs are trained
    stub.trained.clear()
    run_experiment(_config(tmp_path, seeds=[0, 2]), verbose=False)
    assert {seed for _, _, seed in stub.trained} == {2}


def test_fold_selection(tmp_path, stub):
    run_experiment(_config(tmp_path, folds=[5, 2], seeds=[0]), verbose=False)
    assert sorted(set(stub.prepared)) == ["session2", "session5"]
    assert "leave-one-session-out, folds 2, 5 x 1 seed" in (tmp_path / "stub" / "report.md").read_text()
    with pytest.raises(ValueError, match="folds 1..5"):
        run_experiment(_config(tmp_path, folds=[6]), verbose=False)


def test_sweep_runs_one_experiment_per_value(tmp_path, stub):
    cfg = _config(tmp_path, seeds=[0], contrastive_weights=[0.1], name="sweep")
    sweep = run_sweep(cfg, "corpus.text_disagreement", [0.0, 0.3], verbose=False)
    assert [v for v, _ in sweep] == [0.0, 0.3]
    assert (tmp_path / "sweep" / "text_disagreement=0.3" / "report.md").exists()
    with pytest.raises(ValueError, match="unknown setting"):
        run_sweep(cfg, "corpus.no_such_knob", [1], verbose=False)


def test_selected_system_takes_the_weight_of_best_validation_ua(tmp_path, stub, monkeypatch):
    """``contrastive-mlp-selected`` reports, per fold and seed, the test numbers of the weight
    whose validation UA at the kept epoch is best (not the best epoch's of any run, not the best
    on test), records the choice, and the report says best-on-test is optimistic."""
    real = stub.train_and_evaluate

    def varied(config, system, data, seed, *args, **kwargs):
        result = real(config, system, data, seed, *args, **kwargs)
        fold = int(data.fold.name[-1])
        kept = 0.6 if system.contrastive_weight == (0.1 if (fold + seed) % 2 else 0.5) else 0.4
        # epoch 1 scored higher, but the run kept epoch 2: its validation UA is `kept`
        result.history = {"ce": [1.0, 0.8], "val_ua": [0.9, kept], "best_epoch": 2,
                          "epochs_run": 2}
        return result

    monkeypatch.setattr(runs, "train_and_evaluate", varied)
    cfg = _config(tmp_path)
    rows = run_experiment(cfg, verbose=False)
    out = tmp_path / "stub"
    assert rows[-1].system == "contrastive-mlp-selected" and rows[-1].n_runs == 10
    for fold in range(1, 6):
        for seed in (0, 1):
            record = json.loads((run_path(out, "contrastive-mlp-selected", fold, seed)
                                 / "metrics.json").read_text())
            weight = 0.1 if (fold + seed) % 2 else 0.5
            chosen = json.loads((run_path(out, f"contrastive-mlp-{weight:g}", fold, seed)
                                 / "metrics.json").read_text())
            assert record["selected_weight"] == weight
            assert record["selected_system"] == f"contrastive-mlp-{weight:g}"
            assert record["candidates_val_ua"][record["selected_system"]] == 0.6
            assert (record["wa"], record["ua"], record["confusion"]) == (
                chosen["wa"], chosen["ua"], chosen["confusion"])
    report = (out / "report.md").read_text()
    assert "contrastive-mlp-selected: per fold and seed, the weight with the best validation UA" in report
    assert "optimistic" in report
    assert (out / "plots" / "lambda_sweep.png").exists()


# --- real models -----------------------------------------------------------------------------------

def test_paired_runs_start_from_the_same_shared_weights():
    from emokit.config import ModelConfig
    from emokit.model.emotion_model import build_model

    def fingerprint(weight, seed, discriminator="mlp"):
        cfg = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4,
                          text_rnn_units=4, discriminator_units=4, contrastive_weight=weight,
                          discriminator=discriminator)
        model = build_model(cfg, feature_dim=6, vocab_size=20, num_classes=4, seed=seed)
        return warm_start.shared_fingerprint(model), warm_start.weight_hashes(model)

    base, base_hashes = fingerprint(0.0, seed=3)
    con, con_hashes = fingerprint(0.5, seed=3, discriminator="bilinear")
    assert base == con == fingerprint(0.1, seed=3)[0]
    # the same values weight by weight outside the discriminator (its last weights differ)
    outside = [h for p, h in base_hashes if not p.startswith("discriminator")]
    assert outside == [h for p, h in con_hashes if not p.startswith("discriminator")]
    assert len(outside) > 10 and len(set(outside)) > 10
    assert base != fingerprint(0.0, seed=4)[0]


def _tiny(weight=0.0, seed=0, discriminator="infonce"):
    from emokit.config import ModelConfig
    from emokit.model.emotion_model import build_model

    cfg = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4, text_rnn_units=4,
                      discriminator_units=4, contrastive_weight=weight,
                      discriminator=discriminator)
    return build_model(cfg, feature_dim=6, vocab_size=20, num_classes=4, seed=seed)


def test_warm_start_reinit_loads_the_encoders_and_keeps_the_seeds_classifier():
    trained = [v.numpy() for v in warm_start.shared_weights(_tiny(seed=5))]  # "the baseline"
    regularized, control = _tiny(0.5, seed=3), _tiny(0.0, seed=3)
    fresh = [v.numpy() for v in regularized.classifier.weights]
    for model in (regularized, control):
        warm_start.warm_start(model, trained, "reinit")
    assert (warm_start.shared_fingerprint(regularized)
            == warm_start.shared_fingerprint(control))  # the control stays fair
    by_id = {id(v): w for v, w in zip(warm_start.shared_weights(regularized), trained)}
    for v in regularized.audio_encoder.weights + regularized.text_encoder.weights:
        np.testing.assert_array_equal(v.numpy(), by_id[id(v)])
    for v, before in zip(regularized.classifier.weights, fresh, strict=True):
        np.testing.assert_array_equal(v.numpy(), before)  # the seed's initial classifier
    copied = _tiny(0.5, seed=3)
    warm_start.warm_start(copied, trained, "copy")  # every shared weight, the classifier too
    classifier = {id(v) for v in copied.classifier.weights if v.trainable}
    pairs = [(v, w) for v, w in zip(warm_start.shared_weights(copied), trained)
             if id(v) in classifier]
    assert pairs and all(np.array_equal(v.numpy(), w) for v, w in pairs)
    assert not np.array_equal(pairs[0][1], fresh[0])


class _Trained(Exception):
    pass


def test_the_run_seed_sets_the_data_order_and_paired_runs_share_it(monkeypatch):
    import emokit.training.loop
    from emokit.config import PipelineConfig
    from emokit.data.pipeline import Examples, make_dataset

    rng = np.random.default_rng(0)
    examples = Examples(audio=[rng.normal(size=(20 + k, 6)).astype("float32") for k in range(40)],
                        tokens=[np.array([k % 19 + 1], "int32") for k in range(40)],
                        labels=(np.arange(40) % 4).astype("int32"))
    pipeline = PipelineConfig(batch_size=8)
    fold = SimpleNamespace(feature_dim=6, vocab=list(range(20)), num_classes=4, val=None,
                           train_in_order=None, train_by_length=None,
                           embedding_matrix=None, pipeline=pipeline,
                           train_dataset=lambda seed: make_dataset(
                               examples, dataclasses.replace(pipeline, shuffle_seed=seed), True))

    def first_epoch(model, train_ds, *args, **kwargs):
        raise _Trained(np.concatenate([x["tokens"][:, 0] for x, _ in train_ds]))

    monkeypatch.setattr(emokit.training.loop, "fit", first_epoch)
    config = ExperimentConfig()
    config.model.discriminator = "mlp"

    def order(system, seed):
        with pytest.raises(_Trained) as seen:
            runs.train_and_evaluate(config, parse_system(system), fold, seed)
        return seen.value.args[0]

    np.testing.assert_array_equal(order("baseline", 1), order("contrastive-mlp-0.5", 1))
    assert not np.array_equal(order("baseline", 0), order("baseline", 1))


def _quick_env(tmp_path):
    return dict(os.environ, EMOKIT_QUICK="1", EMOKIT_DATA=str(tmp_path / "data"),
                EMOKIT_RESULTS=str(tmp_path / "results"), MPLBACKEND="Agg",
                TF_CPP_MIN_LOG_LEVEL="2")


@pytest.mark.slow
def test_quick_experiment_killed_and_resumed_end_to_end(tmp_path, monkeypatch):
    """The README's command in quick mode, killed after its first finished run, then resumed:
    the finished runs are kept, the rest are trained, and the paired runs share initial weights."""
    env = _quick_env(tmp_path)
    out = tmp_path / "results" / "quick-quickmode"
    proc = subprocess.Popen([sys.executable, "-m", "emokit.experiment", "--preset", "quick"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not list(out.glob("runs/*/*/metrics.json")):
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no run finished in 10 minutes"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished_before = {p.parent for p in out.glob("runs/*/*/metrics.json")}
    names = [s.name for s in expand_systems(load_config("quick"))]
    total = 5 * len(names)
    assert 1 <= len(finished_before) < total

    for key in ("EMOKIT_QUICK", "EMOKIT_DATA", "EMOKIT_RESULTS"):
        monkeypatch.setenv(key, env[key])
    trained = []
    real = runs.train_and_evaluate

    def counting(config, system, data, seed, *args, **kwargs):
        trained.append((system.name, data.test_ids[0]))
        return real(config, system, data, seed, *args, **kwargs)

    monkeypatch.setattr(runs, "train_and_evaluate", counting)
    assert cli.main(["--preset", "quick"]) == 0
    finished = load_runs(out)
    assert len(finished) == total and len(trained) == total - len(finished_before)
    with open(out / "report.csv") as f:
        assert [r["system"] for r in csv.DictReader(f)] == names
    by_pair = {}
    for r in finished:
        assert 0.0 <= r["wa"] <= 1.0 and 0.0 <= r["ua"] <= 1.0
        if r["system"] not in ("audio", "text"):  # unimodal models have other weights
            by_pair.setdefault((r["fold"], r["seed"]), set()).add(r["shared_fingerprint"])
    assert len(by_pair) == 5 and all(len(f) == 1 for f in by_pair.values())
    speakers = {}
    for fold in json.loads((out / "folds.json").read_text()):
        speakers[fold["fold"]] = set(fold["test_speakers"])
        with open(run_path(out, "baseline", fold["fold"], 0) / "predictions.csv") as f:
            assert {r["id"] for r in csv.DictReader(f)} == set(fold["test_ids"])
    assert set().union(*speakers.values()) and all(
        not a & b for i, a in speakers.items() for j, b in speakers.items() if i != j)
    assert (out / "report.md").exists() and (out / "plots" / "tsne.png").exists()


@pytest.fixture(scope="module")
def paper_quickmode(tmp_path_factory):
    """The paper preset shrunk by EMOKIT_QUICK=1, one fold, two alphas, run in this process
    (``jobs: 1``): ``(its folder, its config, its table rows)``."""
    root = tmp_path_factory.mktemp("paper")
    env = _quick_env(root)
    with pytest.MonkeyPatch.context() as patch:
        for key in ("EMOKIT_QUICK", "EMOKIT_DATA", "EMOKIT_RESULTS"):
            patch.setenv(key, env[key])
        config = load_config("paper")
        config.folds, config.contrastive_weights = [1], [0.1, 0.5]
        rows = run_experiment(config, verbose=False)
    return root / "results" / "paper-quickmode", config, rows


@pytest.mark.xdist_group("paper_quickmode")
def test_paper_preset_in_quick_mode_warm_starts_against_its_control(paper_quickmode):
    """The paper's setup end to end (shrunk by EMOKIT_QUICK=1, one fold, two alphas): InfoNCE,
    the convex objective, regularized runs and the continued baseline both warm-started from
    the trained baseline, and a report that names the fair comparison."""
    out, config, rows = paper_quickmode
    assert (config.model.discriminator, config.model.objective, config.init_from,
            config.warm_start_classifier) == ("infonce", "convex", "baseline", "reinit")
    names = ["baseline", "contrastive-infonce-alpha0.1", "contrastive-infonce-alpha0.5",
             "baseline-continued"]
    assert [r.system for r in rows] == names[:3] + ["contrastive-infonce-selected", names[3]]
    records = {r["system"]: r for r in load_runs(out)}
    warm = {records[n]["shared_fingerprint"] for n in names[1:]}
    assert len(warm) == 1  # all three start from the same trained baseline ...
    assert warm != {records["baseline"]["shared_fingerprint"]}  # ... not from its initial weights
    assert records["contrastive-infonce-alpha0.1"]["objective"] == (
        "0.9 CE + 0.1 L (infonce), from the trained baseline")
    assert 0 < records["contrastive-infonce-alpha0.5"]["disc_chance"] < 0.2  # instance pairing
    assert rows[1].vs_control["ua"].n_pairs == 1
    assert math.isnan(rows[1].vs_control["ua"].ci_low)  # one fold: no interval, never zero-width
    report = (out / "report.md").read_text()
    # the weight chosen on validation, reported beside the control, from the chosen run
    selected = next(r for r in rows if r.system == "contrastive-infonce-selected")
    assert selected.vs_control is not None and selected.vs_baseline is not None
    record = json.loads((run_path(out, "contrastive-infonce-selected", 1, 0)
                         / "metrics.json").read_text())
    assert record["selected_weight"] in (0.1, 0.5)
    assert record["ua"] == records[record["selected_system"]]["ua"]
    assert "| contrastive-infonce-selected |" in report.split("fair comparison")[1]
    assert "Warm-started systems against `baseline-continued`: the fair comparison" in report
    assert (out / "plots" / "regularizer.png").exists()


@pytest.mark.xdist_group("paper_quickmode")
def test_two_jobs_give_the_numbers_of_one(paper_quickmode, tmp_path, monkeypatch, capsys):
    """``jobs: 2`` trains the runs in two worker processes, the warm-started ones after their
    baseline, with the progress lines in this process, and every run's predictions and metrics
    equal the in-process (``jobs: 1``) run's. Both use the same intra-op thread count: float
    results change in their last digits with it (TF_NUM_INTRAOP_THREADS sets the workers')."""
    import tensorflow as tf

    from emokit.experiment.parallel import usable_cores

    reference, config, _ = paper_quickmode
    for key in ("EMOKIT_QUICK", "EMOKIT_DATA"):
        monkeypatch.setenv(key, str(_quick_env(reference.parent.parent)[key]))
    threads = tf.config.threading.get_intra_op_parallelism_threads() or usable_cores()
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", str(threads))  # this process's count
    parallel = dataclasses.replace(config, jobs=2, contrastive_weights=[0.1],
                                   results_dir=str(tmp_path))
    run_experiment(parallel, verbose=True)
    printed = capsys.readouterr().out
    assert f"3 runs in 2 worker processes, each with {threads} intra-op thread" in printed
    names = ["baseline", "contrastive-infonce-alpha0.1", "baseline-continued"]
    finished = [line.split()[0] for line in printed.splitlines()
                if re.match(r"\S+ +fold 1 seed 0: WA", line)]
    assert finished[0] == "baseline" and sorted(finished) == sorted(names)
    for name in names:
        ours, theirs = (run_path(root, name, 1, 0) for root in (tmp_path / config.name,
                                                                 reference))
        assert (ours / "predictions.csv").read_text() == (theirs / "predictions.csv").read_text()
        ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (ours, theirs))
        assert ours.pop("seconds") > 0 and theirs.pop("seconds") > 0
        assert ours == theirs, name


# --- issue 15: IEMOCAP's scripted overlap ----------------------------------------------------------

def _scripted_corpus(stub):
    """The stub corpus with every second turn in a scripted dialog whose line recurs in every
    session (``line 1``, ``line 3``), improvised turns each saying something new."""
    rows = []
    for u in stub.utterances:
        number = int(u.id[-3:])
        if number % 2:
            uid = u.id.replace("impro01", "script01_1")
            u = Utterance(uid, u.session, uid.rsplit("_", 1)[0], u.speaker, u.gender, "script",
                          u.raw_label, u.label, 0.0, 1.0, 3.0, 3.0, 3.0, f"Line {number}.",
                          f"{uid}.wav", 1.0, 16000)
        else:
            u = Utterance(*[getattr(u, f) for f in ("id", "session", "dialog", "speaker",
                                                     "gender", "mode", "raw_label", "label",
                                                     "start", "end", "valence", "arousal",
                                                     "dominance")],
                          f"something new {u.id}", u.wav, 1.0, 16000)
        rows.append(u)
    stub.utterances = rows
    stub.labels = {u.id: CLASSES.index(u.label) for u in rows}


def test_folds_json_and_report_state_the_scripted_overlap(tmp_path, stub):
    _scripted_corpus(stub)
    run_experiment(_config(tmp_path, seeds=[0], systems=["baseline"]), verbose=False)
    out = tmp_path / "stub"
    for fold in json.loads((out / "folds.json").read_text()):
        assert fold["seen_transcript_scripted"] == 1.0
        assert fold["seen_transcript_improvised"] == 0.0
        assert fold["seen_transcript"] == 0.5 and fold["test_scripted"] == 4
        assert fold["scripted_test_ids"] == [i for i in fold["test_ids"] if "script" in i]
    report = (out / "report.md").read_text()
    assert ("test transcripts seen verbatim in training: 50% (scripted 100%, improvised 0%"
            in report.splitlines()[0])
    assert "| system | UA improvised % | UA scripted % |" in report
    split = report[report.index("| system | UA improvised % |"):]
    assert re.search(r"\| baseline \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \| 5 \|", split)


def test_improvised_only_leaves_scripted_dialogs_out_of_every_fold(tmp_path, stub):
    _scripted_corpus(stub)
    cfg = _config(tmp_path, seeds=[0], systems=["baseline"])
    cfg.corpus.improvised_only = True
    run_experiment(cfg, verbose=False)
    out = tmp_path / "stub"
    for fold in json.loads((out / "folds.json").read_text()):
        ids = fold["train_ids"] + fold["val_ids"] + fold["test_ids"]
        assert ids and not [i for i in ids if "script" in i]
        assert fold["seen_transcript_scripted"] is None and fold["test_scripted"] == 0
    report = (out / "report.md").read_text()
    assert "improvised dialogs only" in report.splitlines()[0]
    assert "UA scripted" not in report


def test_a_full_results_disk_is_one_line_and_the_rerun_resumes(tmp_path, stub, monkeypatch):
    import errno

    from emokit.core.atomic import StorageError

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "stub" / "report.md"))

    real = runner.write_report
    monkeypatch.setattr(runner, "write_report", full_disk)
    cfg = _config(tmp_path, seeds=[0], folds=[1])
    with pytest.raises(StorageError, match=r"cannot write results in .*stub \(the disk is full: "
                                           r".*report\.md\)\. Free space there") as err:
        run_experiment(cfg, verbose=False)
    assert "\n" not in str(err.value)
    trained = len(stub.trained)
    monkeypatch.setattr(runner, "write_report", real)
    run_experiment(cfg, verbose=False)
    assert len(stub.trained) == trained  # every finished run was kept
    assert (tmp_path / "stub" / "report.md").exists() and not list(tmp_path.rglob("*.tmp"))
