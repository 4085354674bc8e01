"""One run: one system trained on one fold with one seed, tested, and written to its folder.

Runs of one fold and seed are paired: they see the same fold data in the same order (the seed sets
the data order too, :func:`emokit.data.pipeline.data_order_seed`) and start from the same initial
weights (``build_model`` with the same seed, :func:`emokit.training.reuse.build_run_model`), or, warm-started, from the trained baseline of their
fold and seed (:mod:`emokit.training.warm_start`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from emokit.config import ExperimentConfig
from emokit.config.systems import BASELINE, System, describe_objective, system_config
from emokit.data.pipeline import data_order_seed
from emokit.evaluation.runstore import (
    CHECKPOINT,
    RunResult,
    experiment_dir,
    load_final_weights,
    run_path,
    save_run,
    start_run,
)
from emokit.training.warm_start import shared_fingerprint, shared_weights, warm_start, weight_hashes

# History values recorded in metrics.json at the kept (best) epoch: what the regularizer did.
_KEPT_EPOCH_MEASURES = ("disc_acc", "disc_chance", "grad_ratio", "grad_cos_audio", "grad_cos_text",
                        "pair_scale", "probe_audio_ua", "probe_text_ua")


def _kept_epoch_measures(history: dict) -> dict:
    best = history.get("best_epoch", -1)
    if best < 1:
        return {}
    return {k: float(history[k][best - 1]) for k in _KEPT_EPOCH_MEASURES
            if len(history.get(k, [])) >= best}


def length_matcher_measures(model_config, fold_data, seed: int, history: dict) -> dict:
    """``{"length_matcher_acc"}``: the pair accuracy a matcher reading only lengths gets on the
    kept epoch's training batches (:mod:`emokit.training.length_matcher`), beside that epoch's
    ``disc_acc``; ``{}`` where it does not apply (no pair loss, a kind other than InfoNCE with
    instance pairing, no kept epoch)."""
    from emokit.training.length_matcher import fold_length_matcher_accuracy

    best = history.get("best_epoch", -1)
    if (model_config.contrastive_weight <= 0 or model_config.discriminator != "infonce"
            or model_config.pairing != "instance" or best < 1):
        return {}
    order = data_order_seed(fold_data.pipeline, seed)
    return {"length_matcher_acc": fold_length_matcher_accuracy(fold_data, order, best - 1,
                                                               model_config.symmetric)}


def code_measures(model, audio, text, labels, train_audio,
                  train_text) -> tuple[dict, np.ndarray | None]:
    """Cross-modal retrieval of emotion on test-set codes ``(n, d)`` through the same post-hoc
    map for every system, fitted on the run's own training-set codes ``(m, d)``
    (:func:`emokit.training.probes.mapped_retrieval_accuracy`), with its chance level -> ``(measures,
    audio codes as the discriminator compares them (projected, for infonce and cosine_grid; for
    the t-SNE plot) or None)``."""
    from emokit.training.probes import mapped_retrieval_accuracy, retrieval_chance

    if audio is None or text is None:
        return {}, None
    aligned = None
    if model.contrastive_weight > 0:
        projected = np.asarray(model.discriminator.project(audio), dtype="float32")
        aligned = projected if projected.shape != audio.shape or not np.array_equal(
            projected, audio) else None
    return ({"retrieval": mapped_retrieval_accuracy(train_audio, train_text, audio, text, labels),
             "retrieval_chance": retrieval_chance(labels)}, aligned)


def train_and_evaluate(config: ExperimentConfig, system: System, fold_data, seed: int,
                       run_dir: Path | None = None, keep_codes: bool = False,
                       init_weights: list | None = None) -> RunResult:
    """Build ``system``'s model with ``seed`` (its shared weights then set to ``init_weights``,
    a trained baseline's, for a warm start: see ``ExperimentConfig.warm_start_classifier``),
    train it on the fold in the data order of ``seed`` (:func:`emokit.data.pipeline.data_order_seed`),
    and test it. With
    ``run_dir``, training checkpoints every epoch to ``run_dir/checkpoint`` (and resumes from
    it), and TensorBoard logs (when ``train.tensorboard_dir`` is set) go to a folder of their own
    per run; with ``keep_codes``, the result holds the latent codes of the test set."""
    from emokit.training.forward import encode_dataset, heldout_pair_accuracy, predict_dataset
    from emokit.training.loop import fit, release_run_state
    from emokit.training.reuse import build_run_model

    cfg = system_config(config, system)
    model = build_run_model(cfg.model, fold_data, seed)  # compiled already after the first run
    if init_weights is not None:
        warm_start(model, init_weights, config.warm_start_classifier)
    initial = weight_hashes(model)
    fingerprint = shared_fingerprint(model)
    train = dataclasses.replace(cfg.train, seed=seed, verbose=0)
    if run_dir is not None:
        train.checkpoint_dir = str(run_dir / CHECKPOINT)
        if train.tensorboard_dir:
            train.tensorboard_dir = str(Path(train.tensorboard_dir) / run_dir.parent.name
                                        / run_dir.name)
    train_ds = fold_data.train_dataset(data_order_seed(fold_data.pipeline, seed))
    history = fit(model, train_ds, fold_data.val, train,
                  probe_train_ds=fold_data.train_by_length)
    y_true, probs = predict_dataset(model, fold_data.test)
    audio, text, labels = encode_dataset(model, fold_data.test)
    train_audio = train_text = None
    if audio is not None and text is not None:  # the retrieval map is fitted on training codes
        train_audio, train_text, _ = encode_dataset(model, fold_data.train_in_order)
    measures, aligned = code_measures(model, audio, text, labels, train_audio, train_text)
    measures.update(_kept_epoch_measures(history))
    measures.update(length_matcher_measures(cfg.model, fold_data, seed, history))
    measures.update(heldout_pair_accuracy(model, fold_data.test))  # memorized, or shared?
    if getattr(fold_data, "coverage", None) is not None:  # stored beside the scores it explains
        measures["word_vector_type_coverage"] = fold_data.coverage.type_rate
        measures["word_vector_token_coverage"] = fold_data.coverage.token_rate
    # Every run keeps its trained weights (small): warm starts start from the baseline's, and
    # emokit.evaluation.robustness rebuilds any run's model from them.
    final = [v.numpy() for v in shared_weights(model)]
    del model
    release_run_state()
    return RunResult(history, list(fold_data.test_ids), np.asarray(y_true), np.asarray(probs),
                     audio if keep_codes else None, text if keep_codes else None, initial,
                     fingerprint, measures, aligned if keep_codes else None, final)


def _run_record(config: ExperimentConfig, system: System, fold_number: int, fold,
                seed: int) -> dict:
    """What names one run (``config.json`` and ``metrics.json``)."""
    return {"system": system.name, "fold": fold_number, "fold_name": fold.name, "seed": seed,
            "objective": describe_objective(system, config.model.pair_loss_scaling),
            "warm_start": system.warm_start,
            "test_speakers": list(fold.test_speakers), "val_speakers": list(fold.val_speakers),
            "model": dataclasses.asdict(system_config(config, system).model)}


def absent_classes(utterances, fold, class_names: list[str]) -> dict[str, list[str]]:
    """The classes of ``class_names`` with no utterance in ``fold``'s training set and in its
    test set: ``{"train": [...], "test": [...]}`` (the report names them per fold)."""
    label = {u.id: u.label for u in utterances}
    return {part: [c for c in class_names if c not in {label[i] for i in ids}]
            for part, ids in (("train", fold.train_ids), ("test", fold.test_ids))}


def train_one_run(config: ExperimentConfig, utterances, data, fold_number: int, fold, seed: int,
                  system: System, run_dir: Path, keep_codes: bool) -> dict:
    """Train and test one (system, fold, seed) run on the prepared fold ``data`` and write its
    folder (:func:`emokit.evaluation.runstore.save_run`): a warm-started system starts from the trained
    baseline of its fold and seed, which must be finished. Returns its ``metrics.json`` record."""
    start = time.perf_counter()
    record = _run_record(config, system, fold_number, fold, seed)
    start_run(run_dir, config, record)
    init = (load_final_weights(run_path(experiment_dir(config), BASELINE, fold_number, seed))
            if system.warm_start else None)
    result = train_and_evaluate(config, system, data, seed, run_dir, keep_codes, init)
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["absent_classes"] = absent_classes(utterances, fold, data.class_names)
    for key in ("test_speakers", "val_speakers", "model"):
        record.pop(key)
    return save_run(run_dir, record, result, data.class_names)


def finished_line(record: dict) -> str:
    return (f"{record['system']:<28} fold {record['fold']} seed {record['seed']}: "
            f"WA {record['wa']:.3f} UA {record['ua']:.3f} ({record['epochs']} epochs, "
            f"{record['seconds']:.1f} s)")
