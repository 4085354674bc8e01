"""Runs in one process leave nothing behind (issue #20), and print no retracing warning.

Several tiny runs of ``emokit.experiment.train_and_evaluate`` (what ``run_experiment``, the
notebooks and a user's own loop call): from the second round on, neither the live TensorFlow
functions nor the resident memory may grow with every run, and TensorFlow must not warn that
emokit's per-model functions "triggered tf.function retracing".
"""

import dataclasses
import gc
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_dataset

from emokit.config import PipelineConfig

# Measured (pinned stack, loaded 2-core machine, this module's rounds of 2 tiny runs): 50 more live
# TensorFlow functions after every round (25 per run); benchmarks/memory.py, quick model: about
# 94 MB per run. A run that leaves nothing behind adds no function; the RSS bound is a guess at
# allocator noise, not yet measured against a fixed run (the leak is still open).
MAX_GROWTH_PER_RUN_MB = 8


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _live_tf_functions() -> int:
    gc.collect()
    return sum(type(o).__name__ == "AtomicFunction" for o in gc.get_objects())


def _fold():
    train = fake_dataset(32, 8, seed=0)
    return SimpleNamespace(train=train, train_in_order=train, train_by_length=train,
                           val=fake_dataset(16, 8, seed=1),
                           test=fake_dataset(16, 8, seed=2), feature_dim=FEATURE_DIM,
                           vocab=range(VOCAB_SIZE), num_classes=NUM_CLASSES,
                           embedding_matrix=None, test_ids=[f"u{i}" for i in range(16)],
                           pipeline=PipelineConfig(), train_dataset=lambda seed: train)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def three_rounds():
    """Three rounds of a baseline run (monitoring on: probes, gradient ratios) and a contrastive
    run warm-started from it, in this process -> (live TF functions per round, RSS per round,
    TensorFlow's warnings)."""
    from emokit.experiment import train_and_evaluate
    from emokit.presets import get_preset
    from emokit.systems import parse_system

    config = get_preset("quick")  # EMOKIT_QUICK=1 (conftest): tiny model
    config = dataclasses.replace(config, init_from="baseline", train=dataclasses.replace(
        config.train, epochs=1, monitor=True))
    data = _fold()
    baseline = parse_system("baseline")
    warm = parse_system("contrastive-infonce-0.3", warm_start=True)
    records = _Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(records)
    functions, rss = [], []
    try:
        for _ in range(3):
            result = train_and_evaluate(config, baseline, data, seed=0)
            train_and_evaluate(config, warm, data, seed=0, init_weights=result.final_weights)
            del result
            functions.append(_live_tf_functions())
            rss.append(_rss_mb())
    finally:
        logger.removeHandler(records)
    return functions, rss, records.messages


def test_runs_in_one_process_print_no_retracing_warning(three_rounds):
    """Each run's functions are new (new model, new variables) and traced once: TensorFlow must
    not take that for retracing of one function (issue #17)."""
    retracing = [m for m in three_rounds[2] if "retracing" in m]
    assert not retracing, retracing


@pytest.mark.xfail(strict=True, reason="issue #20 open: each run's traced training step (its "
                   "FuncGraph and about 25 functions per run) stays alive after the run, even "
                   "after keras.backend.clear_session() and gc.collect(); the holder is not found")
def test_runs_in_one_process_leave_nothing_behind(three_rounds):
    functions, rss, _ = three_rounds
    assert functions[2] <= functions[1], f"live TensorFlow functions per round: {functions}"
    growth = (rss[2] - rss[1]) / 2
    assert growth < MAX_GROWTH_PER_RUN_MB, f"{growth:.1f} MB more per run (RSS per round {rss})"


def test_same_runs_give_the_same_numbers_after_other_runs():
    """Clearing what a run leaves behind changes nothing it computes: a run after other runs in
    the same process predicts exactly what it predicts first."""
    from emokit.experiment import train_and_evaluate
    from emokit.presets import get_preset
    from emokit.systems import parse_system

    config = get_preset("quick")
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1))
    data = _fold()
    first = train_and_evaluate(config, parse_system("contrastive-infonce-0.3"), data, seed=3)
    train_and_evaluate(config, parse_system("audio"), data, seed=1)
    again = train_and_evaluate(config, parse_system("contrastive-infonce-0.3"), data, seed=3)
    np.testing.assert_array_equal(first.probs, again.probs)
    assert first.history["ce"] == again.history["ce"]
    assert [h for _, h in first.initial_weights] == [h for _, h in again.initial_weights]
